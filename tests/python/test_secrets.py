"""Secrets never appear (issue #16): after a real `run` (extract + CDRs + dbt build) against the
simulator, and after two failures (refused credentials, an unreachable database), neither the
client secret, any token the simulator issued, the HMAC key nor the database password is in the
output or logs, an error message, a dbt artifact, any table (the job ledger and dlt's state
included) or a file left in the run's temporary folders."""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import traceback
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from genesys_finance import cli
from genesys_finance.audit_pii import list_relations
from genesys_finance.settings import PROJECT_ROOT, Settings
from genesys_finance.warehouse import connect
from genesys_sim.auth import TokenStore
from genesys_sim.carrier import write_cdr_files
from sim_fixtures import StartSimulator
from test_extract_support import cli_env

START, END = date(2024, 5, 1), date(2024, 5, 4)
CLIENT_SECRET = "client-secret-7f3a9c1e"
WRONG_SECRET = "wrong-secret-55d0b7a2"
HMAC_KEY = "hmac-key-1b2c3d4e5f6a"
DB_PASSWORD = "db-password-9e8d7c6b"


def _cells(settings: Settings) -> list[str]:
    """Every non-null value of every text-like column of every table and view, as text; dlt's
    compressed pipeline state decompressed."""
    from dlt.pipeline.state_sync import decompress_state

    values: list[str] = []
    with connect(settings) as conn:
        cursor = conn.cursor()
        for (schema, table), columns in list_relations(conn, settings.target).items():
            for column in columns:
                cursor.execute(
                    f'select cast("{column.name}" as varchar) from "{schema}"."{table}" '
                    f'where "{column.name}" is not null'
                )
                found = [str(value) for (value,) in cursor.fetchall()]
                if table == "_dlt_pipeline_state" and column.name == "state":
                    found += [str(decompress_state(value)) for value in found]
                values += found
    return values


def _files(*roots: Path) -> list[tuple[Path, str]]:
    return [
        (path, path.read_text("utf-8", errors="ignore"))
        for root in roots
        if root.exists()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    ]


def _cli(args: list[str]) -> tuple[int | None, str]:
    """Exit status and the text of an exception the command raised (its traceback included)."""
    try:
        return cli.main(args), ""
    except Exception:  # an unhandled failure: its message must not leak either
        return None, traceback.format_exc()


def test_secrets_never_appear(
    simulator: StartSimulator,
    warehouse: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    issued: list[str] = []
    issue = TokenStore.issue

    def recording_issue(self: TokenStore, client_id: str, now: datetime) -> str:
        token = issue(self, client_id, now)
        issued.append(token)
        return token

    monkeypatch.setattr(TokenStore, "issue", recording_issue)
    run_tmp = tmp_path / "tmp"
    run_tmp.mkdir()
    # The run's spool and dlt folders (TMPDIR: the working folder); tempfile's too, for dbt's.
    monkeypatch.setenv("TMPDIR", str(run_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(run_tmp))
    sim = simulator(
        start=START, end=END, conversations_per_day=10, client_secret=CLIENT_SECRET,
        token_lifetime_s=3,
    )  # fmt: skip
    settings = dataclasses.replace(
        warehouse,
        api_url=sim.base_url,
        login_url=sim.base_url,
        client_secret=CLIENT_SECRET,
        hmac_key=HMAC_KEY.encode(),
        postgres=dataclasses.replace(warehouse.postgres, password=DB_PASSWORD),  # trust auth
    )
    for name, value in cli_env(settings).items():
        monkeypatch.setenv(name, value)
    files = write_cdr_files(sim.generator, START, END, tmp_path / "cdrs", seed=5)
    dbt_target = tmp_path / "dbt-target"
    caplog.set_level(logging.DEBUG)

    status, crash = _cli(
        [
            "-v", "run",
            "--start", START.isoformat(), "--end", END.isoformat(),
            "--poll-interval", "0.1",
            "--cdrs", *map(str, files.cdr_paths),
            "--dbt-target-path", str(dbt_target),
        ]
    )  # fmt: skip
    assert (status, crash) == (0, "")
    assert issued, "the simulator issued no token"

    # Failures print errors: refused credentials, and (Postgres) a database that is not there.
    monkeypatch.setenv("GENESYS_CLIENT_SECRET", WRONG_SECRET)
    refused, refused_crash = _cli(["-v", "extract", "--start", "2024-05-01", "--end", "2024-05-02"])
    assert refused != 0
    monkeypatch.setenv("GENESYS_CLIENT_SECRET", CLIENT_SECRET)
    db_crash = ""
    if settings.target == "postgres":
        monkeypatch.setenv("PGPORT", "1")  # nothing listens there
        down, db_crash = _cli(["-v", "jobs"])
        assert down != 0
        monkeypatch.setenv("PGPORT", str(settings.postgres.port))

    out, err = capfd.readouterr()
    assert "refused the client credentials" in out + err + caplog.text + refused_crash
    haystacks: list[tuple[str, str]] = [
        ("stdout", out),
        ("stderr", err),
        ("log records", caplog.text),
        ("refused-credentials error", refused_crash),
        ("database error", db_crash),
    ]
    haystacks += [(f"file {p}", text) for p, text in _files(dbt_target, PROJECT_ROOT / "logs")]
    haystacks += [(f"temporary file {p}", text) for p, text in _files(run_tmp)]
    cells = _cells(settings)
    assert len(cells) > 500  # tables were read, ledger included
    haystacks += [("warehouse", "\n".join(cells))]
    assert any(name.endswith("manifest.json") for name, _ in haystacks)

    secrets: dict[str, str] = {
        "client secret": CLIENT_SECRET,
        "wrong client secret": WRONG_SECRET,
        "HMAC key": HMAC_KEY,
        "database password": DB_PASSWORD,
        **{f"token {i}": token for i, token in enumerate(issued)},
    }
    leaks: list[Any] = [
        (what, where)
        for what, secret in secrets.items()
        for where, text in haystacks
        if secret in text
    ]
    assert leaks == []
