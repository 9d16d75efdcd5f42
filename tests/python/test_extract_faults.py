"""A run through token expiry, 429 storms, random 5xx, FAILED and EXPIRED jobs is still exact."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from genesys_finance.api.http import RetryPolicy
from genesys_finance.runner import ExtractError, ExtractOptions, run_extract
from genesys_finance.settings import Settings
from sim_fixtures import StartSimulator, request_log
from test_extract_support import (
    YEAR_END,
    YEAR_SIM,
    YEAR_START,
    assert_exact,
    expected_conversations,
    ledger_rows,
)

FAULTS = {
    "token_lifetime_s": 2,
    # Rates chosen so that failures and expiries surely happen, yet 12 attempts of one interval
    # never all fail: a loaded machine slows downloads and so makes expiry more frequent.
    "job_failure_rate": 0.35,
    "job_expiry_s": 3.0,
    "random_429_rate": 0.04,
    "random_retry_after_s": 1,
    "random_5xx_rate": 0.05,
    "storm_rate": 0.01,
    "storm_duration_s": 1.5,
}


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_faults_still_exact(simulator: StartSimulator, warehouse: Settings) -> None:
    sim = simulator(**YEAR_SIM, **FAULTS)
    settings = Settings(
        **{**warehouse.__dict__, "api_url": sim.base_url, "login_url": sim.base_url}
    )
    options = ExtractOptions(
        poll_initial_s=0.1,
        requests_per_minute=3000,
        quiet=True,
        page_size=200,  # several pages per job, so results can expire mid-download
        max_attempts=12,
        poll_max_s=0.5,
        skip_dimensions=True,
        retry=RetryPolicy(max_attempts=8, backoff_initial_s=0.05, backoff_max_s=0.5),
    )
    summary = run_extract(settings, YEAR_START, YEAR_END, options)
    assert_exact(settings, expected_conversations(sim, settings, YEAR_START, YEAR_END))

    log = request_log(sim)
    statuses = [e["status"] for e in log]
    assert 429 in statuses and any(s >= 500 for s in statuses)
    assert sum(1 for e in log if e["path"] == "/oauth/token") >= 2  # renewed mid-run
    assert not any(e["status"] == 401 for e in log)  # renewed *before* expiry
    assert summary.resubmissions > 0
    states = {row["state"] for row in ledger_rows(settings)}
    assert "downloaded" in states and states & {"failed", "expired"}

    # Every 429'd request was retried no sooner than Retry-After.
    api = [e for e in log if e["path"] != "/oauth/token"]
    for i, entry in enumerate(api):
        if entry["status"] != 429:
            continue
        same = (entry["method"], entry["path"], entry["query"])
        retry = next(
            (e for e in api[i + 1 :] if (e["method"], e["path"], e["query"]) == same), None
        )
        if retry is not None and entry["method"] == "GET":
            waited = parse_time(retry["time"]) - parse_time(entry["time"])
            assert waited >= entry["retryAfter"] - 0.05, (entry, retry)


@pytest.mark.parametrize("target", ["duckdb"])
def test_gives_up_naming_interval_and_job(simulator: StartSimulator, warehouse: Settings) -> None:
    sim = simulator(**{**YEAR_SIM, "job_failure_rate": 1.0})
    settings = Settings(
        **{**warehouse.__dict__, "api_url": sim.base_url, "login_url": sim.base_url}
    )
    options = ExtractOptions(
        poll_initial_s=0.05, quiet=True, max_attempts=2, skip_dimensions=True, max_parallel_jobs=1
    )
    with pytest.raises(
        ExtractError,
        match=r"interval 2024-01-01/2024-02-01: gave up after 2 jobs; "
        r"last job [0-9a-f-]{36} FAILED",
    ):
        run_extract(settings, YEAR_START, YEAR_END, options)
    assert {row["state"] for row in ledger_rows(settings)} == {"failed"}


@pytest.mark.parametrize("target", ["duckdb"])
def test_a_duckdb_pool_too_small_for_the_payloads_says_which_setting_to_raise(
    simulator: StartSimulator, warehouse: Settings
) -> None:
    sim = simulator(**YEAR_SIM)
    settings = Settings(
        **{
            **warehouse.__dict__,
            "api_url": sim.base_url,
            "login_url": sim.base_url,
            "duckdb_load_memory": "4MB",
        }
    )
    options = ExtractOptions(poll_initial_s=0.05, quiet=True, skip_dimensions=True)
    with pytest.raises(ExtractError, match="raise GENESYS_FINANCE_DUCKDB_LOAD_MEMORY") as failure:
        run_extract(settings, YEAR_START, date(2024, 2, 1), options)
    assert "buffer pool for loads is 4MB" in str(failure.value)
