"""One number-masking rule: the extractor (`masking.py`) and the dbt macros (`macros/masking/`)
give the same last 4 digits, rating prefix and org number for the same inputs, on both targets.

Two paths are compared, as the product has both:
* raw values (data that did not come through the extractor): `last4` and `number_prefix`;
* the extractor's masked payload read the way staging reads it (`last4` of the field,
  `prefix` of `coalesce(<field>Prefix, e164_or_null(<field>))`, `org_number` of the field).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import make_settings
from genesys_finance.dbt_runner import run_dbt
from genesys_finance.masking import REDACTED, Masker, project_prefix_digits
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.settings import Settings

ORG = OrgNumbers.build(ranges=[("+13175550100", "+13175550199")], numbers=["+442079460000"])

TRICKY_NUMBERS = [
    "tel:+15555550100",
    "+15555550100",
    "TEL:+1-555-555-0100;ext=12",
    "tel:+15555550100;ext=123",
    "+1 (555) 555-0100",
    "tel:+34612345678",
    "tel:+123",
    "sip:+15555550100@carrier.example;user=phone",
    "sip:+15555550100@172.18.182.10:5060;user=phone",
    "SIPS:+15555550100@carrier.example",
    "sip:%2B15555550100@carrier.example",
    "sip:5550100;phone-context=+1317@carrier.example",
    "sip:agent%40example.com@localhost",
    "sip:%33%34@localhost",  # escaped digits are not digits of the number
    "sip:ipadphone@10.0.0.7",
    "sip:0123456789abcdef01234567+example.orgspan.com;tgrp=7e000000-0000-4000-8000-000000000001;"
    "trunk-context=example@localhost",
    "5555550100",  # national formats: digits, no prefix
    "0555 555 0100",
    "(555) 555-0100;ext=9",
    "",
    "anonymous",
    "+",
    "tel:",
    "  tel:+15555550100  ",
    "0100",  # already masked
    "REDACTED",
    # the org's numbers, in every spelling, and customers next to them
    "tel:+13175550100",
    "+13175550199",
    "sip:+13175550142@10.0.0.1;user=phone",
    "tel:+442079460000;ext=1",
    "tel:+13175550200",
    "tel:+1317555010",
    "3175550150",
]


def _python(value: str) -> dict[str, Any]:
    masker = Masker.from_settings(Settings(hmac_key=b"k"), env={}, org_numbers=ORG)
    raw = masker.number(value)
    session = masker.mask_conversation({"participants": [{"sessions": [{"ani": value}]}]})
    masked = session["participants"][0]["sessions"][0]
    return {
        "raw": raw,
        "payload": masked["ani"],
        "payload_prefix": masked.get("aniPrefix"),
    }


INLINE = """
select
    i,
    {{ last4('v') }} as raw_last4,
    {{ number_prefix('v') }} as raw_prefix,
    {{ last4('p') }} as staged_last4,
    {{ prefix('coalesce(pp, ' ~ e164_or_null('p') ~ ')') }} as staged_prefix,
    {{ org_number('p') }} as staged_org_number
from number_inputs
order by i
"""


def _compiled(settings: Settings, tmp_path: Path) -> str:
    result = run_dbt(
        settings,
        ["compile", "--inline", INLINE, "--output", "json", "--quiet"],
        target_path=tmp_path / "target",
    )
    return str(json.loads(result.output[result.output.index("{") :])["compiled"])


def _run(settings: Settings, rows: list[tuple[int, str, str, str | None]], sql: str) -> list[Any]:
    if settings.target == "duckdb":
        import duckdb

        with duckdb.connect(str(settings.duckdb_path)) as conn:
            conn.execute("create table number_inputs (i integer, v text, p text, pp text)")
            conn.executemany("insert into number_inputs values (?, ?, ?, ?)", rows)
            return conn.execute(sql).fetchall()
    import psycopg2

    conn = psycopg2.connect(settings.postgres.dsn())
    try:
        cur = conn.cursor()
        cur.execute("create table number_inputs (i integer, v text, p text, pp text)")
        cur.executemany("insert into number_inputs values (%s, %s, %s, %s)", rows)
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        conn.close()


def test_python_and_sql_mask_numbers_alike(
    target: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    pg = request.getfixturevalue("postgres_database") if target == "postgres" else None
    settings = make_settings(target, tmp_path, pg)
    python = [_python(value) for value in TRICKY_NUMBERS]
    rows = [
        (i, value, p["payload"], p["payload_prefix"])
        for i, (value, p) in enumerate(zip(TRICKY_NUMBERS, python, strict=True))
    ]
    sql_rows = _run(settings, rows, _compiled(settings, tmp_path))
    assert [row[0] for row in sql_rows] == list(range(len(TRICKY_NUMBERS)))
    differences = []
    for (_, raw_last4, raw_prefix, last4, prefix, org), value, p in zip(
        sql_rows, TRICKY_NUMBERS, python, strict=True
    ):
        expected = p["raw"]
        got_raw = (raw_last4, raw_prefix)
        got_staged = (last4, prefix, org)
        if got_raw != (expected.last4, expected.prefix) or got_staged != tuple(expected):
            differences.append((value, tuple(expected), got_raw, got_staged))
    assert differences == []


def test_the_table_covers_each_kind_of_result() -> None:
    """The inputs above exercise every branch: org numbers, prefixes, none, no digits."""
    results = [_python(value)["raw"] for value in TRICKY_NUMBERS]
    assert any(r.org_number for r in results)
    assert any(r.prefix and not r.org_number for r in results)
    assert any(r.last4 != REDACTED and r.prefix is None for r in results)
    assert any(r.last4 == REDACTED for r in results)
    # a SIP URI carrying an E.164 user part is E.164 (rated), as the reference's samples show
    assert _python("sip:+15555550100@172.18.182.10;user=phone")["raw"].prefix == "1555"
    assert _python("tel:+15555550100;ext=123")["raw"].last4 == "0100"


def test_prefix_length_is_the_dbt_var(tmp_path: Path) -> None:
    """One definition: the masker reads `genesys_prefix_digits` from dbt_project.yml."""
    (tmp_path / "dbt_project.yml").write_text("name: x\nvars:\n  genesys_prefix_digits: 6\n")
    assert project_prefix_digits(tmp_path) == 6
    masker = Masker.from_settings(Settings(hmac_key=b"k"), env={})
    assert masker.policy.prefix_digits == project_prefix_digits()
    assert masker.number("tel:+34612345678").prefix == "34612345678"[: project_prefix_digits()]
