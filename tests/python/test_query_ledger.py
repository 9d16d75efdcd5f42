"""The ledger's `filter_key` (query-layer pushdown): added to ledgers created before it, recorded
per job, and ignored by the extractor's completeness (a filtered chunk is never complete)."""

from __future__ import annotations

from datetime import UTC, datetime

from genesys_finance import warehouse as wh
from genesys_finance.ledger import DDL, DOWNLOADED, TABLE, Ledger
from genesys_finance.planner import Interval
from genesys_finance.settings import Settings

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
