"""Run an extraction: plan intervals, run detail jobs in parallel, land their pages with dlt.

Threads: up to `max_parallel_jobs` workers each own one interval at a time (submit or resume a
job, poll it, page its results, mask, write each page as a dlt load file). The files wait in a
disk spool (`spool.py`) and their names go to the main thread, the only one that loads (one dlt
load per job, or per `commit_every` conversations) and then marks the job `downloaded` in the
ledger. Workers keep fetching while a load runs, so the run takes about as long as the slower of
the two sides; a month is never held in memory: a worker holds one raw page, one conversation is
decoded at a time, and masked pages wait on disk.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from genesys_finance import heap
from genesys_finance import ledger as states
from genesys_finance.api.errors import ApiError
from genesys_finance.api.http import ApiClient, RetryPolicy
from genesys_finance.api.jobs import DetailJobs, JobState, JobStatus, ResultsUnavailable
from genesys_finance.ledger import Ledger, LedgerJob
from genesys_finance.loadfiles import CONVERSATION_HINTS, conversations_table
from genesys_finance.loading import Loader
from genesys_finance.planner import (
    Interval,
    PlanError,
    explicit_range,
    incremental_range,
    split_interval,
)
from genesys_finance.progress import Progress
from genesys_finance.settings import RAW_SCHEMA, Settings
from genesys_finance.spool import DEFAULT_MAX_BYTES, PageSpool, SpoolClosed, SpooledPage
from genesys_finance.warehouse import warehouse_for

log = logging.getLogger("genesys_finance.extract")

GC_GEN0_THRESHOLD = 100_000
"""A results page decodes into ~300k dicts and lists (all acyclic, freed by reference counting);
at Python's default threshold (700) the cyclic collector ran hundreds of times per page and
doubled the cost of `orjson.loads` and masking (measured)."""


class ExtractError(RuntimeError):
    """The run failed; the message names the interval and job (never payload content)."""


@dataclass(frozen=True)
class ExtractOptions:
    max_parallel_jobs: int = 4
    requests_per_minute: float = 300
    lookback_days: float = 2
    chunk_days: int | None = None
    """None: calendar months; else fixed chunks of this many days (at most 31)."""
    page_size: int = 1000
    max_attempts: int = 3
    """Jobs per interval (the first included) before the run gives up on it."""
    poll_initial_s: float = 1.0
    poll_max_s: float = 15.0
    commit_every: int = 20_000
    """Conversations per dlt load at most; a crash re-fetches at most the uncommitted tail.
    Into Postgres 20,000 ran 3-5 % faster than 10,000 and 40,000 no faster; memory does not
    depend on it since dlt writes page-sized row groups (bench/RESULTS.md)."""
    spool_max_bytes: int = DEFAULT_MAX_BYTES
    """Disk for masked pages fetched but not yet loaded; workers wait when it is full."""
    initial_start: date | None = None
    """Start of the first incremental run, when the ledger is empty and no --start is given."""
    skip_dimensions: bool = False
    quiet: bool = False
    pii_policy: str | None = None
    """PII policy YAML merged over the default (else GENESYS_FINANCE_PII_POLICY)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass
class ExtractSummary:
    start: datetime
    end: datetime
    data_availability_date: datetime
    intervals: int
    intervals_already_complete: int = 0
    jobs_submitted: int = 0
    jobs_resumed: int = 0
    resubmissions: int = 0
    pages: int = 0
    conversations: int = 0
    """Conversation versions loaded (overlapping jobs return some twice; the merge keeps one)."""
    dimensions: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    elapsed_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.conversations / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def line(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in self.dimensions.items()) or "skipped"
        return (
            f"extracted {self.start.isoformat()} .. {self.end.isoformat()}: "
            f"{self.intervals} intervals ({self.intervals_already_complete} already complete), "
            f"jobs submitted={self.jobs_submitted} resumed={self.jobs_resumed} "
            f"resubmitted={self.resubmissions}, pages={self.pages}, "
            f"conversations={self.conversations} in {self.elapsed_s:.1f} s "
            f"({self.rate:,.0f} conv/s); dimensions: {dims}; requests={self.requests} "
            f"(429s={self.rate_limited}, 5xx/connection retries={self.server_errors})"
        )


