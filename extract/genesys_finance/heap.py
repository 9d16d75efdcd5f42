"""Keep freed memory from staying resident during an extraction (glibc and Arrow's mimalloc).

A run decodes, masks and loads pages of ~5 MB over and over; the bytes freed after each page were
kept by the allocators rather than returned to the OS, and the peak RSS of a Postgres run on
30,000 conversations was 411 MB. Measured on the same run (bench/RESULTS.md):

* Arrow's default pool (mimalloc) purges freed pages after a delay; with `MIMALLOC_PURGE_DELAY=0`
  it does so at once: 411 -> 324 MB, no measurable cost. mimalloc reads the option when it first
  allocates, so the package sets it (`genesys_finance/__init__.py`) before pyarrow is imported.
* glibc raises its trim threshold as big blocks come and go (up to 64 MB per arena); pinning it
  at 1 MiB with both: 297 MB.
* glibc gives each thread that allocates its own arena (up to 8 per core), and each keeps its
  own freed memory: the job workers, dlt's loader threads and Arrow's. At most 2 arenas, once
  pages were decoded conversation by conversation (100k conversations): 300-310 -> 268 MB, at
  the same throughput.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

TRIM_THRESHOLD_BYTES = 1 << 20
MAX_ARENAS = 2
# mallopt parameter numbers, glibc <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_ARENA_MAX = -8


def _load_libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_LIBC = _load_libc()


def limit_retention() -> None:
    """Have glibc give back free heap tops above 1 MiB (fixing its otherwise dynamic threshold)
    and share at most 2 arenas between threads. Call before the run's threads start.

    Process-wide and idempotent; a no-op where the C library is not glibc."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
        _LIBC.mallopt(_M_ARENA_MAX, MAX_ARENAS)


def return_freed_memory() -> None:
    """Give every arena's free pages back to the OS now (after a load: dlt's normalize and the
    driver's COPY free their buffers in one go). Lowered the steady RSS between loads of a
    Postgres run by 30-80 MB (measured). A no-op where the C library is not glibc."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
