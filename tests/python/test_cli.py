"""The CLI front: `--help` from static tables, one command's module imported, a broken command
fails alone."""

from __future__ import annotations

import subprocess
import sys

import pytest

from genesys_finance import cli


def test_help_lists_every_command_without_importing_any() -> None:
    code = (
        "import sys\n"
        "from genesys_finance import cli\n"
        "try:\n"
        "    cli.main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = [m for m in sys.modules if m.startswith(('genesys_finance.commands.', "
        "'genesys_sim', 'dlt', 'duckdb', 'psycopg2'))]\n"
        "print('LOADED', loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    for name, help_text in cli.HELPS.items():
        assert name in out and help_text.split()[0] in out
    assert "LOADED []" in out
    assert set(cli.HELPS) == set(cli.COMMANDS), "every command has its one-line help"


def test_a_broken_command_fails_alone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(cli.COMMANDS, "broken", "genesys_finance.commands.no_such_module")
    assert cli.main(["broken"]) == 1
    err = capsys.readouterr().err
    assert "genesys-finance broken: the command cannot be loaded" in err
    assert "ModuleNotFoundError" in err
    # The others still parse and run their own --help.
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["jobs", "--help"])
    assert exit_info.value.code == 0
    assert "--target" in capsys.readouterr().out
    # --help still lists the broken command (from the table), without loading it.
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "broken" in capsys.readouterr().out
