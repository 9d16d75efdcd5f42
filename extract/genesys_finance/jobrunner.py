"""The detail-job state machine: submit or resume one job per interval, poll it, page its
results, mask them and hand masked pages to the caller in load-sized batches.

Threads: up to `max_parallel_jobs` workers each own one interval at a time (submit or resume a
job from the ledger, poll it with backoff, page its results, mask, write each page as a dlt load
file into the disk spool). The caller's thread iterates `JobRunner.batches()`: each batch is the
page files of one load (ending after a job completes, or at `commit_every` conversations); the
caller loads them (one dlt load), and asking for the next batch commits the previous one: its
spooled files are released and its completed jobs marked `downloaded` in the ledger. Workers
keep fetching while a load runs, so a run takes about as long as the slower of the two sides; a
month is never held in memory: a worker holds one raw page, one conversation is decoded at a
time, and masked pages wait on disk.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from genesys_finance import heap
from genesys_finance import ledger as states
from genesys_finance.api.jobs import DetailJobs, JobState, JobStatus, ResultsUnavailable
from genesys_finance.extraction import ExtractError, ExtractOptions, ExtractSummary
from genesys_finance.ledger import Ledger, LedgerJob
from genesys_finance.loadfiles import conversations_table
from genesys_finance.planner import Interval
from genesys_finance.progress import Progress
from genesys_finance.quarantine import QuarantinedConversation, screened
from genesys_finance.spool import PageSpool, SpoolClosed, SpooledPage
from genesys_finance.tempdirs import working_folder_problem

log = logging.getLogger("genesys_finance.extract")


@dataclass(frozen=True)
class _Page:
    job_id: str
    spooled: SpooledPage
    quarantined: tuple[QuarantinedConversation, ...] = ()


@dataclass(frozen=True)
class _JobDone:
    job_id: str
    interval: Interval
    pages: int
    conversations: int
    data_availability_date: datetime | None


class _Stopped(Exception):
    """Another worker failed: stop quietly."""


@dataclass
class LoadBatch:
    """The page files of one load, pulled from the workers as the loader reads `files`."""

    files: Iterator[tuple[Path, int]]
    """(path, rows) of load files in the spool's format; consume it once, to the end."""
    spooled: list[SpooledPage] = field(default_factory=list)
    quarantined: list[QuarantinedConversation] = field(default_factory=list)
    finished: list[_JobDone] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    worker_failure: Callable[[], BaseException | None] = lambda: None

    def raise_worker_failure(self) -> None:
        """Loading this batch failed: if a worker failed first, that is the cause to report."""
        failure = self.worker_failure()
        if failure is not None:
            raise failure from None


class JobRunner:
    """Submits or resumes one job per interval, in parallel, and yields their pages in batches."""

    def __init__(
        self,
        jobs: DetailJobs,
        ledger: Ledger,
        spool: PageSpool,
        mask: Callable[[dict[str, Any]], dict[str, Any]],
        options: ExtractOptions,
        quarantine: Callable[[list[QuarantinedConversation]], None] | None = None,
    ) -> None:
        self.jobs = jobs
        self.quarantine = quarantine
        self.ledger = ledger
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

    # ---------------------------------------------------------------- caller's thread

    def batches(
        self, intervals: list[Interval], unfinished: list[LedgerJob], summary: ExtractSummary
    ) -> Iterator[LoadBatch]:
        """Run the jobs of `intervals` (resuming `unfinished` ones) and yield load batches.

        The caller loads each batch's `files` (one load, committed) before asking for the next
        batch: resuming this generator is what commits a batch in the ledger. If the caller
        stops early or fails, the workers stop; a worker's failure is raised here."""
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
                    yield from self._batches_until_done(lambda: all(f.done() for f in futures))
                except BaseException:
                    self._stop.set()
                    raise
        finally:
            self.progress.close()
        if self._failure is not None:
            raise self._failure

    def _batches_until_done(self, workers_done: Callable[[], bool]) -> Iterator[LoadBatch]:
        while True:
            item = self._next_item(workers_done)
            if item is None:
                return
            if isinstance(item, _JobDone):  # every earlier page is already committed
                self._mark_downloaded([item])
                continue
            batch = LoadBatch(files=iter(()), worker_failure=lambda: self._failure)
            batch.files = self._one_load(item, workers_done, batch)
            yield batch
            self._committed(batch)

    def _committed(self, batch: LoadBatch) -> None:
        # Quarantined rows after their page's good rows are committed: a crash in between
        # downloads the job again, and the same (job, position) rows are then recorded.
        if batch.quarantined and self.quarantine is not None:
            self.quarantine(batch.quarantined)
        self.spool.discard(batch.spooled)
        heap.return_freed_memory()
        loaded = sum(page.rows for page in batch.spooled)
        log.debug(
            "loaded %d conversations in %.2f s (%d jobs complete)",
            loaded,
            time.monotonic() - batch.started,
            len(batch.finished),
        )
        assert self.progress is not None and self._summary is not None
        self.progress.add(loaded=loaded)
        self._summary.conversations += loaded
        self._summary.quarantined += len(batch.quarantined)
        self._mark_downloaded(batch.finished)

    def _one_load(
        self,
        first: _Page,
        workers_done: Callable[[], bool],
        batch: LoadBatch,
    ) -> Iterator[tuple[Path, int]]:
        """Page files for one dlt load: ends after a job completes (if nothing is waiting or the
        load is big enough) or at `commit_every` conversations."""
        item: _Page | _JobDone | None = first
        loaded = 0
        while item is not None:
            if isinstance(item, _Page):
                batch.spooled.append(item.spooled)
                batch.quarantined.extend(item.quarantined)
                loaded += item.spooled.rows
                if item.spooled.rows:
                    yield item.spooled.path, item.spooled.rows
                if loaded >= self.options.commit_every:
                    return
            else:
                batch.finished.append(item)
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
                    # (The wrapper is raised `from None` on the main thread: the message
                    # itself must say when the working folder is to blame.)
                    self._failure = (
                        exc
                        if isinstance(exc, ExtractError)
                        else ExtractError(f"{interval.label}: {working_folder_problem(exc) or exc}")
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
        totals = {"conversations": 0, "received": 0}
        availability: list[datetime | None] = [None]

        def on_page(
            conversations: Iterator[dict[str, Any]], page_availability: datetime | None
        ) -> None:
            quarantined: list[QuarantinedConversation] = []
            table = self._page_table(conversations, job_id, totals["received"], quarantined)
            totals["received"] += table.num_rows + len(quarantined)
            try:
                spooled = self.spool.write(table, self._stop.is_set)
            except SpoolClosed:
                raise _Stopped from None
            del table
            self._put(_Page(job_id, spooled, tuple(quarantined)))
            totals["conversations"] += spooled.rows
            availability[0] = page_availability or availability[0]
            self._progress(pages=1, conversations=spooled.rows)
            self._count(pages=1)

        pages = self.jobs.download(
            job_id, on_page, self.options.page_size, decode_lock=self._decode_lock
        )
        self._put(_JobDone(job_id, interval, pages, totals["conversations"], availability[0]))

    def _page_table(
        self,
        conversations: Iterator[dict[str, Any]],
        job_id: str,
        first_position: int,
        quarantined: list[QuarantinedConversation],
    ) -> pa.Table:
        """Mask a page into an Arrow table, one conversation at a time; the unusable ones go to
        `quarantined` instead."""
        extracted_at = datetime.now(UTC)
        usable = screened(conversations, self.mask, job_id, first_position, quarantined)
        return conversations_table(usable, job_id, extracted_at)

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
