"""Private per-run temporary directories that a crashed run does not leave behind for good.

A run removes its own directories when it ends; after a kill -9 they stay, so every new run
first deletes the directories of the same kind whose owning process is gone (the owner's pid
is part of the name). They only ever hold masked data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from genesys_finance.settings import ConfigError


def run_tempdir(kind: str, parent: str | None = None) -> Path:
    """A new directory `genesys-finance-<kind>-<pid>-<random>` (mode 0700) under `parent`
    (default: the system temporary directory), after sweeping stale ones of the same kind."""
    root = Path(parent or tempfile.gettempdir())
    prefix = f"genesys-finance-{kind}-"
    try:
        for stale in root.glob(f"{prefix}*"):
            owner = stale.name.removeprefix(prefix).split("-", 1)[0]
            if owner.isdigit() and not _alive(int(owner)):
                shutil.rmtree(stale, ignore_errors=True)
        return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=root))
    except OSError as exc:
        # Before any data is fetched: a clear message, and nothing to lose.
        raise ConfigError(
            f"the working folder {root} cannot hold the run's temporary files "
            f"({exc.strerror or exc}); point TMPDIR at a writable folder with free space"
        ) from exc


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to clean
        return True
    return True
