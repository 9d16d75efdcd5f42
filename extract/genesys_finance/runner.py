"""Wiring one extraction run: API client, the org's numbers, masker, job ledger, plan, job runner.

`ExtractionRun` is what both ways of running the extraction share: `run_extract` (the CLI's
`extract`, which loads each batch of pages as it comes, so a crash re-fetches at most the
uncommitted tail) and the dlt source `source.genesys_cloud` (for dlt users: one load into any
destination). Both load the same resources (`resources.py`). The detail-job state machine itself
is `jobrunner.py`.

Order inside a run: the data availability date and the plan; the org's DID pools and DIDs (the
masker needs them before it masks anything: `OrgNumbers`); then the other dimensions; then the
conversations.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from genesys_finance import heap
from genesys_finance.api.entities import iter_entity_pages
from genesys_finance.api.errors import ApiError
from genesys_finance.api.http import ApiClient
from genesys_finance.api.jobs import DetailJobs
from genesys_finance.dimensions import (
    DIMENSION_BY_TABLE,
    DIMENSIONS,
    ORG_NUMBER_DIMENSIONS,
    Dimension,
    Entity,
)
from genesys_finance.extraction import ExtractError, ExtractOptions, ExtractSummary
from genesys_finance.jobrunner import JobRunner, LoadBatch
from genesys_finance.ledger import Ledger
from genesys_finance.loadfiles import LoadFileFormat
from genesys_finance.loading import Loader
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.planner import (
    Interval,
    PlanError,
    explicit_range,
    incremental_range,
    split_interval,
)
from genesys_finance.quarantine import QuarantineTable
from genesys_finance.resources import conversations_resource, dimension_resource
from genesys_finance.runlock import RunLockBusy
from genesys_finance.settings import RAW_SCHEMA, ConfigError, Settings
from genesys_finance.spool import PageSpool
from genesys_finance.tempdirs import working_folder_problem
from genesys_finance.warehouse import warehouse_for

if TYPE_CHECKING:
    from dlt.extract.resource import DltResource

    from genesys_finance.masking import Masker

log = logging.getLogger("genesys_finance.extract")

GC_GEN0_THRESHOLD = 100_000
"""A results page decodes into ~300k dicts and lists (all acyclic, freed by reference counting);
at Python's default threshold (700) the cyclic collector ran hundreds of times per page and
doubled the cost of `orjson.loads` and masking (measured)."""


def org_numbers_from(did_pools: list[Entity], dids: list[Entity]) -> OrgNumbers:
    """The org's numbers: every DID pool's range and every DID (E.164 as the API gives them)."""
    ranges = [
        (pool["startPhoneNumber"], pool["endPhoneNumber"])
        for pool in did_pools
        if pool.get("startPhoneNumber") and pool.get("endPhoneNumber")
    ]
    return OrgNumbers.build(ranges, (d["phoneNumber"] for d in dids if d.get("phoneNumber")))


@dataclass
class ExtractionRun:
    """One run's parts, open between `open()` and the end of its `with` block."""

    settings: Settings
    options: ExtractOptions
    client: ApiClient
    ledger: Ledger
    masker: Masker
    org_entities: dict[str, list[Entity]]
    summary: ExtractSummary
    intervals: list[Interval]
    file_format: LoadFileFormat
    started: float = field(default_factory=time.monotonic)

    @classmethod
    @contextmanager
    def open(
        cls,
        settings: Settings,
        ledger: Ledger,
        start: date | None,
        end: date | None,
        options: ExtractOptions,
        file_format: LoadFileFormat,
        now: datetime | None = None,
    ) -> Iterator[ExtractionRun]:
        from genesys_finance.masking import Masker

        if end is not None and start is None:
            raise PlanError("--end needs --start")
        api_url, login_url, client_id, client_secret = settings.require_api()
        started = time.monotonic()
        with ExitStack() as stack:
            stack.enter_context(_fewer_gc_passes())
            heap.limit_retention()
            client = ApiClient(
                api_url,
                login_url,
                client_id,
                client_secret,
                requests_per_minute=options.requests_per_minute,
                retry=options.retry,
                pool_size=max(8, options.max_parallel_jobs * 2),
            )
            stack.callback(client.close)
            ledger.ensure_table()
            availability = DetailJobs(client).data_availability_date()
            range_start, range_end = _plan_range(ledger, start, end, availability, options, now)
            intervals = split_interval(range_start, range_end, options.chunk_days)
            summary = ExtractSummary(range_start, range_end, availability, len(intervals))
            log.info(
                "extract %s .. %s: %d intervals (dataAvailabilityDate %s)",
                range_start.isoformat(),
                range_end.isoformat(),
                len(intervals),
                availability.isoformat(),
            )
            # The org's numbers first: nothing is masked before the masker knows them.
            org_entities = {
                table: [
                    e
                    for page in iter_entity_pages(client, DIMENSION_BY_TABLE[table].path)
                    for e in page
                ]
                for table in ORG_NUMBER_DIMENSIONS
            }
            org_numbers = org_numbers_from(org_entities["did_pools"], org_entities["dids"])
            masker = Masker.from_settings(settings, options.pii_policy, org_numbers=org_numbers)
            run = cls(
                settings,
                options,
                client,
                ledger,
                masker,
                org_entities,
                summary,
                intervals,
                file_format,
                started,
            )
            yield run
            run.summary.requests = client.stats.requests
            run.summary.rate_limited = client.stats.rate_limited
            run.summary.server_errors = client.stats.server_errors + client.stats.connection_errors
            run.summary.elapsed_s = time.monotonic() - started
            log.info("%s", run.summary.line())

    def dimension_tables(self, dimension: Dimension) -> Iterator[pa.Table]:
        """A dimension's masked Arrow tables (the org's numbers from the pages already read);
        the entities are counted in the summary as they go by."""
        pages: Iterable[list[Entity]] = (
            [self.org_entities[dimension.table]]
            if dimension.table in self.org_entities
            else iter_entity_pages(self.client, dimension.path)
        )
        counts = self.summary.dimensions
        counts.setdefault(dimension.table, 0)
        for table in dimension.tables(pages, self.masker):
            counts[dimension.table] += table.num_rows
            yield table

    def dimension_resources(self) -> list[DltResource]:
        return [dimension_resource(d, self.dimension_tables(d)) for d in DIMENSIONS]

    def conversation_files(self) -> Iterator[tuple[Path, int]]:
        """Every conversation page file of the run, for one load (the dlt source's way)."""
        for batch in self.batches():
            yield from batch.files

    def batches(self) -> Iterator[LoadBatch]:
        """Conversation pages in load-sized batches (see `JobRunner.batches`); the ledger's runs
        are completed once every batch has been loaded."""
        spool = PageSpool(self.options.spool_max_bytes, file_format=self.file_format)
        quarantine = QuarantineTable(self.ledger.execute)
        quarantine.ensure_table()
        try:
            runner = JobRunner(
                DetailJobs(self.client),
                self.ledger,
                spool,
                self.masker.mask_conversation,
                self.options,
                quarantine.record,
            )
            yield from runner.batches(self.intervals, self.ledger.unfinished_jobs(), self.summary)
        finally:
            spool.close()
        self.ledger.complete_runs()


