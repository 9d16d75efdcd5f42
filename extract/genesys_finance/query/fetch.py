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
    """Extract `chunks` with `filters` into genesys_raw, through the extractor's pieces: the
    org's numbers before masking, the job runner, the ledger, the loader."""
    from genesys_finance.api.entities import iter_entity_pages
    from genesys_finance.dimensions import DIMENSION_BY_TABLE, ORG_NUMBER_DIMENSIONS
    from genesys_finance.extraction import ExtractError, ExtractOptions, ExtractSummary
    from genesys_finance.jobrunner import JobRunner
    from genesys_finance.loading import Loader
    from genesys_finance.masking import Masker
    from genesys_finance.resources import conversations_resource
    from genesys_finance.runner import _fewer_gc_passes, org_numbers_from
    from genesys_finance.settings import RAW_SCHEMA
    from genesys_finance.spool import PageSpool
    from genesys_finance.warehouse import warehouse_for

    api_url, login_url, client_id, client_secret = settings.require_api()
    options = ExtractOptions(poll_initial_s=poll_initial_s, quiet=quiet, skip_dimensions=True)
    warehouse = warehouse_for(settings)
    started = time.monotonic()
    client = ApiClient(api_url, login_url, client_id, client_secret, retry=options.retry)
    summary = ExtractSummary(chunks[0].start, chunks[-1].end, chunks[-1].end, len(chunks))
    with ExitStack() as stack:
        # The warehouse's run lock, as `extract` takes it: one writer of genesys_raw at a time.
        stack.enter_context(warehouse.run_lock(options.lock_wait_s))
        stack.enter_context(_fewer_gc_passes())
        stack.callback(client.close)
        conn = stack.enter_context(warehouse.connect())
        ledger = _FilteredLedger(conn, warehouse.paramstyle, filters.key)
        ledger.ensure_table()
        # The org's numbers first: nothing is masked before the masker knows them.
        pages = {
            table: [
                e
                for page in iter_entity_pages(client, DIMENSION_BY_TABLE[table].path)
                for e in page
            ]
            for table in ORG_NUMBER_DIMENSIONS
        }
        masker = Masker.from_settings(
            settings, None, org_numbers=org_numbers_from(pages["did_pools"], pages["dids"])
        )
        loader = Loader(
            warehouse.payload_destination(conn),
            RAW_SCHEMA,
            warehouse.load_file_format,
            warehouse.load_workers,
        )
        stack.callback(loader.close)
        spool = PageSpool(options.spool_max_bytes, file_format=warehouse.load_file_format)
        stack.callback(spool.close)
        runner = JobRunner(
            _FilteredJobs(client, filters), ledger, spool, masker.mask_conversation, options
        )
        for batch in runner.batches(chunks, ledger.unfinished_jobs(filters.key), summary):
            try:
                loader.run(conversations_resource(batch.files, loader.file_format))
            except Exception as exc:
                batch.raise_worker_failure()
                raise ExtractError(f"loading into the warehouse failed: {exc}") from exc
        ledger.complete_runs()
    return FetchSummary(
        chunks=len(chunks),
        jobs_submitted=summary.jobs_submitted,
        conversations=summary.conversations,
        requests=client.stats.requests,
        seconds=time.monotonic() - started,
    )
