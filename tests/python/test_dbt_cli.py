"""The dbt launcher (`python -m genesys_finance.dbt_cli`): dbt's own CLI, with the import frozen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from genesys_finance.dbt_runner import dbt_executable


def _launch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*dbt_executable(), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
    )


def test_the_launcher_is_dbts_cli_with_its_output_and_exit_status() -> None:
    version = _launch("--version")
    assert version.returncode == 0
    assert "installed: 1.11." in version.stdout
    unknown = _launch("no-such-command")
    assert unknown.returncode == 2  # click's usage error, as `dbt no-such-command` exits
    assert "No such command" in unknown.stderr


def test_the_import_of_dbt_is_kept_out_of_later_collections() -> None:
    probe = (
        "import gc\n"
        "from genesys_finance.dbt_cli import load_dbt_cli\n"
        "load_dbt_cli()\n"
        "print(gc.get_freeze_count(), gc.isenabled())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    frozen, enabled = out.stdout.split()
    # dbt's import builds a few hundred thousand objects; the collector runs again afterwards
    assert int(frozen) > 100_000
    assert enabled == "True"


def test_a_folder_in_the_project_cannot_shadow_what_dbt_imports(tmp_path: Path) -> None:
    """dbt runs with the project as its working directory; a `dbt` folder there is not dbt."""
    shadow = tmp_path / "dbt"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('the project folder was imported')\n")
    version = _launch("--version", cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert "installed: 1.11." in version.stdout
