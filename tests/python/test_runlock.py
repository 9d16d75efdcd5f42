"""One run at a time per warehouse: a second `extract` waits a bounded time, then exits with a
clear message; on both targets, with real processes (issue #16: an overlapping cron)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from genesys_finance.cli import main
from genesys_finance.runlock import RunLockBusy
from genesys_finance.settings import Settings
from genesys_finance.warehouse import warehouse_for
from sim_fixtures import StartSimulator, request_log
from test_extract_support import (
    assert_exact,
    cli_env,
    expected_conversations,
    submissions_by_interval,
)

HOLDER = """
import sys
from genesys_finance.settings import Settings
from genesys_finance.warehouse import warehouse_for
with warehouse_for(Settings.from_env()).run_lock(wait_s=5):
    print("held", flush=True)
    sys.stdin.readline()
"""


def _settings(warehouse: Settings) -> Settings:
    # cli_env needs an API; nothing here reaches it (the lock comes first).
    return Settings(
        **{**warehouse.__dict__, "api_url": "http://127.0.0.1:9", "login_url": "http://127.0.0.1:9"}
    )


@contextmanager
def _held_by_another_process(settings: Settings) -> Iterator[subprocess.Popen[str]]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        env=cli_env(settings),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        if holder.poll() is None:
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait(timeout=30)


def test_second_extract_exits_with_a_clear_message(
    warehouse: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(warehouse)
    for key, value in cli_env(settings).items():
        monkeypatch.setenv(key, value)
    with _held_by_another_process(settings):
        started = time.monotonic()
        status = main(
            ["extract", "--start", "2024-05-01", "--end", "2024-05-02", "--lock-wait", "1"]
        )
        waited = time.monotonic() - started
    assert status == 1
    err = capsys.readouterr().err
    assert "another genesys-finance run is using this warehouse" in err
    assert "--lock-wait" in err and "waited 1 s" in err
    assert 0.9 <= waited < 10


@pytest.mark.parametrize(
    "command",
    [["load-cdrs", "no-such-file.csv"], ["build", "--select", "stg_genesys__queues"]],
    ids=["load-cdrs", "build"],
)
def test_cdr_loads_and_builds_take_the_run_lock_too(
    command: list[str],
    warehouse: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A build between two parts of a CDR load (or while an extract writes) could move an
    incremental model's watermark past lines not yet committed: neither starts while a run
    holds the warehouse (the lock comes before the file is read or dbt is started)."""
    settings = _settings(warehouse)
    for key, value in cli_env(settings).items():
        monkeypatch.setenv(key, value)
    with _held_by_another_process(settings):
        status = main([*command, "--lock-wait", "0.5"])
    assert status == 1
    err = capsys.readouterr().err
    assert f"genesys-finance {command[0]}: another genesys-finance run" in err


def test_second_run_waits_for_the_first_to_finish(warehouse: Settings) -> None:
    settings = _settings(warehouse)
    with _held_by_another_process(settings) as holder:
        assert holder.stdin is not None
        release = threading.Timer(1.0, holder.stdin.close)
        release.start()
        started = time.monotonic()
        with warehouse_for(settings).run_lock(wait_s=20):
            waited = time.monotonic() - started
        release.join()
    assert 0.8 <= waited < 15


def test_lock_is_reentrant_in_a_thread_and_exclusive_across_threads(warehouse: Settings) -> None:
    lock = warehouse_for(warehouse)
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            with lock.run_lock(wait_s=0.5):
                pass
        except BaseException as exc:
            errors.append(exc)

    with lock.run_lock(wait_s=1), lock.run_lock(wait_s=1):  # `run` holds it, `extract` again
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert len(errors) == 1 and isinstance(errors[0], RunLockBusy)
    with lock.run_lock(wait_s=1):  # released at the end of the outer block
        pass


def test_two_extracts_at_once_submit_each_job_once(
    simulator: StartSimulator, warehouse: Settings
) -> None:
    """An overlapping cron: two `extract` processes on one warehouse. One runs, the other exits
    with the message; each interval's job is submitted once and every conversation lands once."""
    sim = simulator(conversations_per_day=30, job_delay_s=2.0)
    settings = replace(warehouse, api_url=sim.base_url, login_url=sim.base_url)
    command = [
        str(Path(sys.executable).with_name("genesys-finance")),
        "extract", "--start", "2024-05-01", "--end", "2024-05-08", "--chunk-days", "2",
        "--quiet", "--poll-interval", "0.1", "--lock-wait", "0",
    ]  # fmt: skip
    runs = [
        subprocess.Popen(command, env=cli_env(settings), stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(run.wait(timeout=300), run.stderr.read() if run.stderr else "") for run in runs]
    assert sorted(status for status, _ in results) == [0, 1]
    (loser,) = [err for status, err in results if status == 1]
    assert "another genesys-finance run is using this warehouse" in loser

    submitted = submissions_by_interval(request_log(sim))
    assert len(submitted) == 4 and all(len(ids) == 1 for ids in submitted.values())
    expected = expected_conversations(sim, settings, date(2024, 5, 1), date(2024, 5, 8))
    assert_exact(settings, expected)  # also: no conversation row twice
