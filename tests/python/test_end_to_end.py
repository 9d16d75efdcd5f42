"""The whole job through the CLI (`run`: extract + CDRs + dbt build) on both targets, then a leak
hunt: no clear PII from the simulator or the CDR files in any table of any schema the product
writes, and neither the HMAC key nor clear PII in any dbt artifact."""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import pytest

from genesys_finance import cli
from genesys_finance import warehouse as wh
from genesys_finance.commands.demo import demo_range
from genesys_finance.org_numbers import OrgNumbers, e164_digits
from genesys_finance.settings import Settings
from genesys_sim.carrier import write_cdr_files
from genesys_sim.catalog import in_org_pool
from sim_fixtures import StartSimulator
from test_extract_support import cli_env

_ORG_FORM = re.compile(r"(tel:)?\+?[0-9]+")  # E.164 forms of a number: tel:+, +, digits
_NAME = re.compile(r"[A-Z][a-z]+(?: [A-Z][A-Za-z']+)+")  # the simulator's "First Last" names
SCHEMAS = ("genesys_raw", "carrier_raw", "staging", "intermediate", "finance")
START, END = date(2024, 5, 1), date(2024, 5, 5)


def _text_cells(settings: Settings) -> list[tuple[str, str]]:
    """(schema.table.column, value) for every non-null text/JSON cell the product wrote."""
    columns = wh.query(
        settings,
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema in ('" + "', '".join(SCHEMAS) + "') and lower(data_type) in "
        "('text', 'character varying', 'varchar', 'json', 'jsonb')",
    )
    cells: list[tuple[str, str]] = []
    for schema, table, column in columns:
        for (value,) in wh.query(
            settings,
            f'select cast("{column}" as text) from "{schema}"."{table}" '
            f'where "{column}" is not null',
        ):
            cells.append((f"{schema}.{table}.{column}", str(value)))
    return cells


def _cdr_clear_values(paths: list[Path]) -> set[str]:
    values: set[str] = set()
    for path in paths:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                for field in ("sip_call_id", "calling_number", "called_number"):
                    if not row.get(field) or in_org_pool(row[field].lstrip("+")):
                        continue  # the org's own numbers stay in clear (DESIGN.md)
                    values.add(row[field])
                    values.add(row[field].lstrip("+"))
    return values


def test_run_lands_everything_masked(
    simulator: StartSimulator,
    warehouse: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = simulator(start=START, end=END, conversations_per_day=15)
    settings = Settings(
        **{**warehouse.__dict__, "api_url": sim.base_url, "login_url": sim.base_url}
    )
    files = write_cdr_files(sim.generator, START, END, tmp_path / "cdrs", seed=3)
    for name, value in cli_env(settings).items():
        monkeypatch.setenv(name, value)
    dbt_target = tmp_path / "dbt-target"

    status = cli.main(
        [
            "run",
            "--start", START.isoformat(),
            "--end", END.isoformat(),
            "--quiet",
            "--poll-interval", "0.1",
            "--cdrs", *map(str, files.cdr_paths),
            "--dbt-target-path", str(dbt_target),
        ]
    )  # fmt: skip
    assert status == 0

    generated = [
        c for day in range(4) for c in sim.generator.conversations_for_day(date(2024, 5, 1 + day))
    ]
    (landed,) = wh.query(settings, "select count(*) from genesys_raw.conversations")
    assert landed[0] == len({c["conversationId"] for c in generated}) > 0
    (legs,) = wh.query(settings, "select count(*) from intermediate.int_voice_legs")
    assert legs[0] > 0
    (cdrs,) = wh.query(settings, "select count(*) from carrier_raw.cdrs")
    assert cdrs[0] > 0

    needles = {v for c in generated for v in sim.generator.pii_values(c) if len(v) >= 5}
    needles |= {v for v in _cdr_clear_values(files.cdr_paths) if len(v) >= 5}
    # The org's own numbers (its DID pools and DIDs) stay in clear by design: not needles.
    org = OrgNumbers.build(
        [(p["startPhoneNumber"], p["endPhoneNumber"]) for p in sim.generator.did_pools()],
        [d["phoneNumber"] for d in sim.generator.dids()],
    )
    needles -= {v for v in needles if _ORG_FORM.fullmatch(v) and org.contains(e164_digits(v))}
    kept = wh.query(
        settings,
        "select distinct dnis_org_number from intermediate.int_voice_legs "
        "where dnis_org_number is not null",
    )
    assert kept and all(org.contains(number) for (number,) in kept)  # inbound calls dial DIDs
    assert len(needles) > 100  # the hunt must have something to find
    cells = _text_cells(settings)
    assert len(cells) > 1000
    leaks = sorted({where for where, value in cells for n in needles if n in value})
    assert leaks == []

    key = settings.hmac_key.decode() if settings.hmac_key else ""
    assert key
    artifacts = [p for p in dbt_target.rglob("*") if p.is_file()]
    assert any(p.name == "manifest.json" for p in artifacts)
    for path in artifacts:
        text = path.read_text(encoding="utf-8", errors="ignore")
        assert key not in text, f"HMAC key in {path.name}"
        assert not [n for n in needles if n in text], f"clear PII in {path.name}"

    # The product's own auditor agrees, with the simulator's names as the list to look for.
    names = sorted({v for v in needles if _NAME.fullmatch(v)})
    assert names
    names_file = tmp_path / "names.txt"
    names_file.write_text("\n".join(names) + "\n", encoding="utf-8")
    audit = ["audit-pii", "--names-file", str(names_file), "--dbt-target", str(dbt_target)]
    assert cli.main(audit) == 0


def test_demo_range_is_full_months_before_this_one() -> None:
    assert demo_range(date(2026, 11, 28), 3) == (date(2026, 8, 1), date(2026, 11, 1))
    assert demo_range(date(2026, 2, 1), 2) == (date(2025, 12, 1), date(2026, 2, 1))
    with pytest.raises(ValueError, match="--months"):
        demo_range(date(2026, 2, 1), 0)
