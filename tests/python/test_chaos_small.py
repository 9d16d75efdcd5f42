"""A small chaos run (`bench/chaos_extract.py`): the extractor killed with SIGKILL at random
points of a two-month extraction and restarted ends with exactly the clean run's rows, no
duplicate row and no valid job submitted twice (the simulator's request log); both targets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "chaos_extract.py"


def test_small_chaos_run_is_exact(target: str, request: pytest.FixtureRequest) -> None:
    if target == "postgres":
        request.getfixturevalue("postgres_database")  # skips (or fails in CI) without a server
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--kills", "3", "--start", "2024-01-01",
         "--end", "2024-03-01", "--seed", "5", "--target", target],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    report = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert report["target"] == target
    assert int(report["clean_rows"]) > 200
    assert report["same_rows_as_clean"] == "True"
    assert report["duplicate_rows"] == "0"
    assert report["valid_jobs_submitted_twice"] == "0"
    assert int(report["kills"]) >= 1  # at least one kill landed before the run finished