def run_extract(
    settings: Settings,
    start: date | None = None,
    end: date | None = None,
    options: ExtractOptions | None = None,
    *,
    now: datetime | None = None,
) -> ExtractSummary:
    """Extract `[start, end)` (or incrementally, without dates) into `genesys_raw`."""
    options = options or ExtractOptions()
    if end is not None and start is None:
        raise PlanError("--end needs --start")
    return _run_extract(settings, start, end, options, now)


def _run_extract(
    settings: Settings,
    start: date | None,
    end: date | None,
    options: ExtractOptions,
    now: datetime | None,
) -> ExtractSummary:
    from genesys_finance.masking import Masker

    api_url, login_url, client_id, client_secret = settings.require_api()
    masker = Masker.from_settings(settings, options.pii_policy)
    started = time.monotonic()
    client = ApiClient(
        api_url,
        login_url,
        client_id,
        client_secret,
        requests_per_minute=options.requests_per_minute,
        retry=options.retry,
        pool_size=max(8, options.max_parallel_jobs * 2),
    )
    with ExitStack() as stack:
        stack.enter_context(_fewer_gc_passes())
        heap.limit_retention()
        stack.callback(client.close)
        warehouse = warehouse_for(settings)
        conn = stack.enter_context(warehouse.connect())
        ledger = Ledger(conn, warehouse.paramstyle)
        ledger.ensure_table()
        loader = Loader(
            warehouse.payload_destination(conn),
            RAW_SCHEMA,
            warehouse.load_file_format,
            warehouse.load_workers,
        )
        stack.callback(loader.close)

        jobs = DetailJobs(client)
        availability = jobs.data_availability_date()
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
        if not options.skip_dimensions:
            from genesys_finance.dimensions import extract_dimensions

            summary.dimensions = extract_dimensions(client, masker, loader)

        spool = PageSpool(options.spool_max_bytes, file_format=loader.file_format)
        stack.callback(spool.close)
        runner = JobRunner(
            jobs,
            ledger,
            loader,
            spool,
            masker.mask_conversation,
            options,
            load_error_hint=warehouse.load_error_hint,
        )
        runner.run(intervals, ledger.unfinished_jobs(), summary)
        ledger.complete_runs()

    summary.requests = client.stats.requests
    summary.rate_limited = client.stats.rate_limited
    summary.server_errors = client.stats.server_errors + client.stats.connection_errors
    summary.elapsed_s = time.monotonic() - started
    log.info("%s", summary.line())
    return summary


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


@dataclass(frozen=True)
class _Page:
    job_id: str
    spooled: SpooledPage


@dataclass(frozen=True)
class _JobDone:
    job_id: str
    interval: Interval
    pages: int
    conversations: int
    data_availability_date: datetime | None


class _Stopped(Exception):
    """Another worker failed: stop quietly."""


