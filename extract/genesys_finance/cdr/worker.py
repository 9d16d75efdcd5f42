"""Parsing CDR files on a process of its own, while the calling process loads what it wrote.

Parsing is Python (Arrow kernels, a keyed hash per Call-ID, a hash per line id) and so is dlt's
share of a load; on one process they share one GIL, so a parsing thread beside the loads left
both at ~7 s of 1M rows (measured). A spawned child parses the files, writes each batch as a
finished load file and reports it; the parent loads the files as they come and collects the
counts, rejects and repeat candidates of each file. A failure on either side stops both: the
child's exception is raised in the parent, and a parent that stops early ends its child.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genesys_finance.cdr.mask import CdrMasker
from genesys_finance.cdr.parse import CdrReject, FileContext

log = logging.getLogger(__name__)

# Load files written and not yet loaded, at most (each ~50k rows, ~25 MB of csv): bounds the
# temporary disk when parsing outruns the loads.
MAX_PENDING_FILES = 20
# Rows of a load file, written batch by batch (`loadfiles.LoadFileWriter`: the parser's 10k-row
# batches keep the parsing process's memory down whatever the file's size). Fewer files than
# the 20k rows before: each is a COPY job of dlt's, and a load still finds several ready, so
# the loads can shrink towards the end of the parsing (`Parsing.ready_files`).
LOAD_FILE_ROWS = 50_000
_POLL_SECONDS = 0.5


@dataclass
class FileResult:
    """What the child found in one file (the parent's `FileReport` takes these)."""

    index: int  # in the `contexts` given
    rows_read: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    reasons: list[str] = field(default_factory=list)
    # Lines that may repeat another line of the file (`load.repeat_candidates`); None: any.
    repeat_lines: list[int] | None = field(default_factory=list)


@dataclass(frozen=True)
class LoadFile:
    path: Path
    rows: int


class ParseError(RuntimeError):
    """The parsing process failed with an exception that could not be sent back as is."""


class Parsing:
    """The child process and its messages: load files as they are written, each file's result
    when it is done, then the rejects. Use as a context manager (ends the child on exit).

    The child starts at once (a fresh interpreter and its imports, ~0.5 s) and waits for its
    work (`start`), so its start overlaps the files' hashing in the parent."""

    def __init__(self) -> None:
        # spawn, not fork: the parent holds threads (dlt, Arrow's pools) that fork would copy
        # in an unknown state.
        mp = multiprocessing.get_context("spawn")
        self._jobs: Any = mp.Queue(maxsize=1)
        self._queue: Any = mp.Queue(maxsize=MAX_PENDING_FILES)
        self._process = mp.Process(
            target=_run, args=(self._jobs, self._queue), name="cdr-parse", daemon=True
        )
        self.results: list[FileResult] = []
        self.rejects: list[CdrReject] = []
        self.done = False
        self.started = False
        self._process.start()

    def start(
        self,
        contexts: list[FileContext],
        masker: CdrMasker,
        carrier: str | None,
        folder: Path,
        file_format: str,
    ) -> None:
        """Parse `contexts`, writing load files into `folder`."""
        self._jobs.put((contexts, masker, carrier, folder, file_format))
        self.started = True

    def __enter__(self) -> Parsing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Ends the child: told there is no work when it got none, else terminated if it still
        runs (the parent stopped early); then reaped."""
        if not self.started:
            self._jobs.put(None)
            self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._jobs.close()
        self._queue.close()

    def _next(self, block: bool) -> Any | None:
        """The next message (None when none is ready and `block` is false)."""
        while True:
            try:
                return self._queue.get(block=block, timeout=_POLL_SECONDS if block else None)
            except queue.Empty:
                if not block:
                    return None
                if not self._process.is_alive() and self._queue.empty():
                    code = self._process.exitcode
                    raise ParseError(f"the CDR parsing process ended (exit code {code})") from None

    def _take(self, message: Any) -> LoadFile | None:
        kind, value = message
        if kind == "file":
            return LoadFile(*value)
        if kind == "result":
            self.results.append(value)
        elif kind == "rejects":
            self.rejects.extend(value)
        elif kind == "done":
            self.done = True
            log.info("CDR parsing process: peak RSS %.0f MB", value)
        elif kind == "error":
            raise value
        return None

    def ready_files(self, min_rows: int, expected_rows: int = 0) -> Iterator[list[LoadFile]]:
        """Groups of the load files written: each at least `min_rows` rows (the last may be
        fewer), plus every file already written when it reaches them. A loader that takes
        what is ready makes few loads (each has a fixed cost) while the parsing goes on.
        `expected_rows` (about the rows to come, 0: unknown): near the end a group needs only
        half the rows still to come, so the load left after the parsing is a small one."""
        group: list[LoadFile] = []
        rows = taken = 0
        while not self.done:
            enough = min(min_rows, max((expected_rows - taken) // 2, 1))
            blocking = rows < (enough if expected_rows else min_rows)
            message = self._next(block=blocking)
            if message is None:  # nothing more ready, and the group is big enough
                yield group
                group, taken, rows = [], taken + rows, 0
                continue
            item = self._take(message)
            if item is not None:
                group.append(item)
                rows += item.rows
        if group:
            yield group


def _run(jobs: Any, out: Any) -> None:
    """The child: once its work comes, every file's batches written as load files, reported
    one by one."""
    import pyarrow as pa
    import pyarrow.compute  # (imported while the parent hashes the files)

    import genesys_finance.cdr.files  # noqa: F401

    _use_jemalloc(pa)

    job = jobs.get()
    if job is None:
        return
    contexts, masker, carrier, folder, file_format = job
    try:
        _parse_all(contexts, masker, carrier, folder, file_format, out)
    except BaseException as exc:  # raised again in the parent
        out.put(("error", _sendable(exc)))
        raise SystemExit(1) from None
    out.put(("done", _peak_rss_mb()))
    out.close()
    out.join_thread()


def _parse_all(
    contexts: list[FileContext],
    masker: CdrMasker,
    carrier: str | None,
    folder: Path,
    file_format: str,
    out: Any,
) -> None:
    from genesys_finance.cdr import load
    from genesys_finance.cdr.batch import BatchParser
    from genesys_finance.cdr.files import parsed_batches
    from genesys_finance.cdr.parse import RowParser
    from genesys_finance.loadfiles import LoadFileWriter

    schema = load.arrow_schemas()[0]
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    writer: LoadFileWriter | None = None  # the load file being written

    def finish() -> None:
        nonlocal writer
        if writer is not None:
            writer.close()
            out.put(("file", (writer.path, writer.rows)))
            writer = None

    for index, ctx in enumerate(contexts):
        result = FileResult(index)
        keys = []
        parser = BatchParser(RowParser(ctx, masker, carrier), schema)
        for table, bad, read in parsed_batches(ctx, parser):
            result.rows_read += read
            result.rows_valid += table.num_rows
            result.rows_rejected += len(bad)
            result.reasons.extend(reject.reason for reject in bad)
            if bad:
                out.put(("rejects", bad))
            if table.num_rows:
                keys.append(load.repeat_keys(table))
                if writer is None:
                    path = folder / f"{written:06d}.{file_format}"
                    writer = LoadFileWriter(path, schema, file_format)  # type: ignore[arg-type]
                    written += 1
                writer.write(table)
                if writer.rows >= LOAD_FILE_ROWS:
                    finish()
        finish()
        result.repeat_lines = load.repeat_candidates(keys)
        out.put(("result", result))


def _use_jemalloc(pa: Any) -> None:
    """Arrow's jemalloc pool for this process where the build has it, giving freed pages back
    at once: each batch's buffers are freed before the next is read, and the default mimalloc
    pool kept them. Peak of the parsing process, 1M generic rows (measured): 241 MB on
    mimalloc and 201 MB on jemalloc at 20k-row batches; at 10k-row batches 160-164 MB on
    jemalloc, 153 MB with no decay delay; no rate lost that a loaded machine could show."""
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(0)
    except NotImplementedError:  # a pyarrow built without jemalloc keeps its default
        pass


def _sendable(exc: BaseException) -> BaseException:
    """`exc` if it survives pickling, else a ParseError with its type and message."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return ParseError(f"{type(exc).__name__}: {exc}")
    return exc


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), for the log; 0 where /proc has none."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
