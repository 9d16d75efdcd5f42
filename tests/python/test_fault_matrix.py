"""Faults `test_extract_faults.py` does not cover, each followed by a run that completes with
exactly the data of a clean run: an unusable working folder (the pipeline's temporary files)."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pytest

from genesys_finance.runner import ExtractOptions, run_extract
from genesys_finance.settings import ConfigError, Settings
from sim_fixtures import StartSimulator
from test_extract_support import assert_exact, expected_conversations, ledger_rows

START, END = date(2024, 5, 1), date(2024, 5, 8)
OPTIONS = ExtractOptions(poll_initial_s=0.05, quiet=True, page_size=50, skip_dimensions=True)


def test_unusable_working_folder_is_named_and_nothing_is_lost(
    simulator: StartSimulator,
    warehouse: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = simulator()
    settings = Settings(
        **{**warehouse.__dict__, "api_url": sim.base_url, "login_url": sim.base_url}
    )
    blocked = tmp_path / "work"
    blocked.write_text("a file where the working folder should be")
    monkeypatch.setattr(tempfile, "tempdir", str(blocked))
    with pytest.raises(ConfigError, match="TMPDIR") as failure:
        run_extract(settings, START, END, OPTIONS)
    assert f"working folder {blocked} cannot hold" in str(failure.value)

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    run_extract(settings, START, END, OPTIONS)
    assert_exact(settings, expected_conversations(sim, settings, START, END))
    assert {row["state"] for row in ledger_rows(settings)} <= {"downloaded", "failed", "expired"}
