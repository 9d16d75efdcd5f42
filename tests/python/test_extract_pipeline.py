"""End to end over HTTP: a year into genesys_raw on both targets, exact and masked; incremental."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from genesys_finance import warehouse as wh
from genesys_finance.planner import PlanError
from genesys_finance.runner import ExtractOptions, run_extract
from genesys_finance.settings import Settings
from sim_fixtures import StartSimulator, request_log
from test_extract_support import (
    YEAR_END,
    YEAR_SIM,
    YEAR_START,
    assert_exact,
    cli_env,
    expected_conversations,
    ledger_rows,
    scan_for_pii,
    submissions_by_interval,
)

FAST = ExtractOptions(poll_initial_s=0.1, requests_per_minute=3000, quiet=True)


def with_api(settings: Settings, url: str) -> Settings:
    return Settings(**{**settings.__dict__, "api_url": url, "login_url": url})


def test_year_is_exact_masked_and_ledgered(
    simulator: StartSimulator,
    warehouse: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim = simulator(**YEAR_SIM)
    settings = with_api(warehouse, sim.base_url)
    summary = run_extract(settings, YEAR_START, YEAR_END, FAST)

    expected = expected_conversations(sim, settings, YEAR_START, YEAR_END)
    assert_exact(settings, expected)
    assert summary.intervals == 12 and summary.jobs_submitted == 12

    # Columns exactly as docs/internals.md.
    cols = wh_columns(settings, "conversations")
    assert cols[:6] == [
        "conversation_id",
        "conversation_start",
        "conversation_end",
        "payload",
        "extracted_at",
        "job_id",
    ]
    assert len(cols) == 6, "dlt lineage columns would cost a rewrite of every load file"
    for kind in ("queues", "wrapup_codes", "divisions", "users"):
        assert wh_columns(settings, kind)[:5] == [
            "id",
            "name",
            "division_id",
            "payload",
            "extracted_at",
        ]
        count = wh.query(settings, f"select count(*) from genesys_raw.{kind}")[0][0]
        assert count == len(getattr(sim.generator, kind)())
    assert wh.query(
        settings, "select count(*) from genesys_raw.users where name <> 'REDACTED'"
    ) == [(0,)]

    # Starts and ends are typed UTC timestamps matching the payload.
    row = wh.query(
        settings,
        "select conversation_id, conversation_start from genesys_raw.conversations "
        "order by conversation_start limit 1",
    )[0]
    start = expected[row[0]]["conversationStart"]
    assert row[1].astimezone(UTC) == datetime.fromisoformat(start.replace("Z", "+00:00"))

    # One job per month, all downloaded, none submitted twice.
    ledger = ledger_rows(settings)
    assert len(ledger) == 12 and {r["state"] for r in ledger} == {"downloaded"}
    assert all(r["run_completed_at"] is not None for r in ledger)
    assert all(len(ids) == 1 for ids in submissions_by_interval(request_log(sim)).values())

    # No clear PII anywhere in genesys_raw.
    pii = {
        c["conversationId"]: sim.generator.pii_values(c)
        for c in sim.generator.iter_conversations(
            datetime(2023, 12, 1, tzinfo=UTC), datetime(2025, 1, 10, tzinfo=UTC)
        )
    }
    users = {
        str(u[k]) for u in sim.generator.users() for k in ("name", "email", "username") if u.get(k)
    }
    assert sum(len(v) for v in pii.values()) > len(pii)
    assert scan_for_pii(settings, pii, users) == {}

    # `genesys-finance jobs` prints the ledger.
    from genesys_finance.cli import main

    for key, value in cli_env(settings).items():
        monkeypatch.setenv(key, value)
    assert main(["jobs"]) == 0
    out = capsys.readouterr().out
    assert "2024-03-01/2024-04-01" in out and "downloaded" in out and "12 jobs" in out


def wh_columns(settings: Settings, table: str) -> list[str]:
    rows = wh.query(
        settings,
        "select column_name from information_schema.columns where table_schema = 'genesys_raw' "
        f"and table_name = '{table}' order by ordinal_position",
    )
    return [str(r[0]) for r in rows]


def test_incremental_continues_from_ledger(simulator: StartSimulator, warehouse: Settings) -> None:
    sim = simulator(**{**YEAR_SIM, "start": date(2024, 10, 20)})
    settings = with_api(warehouse, sim.base_url)
    options = ExtractOptions(
        poll_initial_s=0.1, requests_per_minute=3000, quiet=True, skip_dimensions=True
    )

    with pytest.raises(PlanError, match="--start"):
        run_extract(settings, None, None, options)

    first = run_extract(settings, date(2024, 11, 1), None, options)
    availability = first.data_availability_date
    assert first.end <= availability and first.end > availability - timedelta(seconds=2)
    assert first.intervals == 3  # Nov, Dec, Jan 1 .. availability

    second = run_extract(settings, None, None, options)
    assert second.start == first.end - timedelta(days=2)
    assert second.end <= second.data_availability_date
    log_intervals = list(submissions_by_interval(request_log(sim)))
    assert len(log_intervals) == 3 + second.intervals
    for interval in log_intervals:
        end = datetime.fromisoformat(interval.split("/")[1].replace("Z", "+00:00"))
        assert end <= second.data_availability_date

    expected = expected_conversations(sim, settings, date(2024, 11, 1), date(2025, 1, 10))
    assert_exact(settings, expected)

    # A third run with a longer look-back re-reads more, still without duplicates.
    third = run_extract(
        settings, None, None, ExtractOptions(**{**options.__dict__, "lookback_days": 10})
    )
    assert third.start == second.end - timedelta(days=10)
    assert_exact(settings, expected)

    return None
