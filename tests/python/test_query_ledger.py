"""The ledger's `filter_key` (query-layer pushdown): added to ledgers created before it, recorded
per job, ignored by the extractor's completeness (a filtered chunk is never complete), and shown
by `genesys-finance jobs`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from genesys_finance import cli
from genesys_finance import warehouse as wh
from genesys_finance.commands.jobs import HEADERS, UNFILTERED, describe_filter_key
from genesys_finance.ledger import DDL, DOWNLOADED, TABLE, Ledger
from genesys_finance.planner import Interval
from genesys_finance.query.parse import parse_query
from genesys_finance.query.pushdown import plan_pushdown, scopes
from genesys_finance.settings import Settings
from test_extract_support import cli_env

MAY = Interval(datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC))
JUNE = Interval(datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC))


def _ledger(conn: object, settings: Settings) -> Ledger:
    return Ledger(conn, "qmark" if settings.target == "duckdb" else "format")


def test_old_ledger_gets_the_column_and_keeps_its_rows(warehouse: Settings) -> None:
    old_ddl = DDL.replace(",\n    filter_key text", "")
    assert "filter_key" not in old_ddl
    with wh.connect(warehouse) as conn:
        ledger = _ledger(conn, warehouse)
        ledger._execute("create schema if not exists genesys_raw")
        ledger._execute(old_ddl)
        now = datetime(2024, 7, 2, tzinfo=UTC)
        ledger._execute(
            f"insert into {TABLE} (job_id, run_id, interval_start, interval_end, state, attempt, "
            "submitted_at, updated_at, downloaded_at, run_completed_at) "
            "values ('old-job', 'r', ?, ?, ?, 1, ?, ?, ?, ?)",
            (MAY.start, MAY.end, DOWNLOADED, now, now, now, now),
        )
        ledger.ensure_table()
        (job,) = ledger.all_jobs()
        assert job.job_id == "old-job" and job.filter_key is None
        assert ledger.last_complete_end() == MAY.end


def test_filtered_jobs_never_complete_an_extraction(warehouse: Settings) -> None:
    key = '{"segmentFilters":[{"predicates":[],"type":"and"}]}'
    with wh.connect(warehouse) as conn:
        ledger = _ledger(conn, warehouse)
        ledger.ensure_table()
        ledger.record_submitted("plain", "r1", MAY, 1)
        ledger.record_submitted("filtered", "r1", JUNE, 1, filter_key=key)
        for job_id in ("plain", "filtered"):
            ledger.mark_downloaded(job_id, 1, 10, None)
        assert [j.job_id for j in ledger.unfinished_jobs()] == ["plain"]
        assert [j.job_id for j in ledger.unfinished_jobs(key)] == ["filtered"]
        ledger.complete_runs()
        assert ledger.last_complete_end() == MAY.end  # June was fetched filtered only
        assert {j.job_id: j.filter_key for j in ledger.all_jobs()} == {
            "plain": None,
            "filtered": key,
        }


def test_jobs_command_shows_each_jobs_filters(
    warehouse: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`genesys-finance jobs` tells the query layer's filtered jobs from plain extraction jobs."""
    sql = (
        "select count(*) from genesys.conversations c join genesys.sessions s "
        "on s.conversation_id = c.conversation_id where c.conversation_start >= '2024-06-01' "
        "and c.conversation_start < '2024-06-02' and s.media_type in ('voice', 'email') "
        "and c.originating_direction = 'inbound' and s.queue_id is not null"
    )
    key = plan_pushdown(scopes(parse_query(sql).tree)).filters.key
    assert key is not None
    with wh.connect(warehouse) as conn:
        ledger = _ledger(conn, warehouse)
        ledger.ensure_table()
        ledger.record_submitted("plain-job", "r1", MAY, 1)
        ledger.record_submitted("filtered-job", "r1", JUNE, 1, filter_key=key)
    for name, value in cli_env(replace(warehouse, api_url="http://127.0.0.1:9")).items():
        monkeypatch.setenv(name, value)

    assert cli.main(["jobs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == list(HEADERS)
    plain = next(line for line in lines if line.startswith("plain-job"))
    filtered = next(line for line in lines if line.startswith("filtered-job"))
    column = lines[0].index("filters")
    assert plain[column:].split()[0] == UNFILTERED
    assert filtered[column:].split("  ")[0] == (
        "conversation originatingDirection=inbound; segment queueId exists; "
        "segment mediaType=email|voice"
    )
    assert describe_filter_key("not json") == "not json"  # an unreadable key is shown as is
