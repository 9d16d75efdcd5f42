"""`audit-pii`: seeded leaks are found (table, JSON payload, dbt artifact, log), a clean warehouse
passes, the org's own numbers are not hits, and no hit shows the value in clear."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genesys_finance import cli
from genesys_finance.audit_pii import Hit, PiiScanner, audit
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.settings import Settings
from genesys_finance.warehouse import connect

ORG = OrgNumbers.build(ranges=[("+13175550100", "+13175550199")], numbers=["+442079460000"])


def _kinds(text: str, names: tuple[str, ...] = ()) -> list[str]:
    return [kind for kind, _ in PiiScanner(ORG, names).scan(text)]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("tel:+15555550123", "phone number"),
        ("+44 7700 900123", "phone number"),
        ("sip:+15555550123@10.0.0.1;user=phone", "phone number"),
        ("sip:%2B34612345678@carrier", "phone number"),
        ("call me on (212) 555-0123 please", "phone number"),
        ("5555550100", "phone number"),  # raw caller digits as a participant name
        ("tel:+13175550200", "phone number"),  # next to the org's pool, not in it
        ("tel:+12345", "phone number"),  # E.164 with 5 digits: more than masking keeps
        ("jane.doe@example.com", "e-mail address"),
        ("sip:alex.agent%40example.com@localhost", "e-mail address"),
        ("Customer JANE DOE called", "name"),
    ],
)
def test_scanner_finds(text: str, kind: str) -> None:
    assert _kinds(text, ("Jane Doe",)) == [kind]


@pytest.mark.parametrize(
    "text",
    [
        "0100",
        "REDACTED",
        "tel:+13175550100",  # the org's pool, every spelling
        "+1 317 555 0142",
        "13175550199",
        "sip:+442079460000@edge.example;user=phone",
        "ca110000-0000-4000-8000-000000000001",
        "3f" * 32,  # an HMAC digest
        "2024-05-14T13:00:00.000Z/2024-06-01T00:00:00.000Z",
        "2024-05-14 13:00:00.5+00",
        "loaded 1733213456.123456 in 12.5 s",
        "select x * 60000000 where ltrim(x, '0123456789') = ''",
        "AC-104",
        "Jane Doerr and Janet Doe",  # names match as whole words only
        "1234",
        "sip:agent@localhost",  # no domain: not an address
    ],
)
def test_scanner_leaves_alone(text: str) -> None:
    assert _kinds(text, ("Jane Doe",)) == []


def test_json_is_read_as_json() -> None:
    document = {"metrics": [{"name": "tTalk", "value": 1234567}], "ani": "tel:+15555550123"}
    found = list(PiiScanner(ORG).scan_json(document))
    assert [(path, kind) for path, kind, _ in found] == [("$.ani", "phone number")]


def test_hints_never_show_the_value() -> None:
    scanner = PiiScanner(ORG, ("Jane Doe",))
    text = "Jane Doe, jane.doe@example.com, tel:+15555550123"
    hints = [hint for _, hint in scanner.scan(text)]
    assert len(hints) == 3
    for clear in ("Jane Doe", "jane.doe", "example.com", "5555550123", "15555550123"):
        assert not [h for h in hints if clear.lower() in h.lower()]


# -- a warehouse with seeded leaks ------------------------------------------------------------

LEAKS = {
    ("staging", "stg_leaky", "remote"): "tel:+15555550123",
    ("staging", "stg_leaky", "payload"): "jane.doe@example.com",
    ("finance", "fct_leaky", "note"): "Jane Doe",
}


def _seed(settings: Settings, clean: bool) -> None:
    json_type = "json" if settings.target == "duckdb" else "jsonb"
    remote = "0123" if clean else LEAKS["staging", "stg_leaky", "remote"]
    email = "REDACTED" if clean else LEAKS["staging", "stg_leaky", "payload"]
    note = "REDACTED" if clean else LEAKS["finance", "fct_leaky", "note"]
    payload = json.dumps({"participants": [{"sessions": [{"ani": "0100", "remote": email}]}]})
    statements = [
        "create schema genesys_raw",
        "create schema staging",
        "create schema finance",
        "create table genesys_raw.did_pools (id text, start_phone_number text, "
        "end_phone_number text)",
        "insert into genesys_raw.did_pools values ('p1', '+13175550100', '+13175550199')",
        "create table genesys_raw.dids (id text, phone_number text)",
        "insert into genesys_raw.dids values ('d1', '+442079460000')",
        f"create table staging.stg_leaky (session_id text, remote text, dnis_org_number text, "
        f"t_talk_ms bigint, payload {json_type})",
        f"insert into staging.stg_leaky values ('s1', '{remote}', '13175550142', 1234567, "
        f"'{payload}')",
        "insert into staging.stg_leaky values ('s2', 'REDACTED', '442079460000', 5, null)",
        "create table finance.fct_leaky (leg_id text, note text, amount decimal(18, 6))",
        f"insert into finance.fct_leaky values ('l1', '{note}', 12345678.5)",
        "create view finance.v_leaky as select leg_id, note from finance.fct_leaky",
    ]
    with connect(settings) as conn:
        cursor = conn.cursor()
        for statement in statements:
            cursor.execute(statement)


def _audit(settings: Settings, **kwargs: Any) -> list[Hit]:
    return audit(
        names=["Jane Doe"], connect=lambda: connect(settings), target=settings.target, **kwargs
    ).hits


def test_seeded_table_leaks_are_found(warehouse: Settings) -> None:
    _seed(warehouse, clean=False)
    hits = _audit(warehouse)
    found = {(h.location, h.where.split(",")[0], h.kind) for h in hits}
    assert found == {
        ("table staging.stg_leaky", "column remote", "phone number"),
        (
            "table staging.stg_leaky",
            "column payload $.participants[0].sessions[0].remote",
            "e-mail address",
        ),
        ("table finance.fct_leaky", "column note", "name"),
        ("table finance.v_leaky", "column note", "name"),
    }
    assert all("session_id s1" in h.where for h in hits if "stg_leaky" in h.location)
    # the org's numbers (pools, DIDs) in clear are not hits, in any table
    assert not [h for h in hits if "did" in h.location or "org_number" in h.where]
    shown = "\n".join(map(str, hits))
    assert not [value for value in LEAKS.values() if value.lower() in shown.lower()]


def test_clean_warehouse_passes(warehouse: Settings) -> None:
    _seed(warehouse, clean=True)
    report = audit(names=["Jane Doe"], connect=lambda: connect(warehouse), target=warehouse.target)
    assert report.hits == []
    assert report.tables >= 5  # the pools, the DIDs, both tables and the view were read


def test_policy_org_numbers_are_the_orgs_too(warehouse: Settings) -> None:
    _seed(warehouse, clean=False)
    hits = _audit(warehouse, policy_org_numbers=["+15555550123"])
    assert not [h for h in hits if h.kind == "phone number"]


# -- files: dbt artifacts and logs -------------------------------------------------------------


def _artifacts(root: Path, leak: bool) -> tuple[Path, Path]:
    target = root / "target"
    (target / "compiled" / "genesys_finance").mkdir(parents=True)
    description = "Caller Jane Doe on +15555550123" if leak else "The caller's last 4 digits."
    manifest = {"nodes": {"model.x": {"description": description, "rows": 98765432}}}
    (target / "manifest.json").write_text(json.dumps(manifest))
    sql = "select 'jane.doe@example.com' as x" if leak else "select 'REDACTED' as x"
    (target / "compiled" / "genesys_finance" / "m.sql").write_text(f"-- m\n{sql}\n")
    logs = root / "logs"
    logs.mkdir()
    line = "refused row: calling_number=2125550123" if leak else "refused row: line 12"
    (logs / "run.log").write_text(f"2024-05-01 10:00:00,123 INFO start\n{line}\n")
    return target, logs


def test_seeded_file_leaks_are_found(tmp_path: Path) -> None:
    target, logs = _artifacts(tmp_path, leak=True)
    report = audit(names=["Jane Doe"], paths=[target, logs], root=tmp_path)
    found = {(h.location, h.where, h.kind) for h in report.hits}
    assert found == {
        ("file target/manifest.json", "$.nodes.model.x.description", "name"),
        ("file target/manifest.json", "$.nodes.model.x.description", "phone number"),
        ("file target/compiled/genesys_finance/m.sql", "line 2", "e-mail address"),
        ("file logs/run.log", "line 2", "phone number"),
    }
    assert report.files == 3


def test_cli_exit_status_and_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = tmp_path / "names.txt"
    names.write_text("# the simulator's names\nJane Doe\n\n")
    leaky, clean = tmp_path / "leaky", tmp_path / "clean"
    leaky.mkdir()
    clean.mkdir()
    for root, leak in ((leaky, True), (clean, False)):
        target, logs = _artifacts(root, leak)
        args = ["audit-pii", "--no-warehouse", "--names-file", str(names)]
        status = cli.main([*args, "--dbt-target", str(target), "--log", str(logs)])
        out, err = capsys.readouterr()
        if leak:
            assert status == 1
            assert "4 hits" in err and "target/manifest.json" in out
            assert "Jane Doe" not in out + err and "5555550123" not in out + err
        else:
            assert status == 0, out
            assert "0 hits" in out


def test_cli_missing_names_file_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["audit-pii", "--no-warehouse", "--names-file", str(tmp_path / "no.txt")])
    assert status == 2
    assert "--names-file" in capsys.readouterr().err
