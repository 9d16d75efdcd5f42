"""The pipeline's working folder (`TMPDIR`: spooled pages, load files, dlt's folder) failing for
real, on both targets: a full disk in the middle of a run (a small tmpfs mounted for the test),
and a folder the extractor's user cannot write (the CLI run as `nobody` through `setpriv`; root
ignores permissions). Each fails with an error naming the folder and what to do; the retry,
with the fault removed, ends with exactly the data of a clean run.

Mounting and changing user need root (the test machines and CI run as root); elsewhere these
tests skip locally and fail in CI, like the Postgres tests."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from genesys_finance.extraction import ExtractError
from genesys_finance.runner import ExtractOptions, run_extract
from genesys_finance.settings import Settings
from sim_fixtures import StartSimulator
from test_extract_support import (
    YEAR_SIM,
    YEAR_START,
    assert_exact,
    cli_env,
    cli_path,
    expected_conversations,
    ledger_rows,
)

END = date(2024, 4, 1)  # a quarter: three monthly jobs, ~1,800 conversations
OPTIONS = ExtractOptions(poll_initial_s=0.05, quiet=True, page_size=50, skip_dimensions=True)
FULL_DISK_BYTES = 1 << 20  # room for the run's folders and a few pages, not a quarter


def _require_root() -> None:
    if os.geteuid() != 0:
        message = "mounting a small filesystem and changing user need root"
        if os.environ.get("CI") or os.environ.get("GENESYS_FINANCE_REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def small_filesystem(path: Path, size: int) -> Iterator[Path]:
    """A tmpfs of `size` bytes at `path`: writes past it fail with ENOSPC, as on a full disk."""
    path.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=1777", "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=True)


def test_full_working_folder_mid_run_is_named_and_the_retry_is_exact(
    simulator: StartSimulator,
    warehouse: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _require_root()
    sim = simulator(**YEAR_SIM)
    settings = Settings(
        **{**warehouse.__dict__, "api_url": sim.base_url, "login_url": sim.base_url}
    )
    with small_filesystem(tmp_path / "small", FULL_DISK_BYTES) as small:
        monkeypatch.setenv("TMPDIR", str(small))
        with pytest.raises(ExtractError) as failure:
            run_extract(settings, YEAR_START, END, OPTIONS)
    message = str(failure.value)
    assert f"working folder {small} cannot hold" in message
    assert "No space left on device" in message
    assert "TMPDIR" in message and "run the same command again" in message
    assert ledger_rows(settings), "the disk filled mid-run, after jobs were submitted"

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    run_extract(settings, YEAR_START, END, OPTIONS)
    assert_exact(settings, expected_conversations(sim, settings, YEAR_START, END))


def _as_nobody(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    setpriv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
    return subprocess.run(
        [*setpriv, *command], env=env, capture_output=True, text=True, timeout=300
    )


def test_unwritable_working_folder_is_named_and_the_retry_is_exact(
    simulator: StartSimulator, warehouse: Settings
) -> None:
    _require_root()
    sim = simulator(**YEAR_SIM)
    # Folders `nobody` can reach (pytest's tmp_path sits under a root-only 0700 folder).
    with tempfile.TemporaryDirectory(prefix="gf-nobody-") as home:
        os.chmod(home, 0o755)
        locked, writable = Path(home) / "locked", Path(home) / "work"
        locked.mkdir(mode=0o755)  # root's: `nobody` may read it, not write it
        writable.mkdir()
        os.chown(writable, 65534, 65534)
        settings = Settings(
            **{
                **warehouse.__dict__,
                "api_url": sim.base_url,
                "login_url": sim.base_url,
                "duckdb_path": writable / "warehouse.duckdb",
            }
        )
        env = {**cli_env(settings), "HOME": str(writable), "TMPDIR": str(locked)}
        command = [
            str(cli_path()),
            "extract",
            "--start", YEAR_START.isoformat(),
            "--end", END.isoformat(),
            "--quiet",
            "--skip-dimensions",
            "--poll-interval", "0.05",
        ]  # fmt: skip
        refused = _as_nobody(command, env)
        assert refused.returncode == 2, refused.stderr[-2000:]
        assert f"working folder {locked} cannot hold" in refused.stderr
        assert "Permission denied" in refused.stderr and "TMPDIR" in refused.stderr

        done = _as_nobody(command, {**env, "TMPDIR": str(writable)})
        assert done.returncode == 0, done.stderr[-2000:]
        assert_exact(settings, expected_conversations(sim, settings, YEAR_START, END))
