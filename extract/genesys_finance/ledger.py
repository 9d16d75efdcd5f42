"""The job ledger `genesys_raw.extract_jobs`: one row per submitted detail job.

A job id is written (autocommit) the moment the API returns it, and its state is updated as it
progresses, so a run killed at any point can find its jobs again: poll the still-valid ones and
resubmit only the intervals whose job failed, expired or was never submitted. An interval is
complete only once its job is `downloaded`: every page loaded and committed by dlt.

`run_completed_at` is stamped on every row of a run that finished; rows without it belong to an
interrupted run, whose work the next run reuses.

`filter_key` is the canonical JSON of the filters a job was submitted with (the query layer
pushes predicates down), null for a plain extraction. A filtered job holds only part of its
interval: it never counts as complete for `extract`, nor for a query with other filters.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from genesys_finance.planner import Interval
from genesys_finance.settings import RAW_SCHEMA

TABLE = f"{RAW_SCHEMA}.extract_jobs"

SUBMITTED, RUNNING, FULFILLED, DOWNLOADED, FAILED, EXPIRED = (
    "submitted",
    "running",
    "fulfilled",
    "downloaded",
    "failed",
    "expired",
)
OPEN_STATES = (SUBMITTED, RUNNING, FULFILLED)

COLUMNS = (
    "job_id",
    "run_id",
    "interval_start",
    "interval_end",
    "state",
    "attempt",
    "pages",
    "conversations",
    "error",
    "submitted_at",
    "updated_at",
    "fulfilled_at",
    "downloaded_at",
    "data_availability_date",
    "run_completed_at",
    "filter_key",
)

DDL = f"""
create table if not exists {TABLE} (
    job_id text primary key,
    run_id text not null,
    interval_start timestamptz not null,
    interval_end timestamptz not null,
    state text not null,
    attempt integer not null,
    pages integer not null default 0,
    conversations bigint not null default 0,
    error text,
    submitted_at timestamptz not null,
    updated_at timestamptz not null,
    fulfilled_at timestamptz,
    downloaded_at timestamptz,
    data_availability_date timestamptz,
    run_completed_at timestamptz,
    filter_key text
)
"""
# Ledgers created before the column existed get it added (null: unfiltered, as they were).
ADD_FILTER_KEY = f"alter table {TABLE} add column if not exists filter_key text"


@dataclass(frozen=True)
class LedgerJob:
    job_id: str
    run_id: str
    interval: Interval
    state: str
    attempt: int
    pages: int
    conversations: int
    error: str | None
    submitted_at: datetime
    updated_at: datetime
    data_availability_date: datetime | None
    run_completed_at: datetime | None
    filter_key: str | None = None


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """Ledger reads and writes over one autocommit DB-API connection, safe across threads."""

    def __init__(self, conn: Any, paramstyle: str) -> None:
        self._conn = conn
        self._mark = "?" if paramstyle == "qmark" else "%s"
        # DuckDB: a cursor is its own connection to the same database; psycopg2: a plain cursor.
        # Either way one statement at a time; timestamps are converted to UTC on read.
        self._lock = threading.Lock()

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        sql = sql.replace("?", self._mark)
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute(sql, params)
                rows = cur.fetchall() if cur.description is not None else []
            finally:
                cur.close()
        return [tuple(row) for row in rows]

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """One statement over the ledger's connection (`?` placeholders), for the run's other
        bookkeeping tables (the conversation quarantine)."""
        return self._execute(sql, params)

    def ensure_table(self) -> None:
        self._execute(f"create schema if not exists {RAW_SCHEMA}")
        self._execute(DDL)
        self._execute(ADD_FILTER_KEY)

    def record_submitted(
        self,
        job_id: str,
        run_id: str,
        interval: Interval,
        attempt: int,
        filter_key: str | None = None,
    ) -> None:
        now = _now()
        self._execute(
            f"insert into {TABLE} (job_id, run_id, interval_start, interval_end, state, attempt, "
            "pages, conversations, submitted_at, updated_at, filter_key) "
            "values (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?)",
            (
                job_id,
                run_id,
                interval.start,
                interval.end,
                SUBMITTED,
                attempt,
                now,
                now,
                filter_key,
            ),
        )

    def set_state(self, job_id: str, state: str, error: str | None = None) -> None:
        now = _now()
        if state == FULFILLED:
            self._execute(
                f"update {TABLE} set state = ?, updated_at = ?, fulfilled_at = ? where job_id = ?",
                (state, now, now, job_id),
            )
        else:
            self._execute(
                f"update {TABLE} set state = ?, error = ?, updated_at = ? where job_id = ?",
                (state, error, now, job_id),
            )

    def mark_downloaded(
        self,
        job_id: str,
        pages: int,
        conversations: int,
        data_availability_date: datetime | None,
    ) -> None:
        now = _now()
        self._execute(
            f"update {TABLE} set state = ?, pages = ?, conversations = ?, "
            "data_availability_date = ?, updated_at = ?, downloaded_at = ? where job_id = ?",
            (DOWNLOADED, pages, conversations, data_availability_date, now, now, job_id),
        )

    def complete_runs(self) -> None:
        """Stamp every row of unfinished runs: their work is now part of a finished run."""
        self._execute(
            f"update {TABLE} set run_completed_at = ? where run_completed_at is null", (_now(),)
        )

    def unfinished_jobs(self, filter_key: str | None = None) -> list[LedgerJob]:
        """Rows of interrupted runs submitted with these filters (none: plain extractions),
        newest first."""
        return self._select(
            "where run_completed_at is null and filter_key is not distinct from ? "
            "order by submitted_at desc",
            (filter_key,),
        )

    def all_jobs(self) -> list[LedgerJob]:
        return self._select("order by interval_start, submitted_at")

    def last_complete_end(self) -> datetime | None:
        rows = self._execute(
            f"select max(interval_end) from {TABLE} "
            "where state = ? and run_completed_at is not null and filter_key is null",
            (DOWNLOADED,),
        )
        return _utc(rows[0][0]) if rows and rows[0][0] is not None else None

    def _select(self, tail: str, params: tuple[Any, ...] = ()) -> list[LedgerJob]:
        rows = self._execute(f"select {', '.join(COLUMNS)} from {TABLE} {tail}", params)
        jobs = []
        for row in rows:
            r = dict(zip(COLUMNS, (_utc(v) for v in row), strict=True))
            jobs.append(
                LedgerJob(
                    job_id=r["job_id"],
                    run_id=r["run_id"],
                    interval=Interval(r["interval_start"], r["interval_end"]),
                    state=r["state"],
                    attempt=int(r["attempt"]),
                    pages=int(r["pages"]),
                    conversations=int(r["conversations"]),
                    error=r["error"],
                    submitted_at=r["submitted_at"],
                    updated_at=r["updated_at"],
                    data_availability_date=r["data_availability_date"],
                    run_completed_at=r["run_completed_at"],
                    filter_key=r["filter_key"],
                )
            )
        return jobs