def run_extract(
    settings: Settings,
    start: date | None = None,
    end: date | None = None,
    options: ExtractOptions | None = None,
    *,
    now: datetime | None = None,
) -> ExtractSummary:
    """Extract `[start, end)` (or incrementally, without dates) into `genesys_raw`: the dlt
    resources of `resources.py`, one load for the dimensions, then one per batch of pages."""
    options = options or ExtractOptions()
    try:
        return _run_extract(settings, start, end, options, now)
    except (ConfigError, RunLockBusy):  # already a clear message (a lock timeout is not a lost
        raise  # connection, though Postgres reports both as an OperationalError)
    except Exception as exc:  # the working folder or the database failing mid-run: say so
        problem = working_folder_problem(exc) or warehouse_for(settings).connection_lost(exc)
        if problem is None:
            raise
        raise ExtractError(problem) from exc


def _run_extract(
    settings: Settings,
    start: date | None,
    end: date | None,
    options: ExtractOptions,
    now: datetime | None,
) -> ExtractSummary:
    warehouse = warehouse_for(settings)
    with ExitStack() as stack:
        stack.enter_context(warehouse.run_lock(options.lock_wait_s))
        conn = stack.enter_context(warehouse.connect())
        ledger = Ledger(conn, warehouse.paramstyle)
        run = stack.enter_context(
            ExtractionRun.open(
                settings, ledger, start, end, options, warehouse.load_file_format, now
            )
        )
        loader = Loader(
            warehouse.payload_destination(conn),
            RAW_SCHEMA,
            warehouse.load_file_format,
            warehouse.load_workers,
        )
        stack.callback(loader.close)
        if not options.skip_dimensions:
            loader.run(run.dimension_resources())
        for batch in run.batches():
            try:
                loader.run(conversations_resource(batch.files, loader.file_format))
            except Exception as exc:
                batch.raise_worker_failure()
                raise ExtractError(
                    f"loading into the warehouse failed: {exc}{warehouse.load_error_hint(exc)}"
                ) from exc
    return run.summary


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Raise the cyclic collector's first threshold for the run (restored afterwards)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], GC_GEN0_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _plan_range(
    ledger: Ledger,
    start: date | None,
    end: date | None,
    availability: datetime,
    options: ExtractOptions,
    now: datetime | None,
) -> tuple[datetime, datetime]:
    now = now or datetime.now(UTC)
    if start is not None and end is not None:
        return explicit_range(start, end, availability)
    if start is not None:  # --start alone: up to now, capped at availability
        return incremental_range(
            None,
            now=now,
            availability=availability,
            lookback=timedelta(0),
            initial_start=start,
        )
    return incremental_range(
        ledger.last_complete_end(),
        now=now,
        availability=availability,
        lookback=timedelta(days=options.lookback_days),
        initial_start=options.initial_start,
    )


__all__ = [
    "ApiError",
    "ExtractError",
    "ExtractOptions",
    "ExtractSummary",
    "ExtractionRun",
    "PlanError",
    "run_extract",
]
