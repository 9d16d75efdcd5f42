"""A disk buffer of masked result pages between the job workers and the loader.

Workers write each masked page as a finished dlt load file (csv for Postgres, parquet for
DuckDB: `loadfiles.write_load_file`) and move on to the next page; the loader hands the files to
dlt, which imports them as they are, and deletes them once dlt has committed them. Fetching
therefore overlaps loading (a slow load no longer stalls every worker), the file conversion runs
in the workers rather than in the one loading thread, and what waits to be loaded is bounded by
`max_bytes` of disk rather than held in RAM. Only masked data is ever spooled; the
directory is private (mode 0700), removed when the run ends, and swept by the next run after a
crash (a new run never reads an old spool: the job ledger decides what is fetched again).
"""

from __future__ import annotations

import itertools
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from genesys_finance.loadfiles import LoadFileFormat, write_load_file
from genesys_finance.tempdirs import run_tempdir

DEFAULT_MAX_BYTES = 1 << 30
"""Masked pages waiting to be loaded (~5 MB per 1,000 conversations): about 200,000."""


class SpoolClosed(RuntimeError):
    """The spool was closed while a writer waited for room."""


@dataclass(frozen=True)
class SpooledPage:
    path: Path
    rows: int
    size: int


class PageSpool:
    """Load files in a private temporary directory, with a byte budget for writers."""

    def __init__(
        self,
        max_bytes: int = DEFAULT_MAX_BYTES,
        directory: str | None = None,
        file_format: LoadFileFormat = "parquet",
    ) -> None:
        self.max_bytes = max_bytes
        self.file_format = file_format
        self.directory = run_tempdir("spool", directory)
        self._pending_bytes = 0
        self._room = threading.Condition()
        self._sequence = itertools.count()
        self._closed = False

    @property
    def pending_bytes(self) -> int:
        with self._room:
            return self._pending_bytes

    def write(self, table: pa.Table, should_stop: Callable[[], bool] | None = None) -> SpooledPage:
        """Spool a page; blocks while the budget is used up (one page always fits)."""
        path = self.directory / f"{next(self._sequence):08d}.{self.file_format}"
        write_load_file(table, path, self.file_format)
        page = SpooledPage(path, table.num_rows, path.stat().st_size)
        with self._room:
            while self._pending_bytes and self._pending_bytes + page.size > self.max_bytes:
                if self._closed or (should_stop is not None and should_stop()):
                    path.unlink(missing_ok=True)
                    raise SpoolClosed("the run stopped while a page waited for spool space")
                self._room.wait(timeout=0.2)
            self._pending_bytes += page.size
        return page

    def discard(self, pages: list[SpooledPage]) -> None:
        """Delete loaded pages and give their bytes back to the writers."""
        for page in pages:
            page.path.unlink(missing_ok=True)
        with self._room:
            self._pending_bytes -= sum(page.size for page in pages)
            self._room.notify_all()

    def close(self) -> None:
        with self._room:
            self._closed = True
            self._room.notify_all()
        shutil.rmtree(self.directory, ignore_errors=True)
