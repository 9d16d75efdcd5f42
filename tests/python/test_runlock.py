"""One run at a time per warehouse: a second `extract` waits a bounded time, then exits with a
clear message; on both targets, with real processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from genesys_finance.cli import main
from genesys_finance.runlock import RunLockBusy
from genesys_finance.settings import Settings
from genesys_finance.warehouse import warehouse_for
from test_extract_support import cli_env

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