class JobRunner:
    """Submits or resumes one job per interval, in parallel, and loads their pages."""

    def __init__(
        self,
        jobs: DetailJobs,
        ledger: Ledger,
        loader: Loader,
        spool: PageSpool,
        mask: Callable[[dict[str, Any]], dict[str, Any]],
        options: ExtractOptions,
        load_error_hint: Callable[[BaseException], str] = lambda exc: "",
    ) -> None:
        """`load_error_hint`: advice appended to a failed load's message
        (`Warehouse.load_error_hint`)."""
        self.jobs = jobs
        self.load_error_hint = load_error_hint
        self.ledger = ledger
        self.loader = loader
        self.spool = spool
        self.mask = mask
        self.options = options
        self.run_id = uuid.uuid4().hex
        # Unbounded: it carries file names; the spool's byte budget is the back-pressure.
        self._queue: queue.Queue[_Page | _JobDone] = queue.Queue()
        self._stop = threading.Event()
        self._decode_lock = threading.Lock()  # see DetailJobs.download
        self._failure: BaseException | None = None
        self._failure_lock = threading.Lock()
        self._counts_lock = threading.Lock()
        self._summary: ExtractSummary | None = None
        self.progress: Progress | None = None

    # ---------------------------------------------------------------- main thread

    def run(
        self, intervals: list[Interval], unfinished: list[LedgerJob], summary: ExtractSummary
    ) -> None:
        self._summary = summary
        work: list[tuple[Interval, LedgerJob | None]] = []
        for interval in intervals:
            previous = [job for job in unfinished if job.interval == interval]
            if any(job.state == states.DOWNLOADED for job in previous):
                summary.intervals_already_complete += 1
                continue
            resumable = next((j for j in previous if j.state in states.OPEN_STATES), None)
            work.append((interval, resumable))
        self.progress = Progress(len(intervals), quiet=self.options.quiet)
        self.progress.add(completed=summary.intervals_already_complete)
        try:
            with ThreadPoolExecutor(
                max_workers=max(1, self.options.max_parallel_jobs),
                thread_name_prefix="extract-job",
            ) as pool:
                futures = [pool.submit(self._work_guarded, iv, job) for iv, job in work]
                try:
                    self._load_until_done(lambda: all(f.done() for f in futures))
                except BaseException:
                    self._stop.set()
                    raise
        finally:
            self.progress.close()
        if self._failure is not None:
            raise self._failure

    def _load_until_done(self, workers_done: Callable[[], bool]) -> None:
        while True:
            item = self._next_item(workers_done)
            if item is None:
                return
            if isinstance(item, _JobDone):  # every earlier page is already committed
                self._mark_downloaded([item])
                continue
            finished: list[_JobDone] = []
            spooled: list[SpooledPage] = []
            load_started = time.monotonic()
            try:
                self.loader.load_files(
                    "conversations",
                    self._one_load(item, workers_done, finished, spooled),
                    "conversation_id",
                    CONVERSATION_HINTS,
                )
            except Exception as exc:
                if self._failure is not None:
                    raise self._failure from None
                raise ExtractError(
                    f"loading into the warehouse failed: {exc}{self.load_error_hint(exc)}"
                ) from exc
            self.spool.discard(spooled)
            heap.return_freed_memory()
            loaded = sum(page.rows for page in spooled)
            log.debug(
                "loaded %d conversations in %.2f s (%d jobs complete)",
                loaded,
                time.monotonic() - load_started,
                len(finished),
            )
            assert self.progress is not None and self._summary is not None
            self.progress.add(loaded=loaded)
            self._summary.conversations += loaded
            self._mark_downloaded(finished)

    def _one_load(
        self,
        first: _Page,
        workers_done: Callable[[], bool],
        finished: list[_JobDone],
        spooled: list[SpooledPage],
    ) -> Iterator[tuple[Path, int]]:
        """Page files for one dlt load: ends after a job completes (if nothing is waiting or the
        load is big enough) or at `commit_every` conversations."""
        item: _Page | _JobDone | None = first
        loaded = 0
        while item is not None:
            if isinstance(item, _Page):
                spooled.append(item.spooled)
                loaded += item.spooled.rows
                if item.spooled.rows:
                    yield item.spooled.path, item.spooled.rows
                if loaded >= self.options.commit_every:
                    return
            else:
                finished.append(item)
                if self._queue.empty() or loaded >= self.options.commit_every // 4:
                    return
            item = self._next_item(workers_done)

    def _next_item(self, workers_done: Callable[[], bool]) -> _Page | _JobDone | None:
        """The next page or job completion; None once every worker has finished."""
        while True:
            if self._failure is not None:
                raise self._failure
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                if workers_done() and self._queue.empty():
                    if self._failure is not None:
                        raise self._failure from None
                    return None

    def _mark_downloaded(self, done: list[_JobDone]) -> None:
        assert self.progress is not None
        for item in done:
            self.ledger.mark_downloaded(
                item.job_id, item.pages, item.conversations, item.data_availability_date
            )
            self.progress.add(completed=1)

    # ---------------------------------------------------------------- worker threads

    def _work_guarded(self, interval: Interval, resumable: LedgerJob | None) -> None:
        try:
            self._work(interval, resumable)
        except _Stopped:
            return
        except BaseException as exc:
            with self._failure_lock:
                if self._failure is None:
                    self._failure = (
                        exc
                        if isinstance(exc, ExtractError)
                        else ExtractError(f"{interval.label}: {exc}")
                    )
            self._stop.set()

    def _work(self, interval: Interval, resumable: LedgerJob | None) -> None:
        """Submit (or resume) a job for the interval, wait for it and stream its pages."""
        job_id = resumable.job_id if resumable else None
        attempt = resumable.attempt if resumable else 0
        attempts_this_run = 1 if resumable else 0
        if resumable:
            self._count(jobs_resumed=1)
            log.info("%s: resuming job %s from the ledger", interval.label, job_id)
        last_problem = ""
        while True:
            if job_id is None:
                if attempts_this_run >= self.options.max_attempts:
                    raise ExtractError(
                        f"interval {interval.label}: gave up after {attempts_this_run} jobs; "
                        f"last {last_problem}"
                    )
                attempts_this_run += 1
                attempt += 1
                self._check_stop()
                job_id = self.jobs.submit(interval.start, interval.end)
                self.ledger.record_submitted(job_id, self.run_id, interval, attempt)
                self._count(jobs_submitted=1, resubmissions=int(attempts_this_run > 1))
                self._progress(submitted=1)
            status = self._wait_for_job(job_id)
            if status.state.needs_resubmit:
                ledger_state = states.FAILED if status.state is JobState.FAILED else states.EXPIRED
                reason = status.state.value + (
                    f": {status.error_message[:200]}" if status.error_message else ""
                )
                self.ledger.set_state(job_id, ledger_state, reason)
                last_problem = f"job {job_id} {reason}"
                log.warning("%s: job %s %s; resubmitting", interval.label, job_id, reason)
                self._progress(resubmitted=1)
                job_id = None
                continue
            self.ledger.set_state(job_id, states.FULFILLED)
            self._progress(fulfilled=1)
            try:
                self._stream_results(interval, job_id)
                return
            except ResultsUnavailable as exc:
                self.ledger.set_state(job_id, states.EXPIRED, str(exc))
                last_problem = f"job {job_id} results refused: {exc}"
                log.warning("%s: results of job %s refused; resubmitting", interval.label, job_id)
                self._progress(resubmitted=1)
                job_id = None

    def _wait_for_job(self, job_id: str) -> JobStatus:
        delay = self.options.poll_initial_s
        marked_running = False
        self._progress(running=1)
        try:
            while True:
                self._check_stop()
                status = self.jobs.status(job_id)
                # The server's state decides expiry: its clock, not ours.
                if status.state is JobState.FULFILLED or status.state.needs_resubmit:
                    return status
                if not marked_running and status.state is JobState.PENDING:
                    marked_running = True
                    self.ledger.set_state(job_id, states.RUNNING)
                if self._stop.wait(delay):
                    raise _Stopped
                delay = min(delay * 1.5, self.options.poll_max_s)
        finally:
            self._progress(running=-1)

    def _stream_results(self, interval: Interval, job_id: str) -> None:
        totals = {"conversations": 0}
        availability: list[datetime | None] = [None]

        def on_page(
            conversations: Iterator[dict[str, Any]], page_availability: datetime | None
        ) -> None:
            table = self._page_table(conversations, job_id)
            try:
                spooled = self.spool.write(table, self._stop.is_set)
            except SpoolClosed:
                raise _Stopped from None
            del table
            self._put(_Page(job_id, spooled))
            totals["conversations"] += spooled.rows
            availability[0] = page_availability or availability[0]
            self._progress(pages=1, conversations=spooled.rows)
            self._count(pages=1)

        pages = self.jobs.download(
            job_id, on_page, self.options.page_size, decode_lock=self._decode_lock
        )
        self._put(_JobDone(job_id, interval, pages, totals["conversations"], availability[0]))

    def _page_table(self, conversations: Iterator[dict[str, Any]], job_id: str) -> pa.Table:
        """Mask a page into an Arrow table, one conversation at a time."""
        extracted_at = datetime.now(UTC)
        return conversations_table(map(self.mask, conversations), job_id, extracted_at)

    def _put(self, item: _Page | _JobDone) -> None:
        self._check_stop()
        self._queue.put(item)

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Stopped

    def _progress(self, **deltas: int) -> None:
        if self.progress is not None:
            self.progress.add(**deltas)

    def _count(self, **deltas: int) -> None:
        with self._counts_lock:
            for name, delta in deltas.items():
                setattr(self._summary, name, getattr(self._summary, name) + delta)


__all__ = [
    "ApiError",
    "ExtractError",
    "ExtractOptions",
    "ExtractSummary",
    "JobRunner",
    "PlanError",
    "run_extract",
]
