"""The query layer's one door into the extractor: fetch month chunks (optionally filtered).

Everything the extractor guarantees applies: masking before the warehouse, the job ledger (job
ids written at once, resume after a crash), dlt loads. The only addition is the pushed-down
filter: sent in each job's body and recorded in the ledger row of the job.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from genesys_finance.api.http import ApiClient
from genesys_finance.api.jobs import JOBS_PATH, DetailJobs, format_timestamp
from genesys_finance.ledger import Ledger
from genesys_finance.planner import Interval
from genesys_finance.query.pushdown import PushedFilters
from genesys_finance.settings import Settings


class _FilteredJobs(DetailJobs):
    """Detail jobs whose body carries the pushed-down filters."""

    def __init__(self, client: ApiClient, filters: PushedFilters) -> None:
        super().__init__(client)
        self.filters = filters

    def submit(self, start: datetime, end: datetime) -> str:
        body = job_body(Interval(start, end), self.filters)
        response = self.client.post(JOBS_PATH, body)
        job_id = response.get("jobId") if response else None
        if not job_id:
            from genesys_finance.api.errors import ApiError

            raise ApiError(f"POST {JOBS_PATH} returned no jobId")
        return str(job_id)


class _FilteredLedger(Ledger):
    """The ledger, every job it records stamped with the filters it was submitted with."""

    def __init__(self, conn: Any, paramstyle: str, filter_key: str | None) -> None:
        super().__init__(conn, paramstyle)
        self.filter_key = filter_key

    def record_submitted(
        self,
        job_id: str,
        run_id: str,
        interval: Interval,
        attempt: int,
        filter_key: str | None = None,
    ) -> None:
        super().record_submitted(job_id, run_id, interval, attempt, filter_key or self.filter_key)


def job_body(interval: Interval, filters: PushedFilters) -> dict[str, Any]:
    """The exact `POST .../details/jobs` body for one chunk."""
    body: dict[str, Any] = {
        "interval": f"{format_timestamp(interval.start)}/{format_timestamp(interval.end)}",
        "order": "asc",
    }
    body.update(filters.body())
    return body


@dataclass
class FetchSummary:
    chunks: int
    jobs_submitted: int
    conversations: int
    requests: int
    seconds: float


def fetch_chunks(
    settings: Settings,
    chunks: list[Interval],
    filters: PushedFilters,
    *,
    poll_initial_s: float = 1.0,
    quiet: bool = True,
) -> FetchSummary:
    """Extract `chunks` with `filters` into genesys_raw, through the extractor's job runner."""
    from genesys_finance.masking import Masker
    from genesys_finance.pipeline import RawLoader
    from genesys_finance.runner import (
        ExtractOptions,
        ExtractSummary,
        JobRunner,
        _fewer_gc_passes,
        _open_connection,
    )
    from genesys_finance.spool import PageSpool
    from genesys_finance.warehouse import postgres_payload_options

    api_url, login_url, client_id, client_secret = settings.require_api()
    options = ExtractOptions(poll_initial_s=poll_initial_s, quiet=quiet, skip_dimensions=True)
    masker = Masker.from_settings(settings)
    started = time.monotonic()
    client = ApiClient(api_url, login_url, client_id, client_secret, retry=options.retry)
    with ExitStack() as stack:
        stack.enter_context(_fewer_gc_passes())
        stack.callback(client.close)
        conn, paramstyle = _open_connection(settings, stack)
        ledger = _FilteredLedger(conn, paramstyle, filters.key)
        ledger.ensure_table()
        if settings.target == "duckdb":
            loader = RawLoader(settings, duckdb_conn=conn)
        else:
            loader = RawLoader(settings, postgres_options=postgres_payload_options(conn))
        stack.callback(loader.close)
        jobs = _FilteredJobs(client, filters)
        summary = ExtractSummary(chunks[0].start, chunks[-1].end, chunks[-1].end, len(chunks))
        spool = PageSpool(options.spool_max_bytes, file_format=loader.file_format)
        stack.callback(spool.close)
        runner = JobRunner(jobs, ledger, loader, spool, masker.mask_conversation, options)
        runner.run(chunks, ledger.unfinished_jobs(filters.key), summary)
        ledger.complete_runs()
    return FetchSummary(
        chunks=len(chunks),
        jobs_submitted=summary.jobs_submitted,
        conversations=summary.conversations,
        requests=client.stats.requests,
        seconds=time.monotonic() - started,
    )
