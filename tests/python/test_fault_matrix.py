"""Faults `test_extract_faults.py` does not cover, each followed by a run that completes with
exactly the data of a clean run: an unusable working folder (the pipeline's temporary files;
`test_working_folder.py` fills one and locks one); the database's connections cut mid-load
(Postgres: `pg_terminate_backend` on the shared server); the database server stopped mid-load
and started again (a private Postgres server of the test's own, `private_postgres.py`)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from conftest import make_settings
from genesys_finance.api.http import RetryPolicy
from genesys_finance.extraction import ExtractError
from genesys_finance.runner import ExtractOptions, run_extract
from genesys_finance.settings import ConfigError, Settings
from genesys_finance.warehouse import query
from private_postgres import private_postgres
from sim_fixtures import StartSimulator, request_log
from test_extract_support import (
    YEAR_SIM,
    YEAR_START,
    assert_exact,
    expected_conversations,
    ledger_rows,
)

START, END = date(2024, 5, 1), date(2024, 5, 8)
CUT_END = date(2024, 4, 1)  # a quarter of the year simulation: enough loads to cut one
OPTIONS = ExtractOptions(poll_initial_s=0.05, quiet=True, page_size=50, skip_dimensions=True)


def test_unusable_working_folder_is_named_and_nothing_is_lost(
    simulator: StartSimulator,
    warehouse: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = simulator()
    settings = Settings(
        **{**warehouse.__dict__, "api_url": sim.base_url, "login_url": sim.base_url}
    )
    blocked = tmp_path / "work"
    blocked.write_text("a file where the working folder should be")
    monkeypatch.setenv("TMPDIR", str(blocked))
    with pytest.raises(ConfigError, match="TMPDIR") as failure:
        run_extract(settings, START, END, OPTIONS)
    assert f"working folder {blocked} cannot hold" in str(failure.value)

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    run_extract(settings, START, END, OPTIONS)
    assert_exact(settings, expected_conversations(sim, settings, START, END))
    assert {row["state"] for row in ledger_rows(settings)} <= {"downloaded", "failed", "expired"}


def _terminate_backends(settings: Settings) -> int:
    """Cut every other connection to the run's database (the server keeps running: it is
    shared), as a failover or an idle-connection killer would."""
    import psycopg2

    pg = settings.postgres
    conn = psycopg2.connect(
        host=pg.host, port=pg.port, user=pg.user, password=pg.password, dbname=pg.database
    )
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity "
                "where datname = current_database() and pid <> pg_backend_pid()"
            )
            row = cur.fetchone()
            return int(row[0]) if row else 0
    finally:
        conn.close()


def _loaded(settings: Settings) -> int:
    try:
        return int(query(settings, "select count(*) from genesys_raw.conversations")[0][0])
    except Exception:  # the table does not exist before the first load
        return 0


CUT_OPTIONS = ExtractOptions(
    poll_initial_s=0.05,
    quiet=True,
    page_size=50,
    commit_every=100,  # many small loads, so the fault lands between and inside them
    skip_dimensions=True,
    max_parallel_jobs=2,
)


def _fault_mid_load(settings: Settings, fault: Callable[[], None]) -> None:
    """Start a quarter's extraction, apply `fault` once the first rows have landed, and check
    the run fails (it must not report success) saying what happened and what to do."""
    failure: list[BaseException] = []

    def extract() -> None:
        try:
            run_extract(settings, YEAR_START, CUT_END, CUT_OPTIONS)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=extract)
    worker.start()
    deadline = time.monotonic() + 120
    while _loaded(settings) == 0 and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker.is_alive(), "the run ended before the fault"
    fault()
    worker.join(timeout=300)
    assert not worker.is_alive()
    assert failure, "a run whose database went away must not report success"
    assert isinstance(failure[0], ExtractError), repr(failure[0])
    message = str(failure[0])
    assert f"connection to Postgres {settings.postgres.host}:{settings.postgres.port}" in message
    assert "was lost" in message and "run the same command again" in message


@pytest.mark.parametrize("target", ["postgres"], indirect=True)
def test_database_connections_cut_mid_load_then_rerun_is_exact(
    simulator: StartSimulator, warehouse: Settings
) -> None:
    sim = simulator(**YEAR_SIM)
    settings = Settings(
        **{**warehouse.__dict__, "api_url": sim.base_url, "login_url": sim.base_url}
    )
    _fault_mid_load(settings, lambda: _assert_cut(settings))

    summary = run_extract(settings, YEAR_START, CUT_END, CUT_OPTIONS)
    assert summary.intervals_already_complete < summary.intervals
    assert_exact(settings, expected_conversations(sim, settings, YEAR_START, CUT_END))


def _assert_cut(settings: Settings) -> None:
    assert _terminate_backends(settings) >= 1


def test_postgres_stopped_mid_load_and_restarted_then_rerun_is_exact(
    simulator: StartSimulator, tmp_path: Path
) -> None:
    if os.geteuid() != 0:  # the private server runs as `postgres`
        pytest.fail("a private Postgres server needs root to start as the postgres user")
    sim = simulator(**YEAR_SIM)
    with private_postgres() as server:
        settings = Settings(
            **{
                **make_settings("postgres", tmp_path, server.settings).__dict__,
                "api_url": sim.base_url,
                "login_url": sim.base_url,
            }
        )
        stopped_at: list[float] = []

        def stop() -> None:
            server.stop()
            stopped_at.append(time.monotonic())

        _fault_mid_load(settings, stop)
        server.start()  # back after the run gave up; crash recovery on the way

        summary = run_extract(settings, YEAR_START, CUT_END, CUT_OPTIONS)
        assert summary.intervals_already_complete < summary.intervals
        assert_exact(settings, expected_conversations(sim, settings, YEAR_START, CUT_END))
        assert stopped_at


# The issue's rates, all at once (test_extract_faults.py runs other rates over a year): tokens
# live 2 s (the simulator's minute, scaled to a seconds-long run), 20 % 429, 5 % 5xx, 10 % of
# jobs FAILED, results expiring 6 s after a job is fulfilled. At 2 s with 20 % 429s a month of
# results never downloads in time: all 12 attempts of an interval expired.
ISSUE_FAULTS = {
    "token_lifetime_s": 2,
    "random_429_rate": 0.2,
    "random_retry_after_s": 1,
    "random_5xx_rate": 0.05,
    "job_failure_rate": 0.1,
    "job_expiry_s": 6.0,
}


def test_issue_fault_rates_still_exact(simulator: StartSimulator, warehouse: Settings) -> None:
    sim = simulator(**YEAR_SIM, **ISSUE_FAULTS)
    settings = Settings(
        **{**warehouse.__dict__, "api_url": sim.base_url, "login_url": sim.base_url}
    )
    options = ExtractOptions(
        poll_initial_s=0.1,
        poll_max_s=0.5,
        requests_per_minute=3000,
        quiet=True,
        page_size=200,
        max_attempts=12,
        skip_dimensions=True,
        retry=RetryPolicy(max_attempts=10, backoff_initial_s=0.05, backoff_max_s=0.5),
    )
    summary = run_extract(settings, YEAR_START, CUT_END, options)
    assert_exact(settings, expected_conversations(sim, settings, YEAR_START, CUT_END))
    log = request_log(sim)
    refused = sum(1 for e in log if e["status"] == 429)
    assert refused >= 0.1 * len(log)  # the 429s really came
    assert any(e["status"] >= 500 for e in log)
    assert sum(1 for e in log if e["path"] == "/oauth/token") >= 2
    assert summary.jobs_submitted >= summary.intervals
    # FAILED jobs were resubmitted (the simulator's draws are seeded). Expiry mid-download is
    # exercised by test_extract_faults.py (3 s); here 6 s leaves the download time enough.
    assert "failed" in {row["state"] for row in ledger_rows(settings)}
    assert summary.resubmissions > 0
