"""One run at a time per warehouse: an advisory lock, held for a whole `extract`, `run`, `demo`,
`load-cdrs` or `build` (a build must not read raw tables a load is still writing: an incremental
model's watermark would pass over lines committed after it).

Two runs at once would submit the same jobs twice and interleave their ledger writes (and on
DuckDB the second would fail on the file lock with a message that says nothing of why). The
second run waits up to `wait_s` for the first, then stops with a message naming the holder.
Postgres: a session-level `pg_advisory_lock` under `lock_timeout`, on its own connection (freed
by the server if the process dies). DuckDB: `flock` on a lock file beside the database file
(freed by the kernel if the process dies). Re-entrant within a process: `run` holds it and
calls `extract`, which takes it again for free (in the same thread).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_WAIT_S = 60.0
ADVISORY_KEY = 0x47465830
"""`pg_advisory_lock` key of genesys-finance runs (below 2**31: pg_locks shows it as objid)."""

_held: dict[str, int] = {}
_held_lock = threading.Lock()


class RunLockBusy(RuntimeError):
    """Another run holds the warehouse's run lock; the message says which and for how long."""


@contextmanager
def reentrant(identity: str, acquire: Callable[[], AbstractContextManager[Any]]) -> Iterator[None]:
    """Take the lock named `identity` unless this thread already holds it (another thread of the
    same process waits like another process would)."""
    key = f"{identity}@{threading.get_ident()}"
    with _held_lock:
        nested = _held.get(key, 0) > 0
        if nested:
            _held[key] += 1
    if nested:
        try:
            yield
        finally:
            with _held_lock:
                _held[key] -= 1
        return
    with acquire():
        with _held_lock:
            _held[key] = 1
        try:
            yield
        finally:
            with _held_lock:
                _held.pop(key, None)


@contextmanager
def file_lock(path: Path, wait_s: float) -> Iterator[None]:
    """An exclusive `flock` on `path`, waiting at most `wait_s`; the holder's pid and start are
    written into the file for the next run's message."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                    raise RunLockBusy(
                        f"another genesys-finance run is using this warehouse ({holder}; lock "
                        f"file {path}); waited {wait_s:g} s. Let it finish, or raise the wait "
                        "with --lock-wait."
                    ) from None
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {_now()}".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def advisory_lock(
    connect: Callable[[], AbstractContextManager[Any]], wait_s: float
) -> Iterator[None]:
    """`pg_advisory_lock(ADVISORY_KEY)` on a connection of its own, waiting at most `wait_s`."""
    import psycopg2.errors

    with connect() as conn:
        cur = conn.cursor()
        cur.execute(f"set lock_timeout = {max(1, int(wait_s * 1000))}")
        try:
            cur.execute("select pg_advisory_lock(%s)", (ADVISORY_KEY,))
        except psycopg2.errors.LockNotAvailable:
            raise RunLockBusy(
                f"another genesys-finance run is using this warehouse ({_pg_holder(conn)}); "
                f"waited {wait_s:g} s. Let it finish, or raise the wait with --lock-wait."
            ) from None
        cur.execute("set lock_timeout = 0")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # a dead connection has released it already
                cur.execute("select pg_advisory_unlock(%s)", (ADVISORY_KEY,))


def _pg_holder(conn: Any) -> str:
    cur = conn.cursor()
    cur.execute(
        "select a.pid, a.client_addr, a.backend_start from pg_locks l "
        "join pg_stat_activity a on a.pid = l.pid "
        "where l.locktype = 'advisory' and l.classid = 0 and l.objid = %s and l.granted",
        (ADVISORY_KEY,),
    )
    row = cur.fetchone()
    if row is None:
        return "holder unknown"
    pid, addr, since = row
    origin = f" from {addr}" if addr else ""
    return f"server backend pid {pid}{origin}, since {since:%Y-%m-%d %H:%M:%S %Z}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
