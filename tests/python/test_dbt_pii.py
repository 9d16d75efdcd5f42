"""PII tags in the dbt project, read from `manifest.json`.

Rules:
* every column of a model or source whose name is a known PII field is tagged `meta: {pii: ...}`;
* a mart column whose name is PII-tagged anywhere upstream carries a masking tag too (an untagged
  one means clear PII could reach `finance`); the dbt singular test
  `assert_no_unmasked_pii_in_marts` checks the tagged mart columns' values at build time;
* every staging model with PII-tagged columns applies the masking macros in its compiled SQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import make_settings
from genesys_finance.dbt_runner import run_dbt

MASKING_ACTIONS = {"redact", "last4", "prefix", "hmac"}
# Column names that hold PII in this project (genesys-analytics-api.md §9, docs/internals.md).
PII_NAMES = {
    "participant_name",
    "ani_last4",
    "ani_prefix",
    "dnis_last4",
    "dnis_prefix",
    "session_dnis_last4",
    "session_dnis_prefix",
    "remote",
    "sip_call_id",
    "user_name",
    "calling_number_last4",
    "calling_number_prefix",
    "called_number_last4",
    "called_number_prefix",
    "external_tag",
}


def _pii(column: dict[str, Any]) -> str | None:
    meta = column.get("meta") or {}
    config_meta = (column.get("config") or {}).get("meta") or {}
    value = meta.get("pii") or config_meta.get("pii")
    return str(value) if value else None


def _ancestors(manifest: dict[str, Any], unique_id: str) -> set[str]:
    parents = manifest.get("parent_map") or {}
    seen: set[str] = set()
    stack = list(parents.get(unique_id, []))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(parents.get(node, []))
    return seen


def _node(manifest: dict[str, Any], unique_id: str) -> dict[str, Any]:
    return dict((manifest["nodes"].get(unique_id) or manifest["sources"].get(unique_id)) or {})


def unmasked_pii_columns(manifest: dict[str, Any]) -> list[str]:
    """`model.column` of each mart column that could carry PII without a masking tag."""
    problems = []
    for unique_id, node in manifest["nodes"].items():
        if node.get("resource_type") != "model" or "marts" not in node.get("fqn", []):
            continue
        upstream_pii = {
            name
            for ancestor in _ancestors(manifest, unique_id)
            for name, column in (_node(manifest, ancestor).get("columns") or {}).items()
            if (_pii(column) or "keep") != "keep"
        } | PII_NAMES
        for name, column in (node.get("columns") or {}).items():
            action = _pii(column)
            if name in upstream_pii and action not in MASKING_ACTIONS:
                problems.append(f"{node['name']}.{name}")
    return sorted(problems)


def untagged_pii_columns(manifest: dict[str, Any]) -> list[str]:
    problems = []
    for node in [*manifest["nodes"].values(), *manifest["sources"].values()]:
        if node.get("resource_type") not in ("model", "source"):
            continue
        if node.get("resource_type") == "source" and node.get("source_name") == "carrier":
            continue  # the raw CDR table's columns are masked by the loader, re-masked in staging
        for name, column in (node.get("columns") or {}).items():
            if name in PII_NAMES and _pii(column) not in MASKING_ACTIONS:
                problems.append(f"{node['name']}.{name}")
    return sorted(problems)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("dbt_parse")
    settings = make_settings("duckdb", tmp)
    run_dbt(settings, ["parse"], target_path=tmp / "target")
    return dict(json.loads((tmp / "target" / "manifest.json").read_text()))


def test_pii_columns_are_tagged(manifest: dict[str, Any]) -> None:
    assert untagged_pii_columns(manifest) == []


def test_no_mart_column_carries_untagged_pii(manifest: dict[str, Any]) -> None:
    assert unmasked_pii_columns(manifest) == []


def test_tagged_staging_columns_are_masked_in_sql(manifest: dict[str, Any], tmp_path: Path) -> None:
    settings = make_settings("duckdb", tmp_path)
    target = tmp_path / "target"
    run_dbt(settings, ["compile", "--select", "staging"], target_path=target)
    compiled = json.loads((target / "manifest.json").read_text())["nodes"]
    checked = 0
    for node in compiled.values():
        if node["resource_type"] != "model" or "staging" not in node["fqn"]:
            continue
        sql = node.get("compiled_code") or ""
        for name, column in node["columns"].items():
            action = _pii(column)
            if action == "redact":
                assert f"then 'REDACTED' end as {name}" in sql, (node["name"], name)
                checked += 1
            elif action in ("last4", "prefix", "hmac"):
                assert f"end as {name}" in sql, (node["name"], name)
                checked += 1
    assert checked >= 10


def test_rule_catches_an_untagged_mart_column() -> None:
    manifest = {
        "nodes": {
            "model.p.stg": {
                "resource_type": "model",
                "name": "stg",
                "fqn": ["p", "staging", "stg"],
                "columns": {"caller": {"meta": {"pii": "last4"}}},
            },
            "model.p.fct": {
                "resource_type": "model",
                "name": "fct",
                "fqn": ["p", "marts", "fct"],
                "columns": {
                    "caller": {"meta": {}},
                    "dnis_prefix": {},
                    "cost": {},
                    "ani_last4": {"meta": {"pii": "last4"}},
                },
            },
        },
        "sources": {},
        "parent_map": {"model.p.fct": ["model.p.stg"], "model.p.stg": []},
    }
    assert unmasked_pii_columns(manifest) == ["fct.caller", "fct.dnis_prefix"]
