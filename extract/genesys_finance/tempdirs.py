"""Private per-run temporary directories that a crashed run does not leave behind for good.

A run removes its own directories when it ends; after a kill -9 they stay, so every new run
first deletes the directories of the same kind whose owning process is gone (the owner's pid
is part of the name). They only ever hold masked data.

The system temporary directory (`TMPDIR`) is the run's working folder: when it cannot be
written (permissions, a full disk, a quota, a file size limit), the error names it and says
what to do (`working_folder_problem`), whether at the start or in the middle of a run.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from genesys_finance.failures import RESUME_HINT, chain
from genesys_finance.settings import ConfigError


def working_folder() -> Path:
    """`TMPDIR` when it is set: the operator's choice, used or refused with a clear error, never
    silently swapped for /tmp as `tempfile.gettempdir()` does with an unwritable one. Else the
    system temporary directory."""
    chosen = os.environ.get("TMPDIR")
    return Path(chosen) if chosen else Path(tempfile.gettempdir())


def run_tempdir(kind: str, parent: str | None = None) -> Path:
    """A new directory `genesys-finance-<kind>-<pid>-<random>` (mode 0700) under `parent`
    (default: the working folder), after sweeping stale ones of the same kind."""
    root = Path(parent) if parent else working_folder()
    prefix = f"genesys-finance-{kind}-"
    try:
        for stale in root.glob(f"{prefix}*"):
            owner = stale.name.removeprefix(prefix).split("-", 1)[0]
            if owner.isdigit() and not _alive(int(owner)):
                shutil.rmtree(stale, ignore_errors=True)
        return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=root))
    except OSError as exc:
        # Before any data is fetched: a clear message, and nothing to lose.
        raise ConfigError(_message(root, exc)) from exc


# What a full or unwritable working folder raises (ENOTDIR: a file where it should be).
_FOLDER_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EFBIG,
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOTDIR,
    }
)


def _message(root: Path, exc: OSError) -> str:
    return (
        f"the working folder {root} cannot hold the run's temporary files "
        f"({exc.strerror or exc}); free space or allow writing there, or point TMPDIR at a "
        f"writable folder with free space; then {RESUME_HINT}"
    )


def working_folder_problem(exc: BaseException) -> str | None:
    """A clear message when `exc`, or an error it wraps (a worker's, dlt's), is the working
    folder refusing a write; None otherwise (an error naming another file is not blamed on
    the working folder: the DuckDB file's disk, say)."""
    root = working_folder()
    for error in chain(exc):
        if isinstance(error, OSError) and error.errno in _FOLDER_ERRNOS:
            filename = error.filename
            if filename is None or Path(os.fsdecode(filename)).is_relative_to(root):
                return _message(root, error)
            return None
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to clean
        return True
    return True
