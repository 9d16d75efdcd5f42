"""Schema names by dbt's convention: production gets the public names (`staging`, `intermediate`,
`finance`, `seeds`), any other target `<target schema>_<name>`, so two targets never write the same
schema (macros/generate_schema_name.sql).
"""

from __future__ import annotations

import json
from pathlib import Path

import raw_loader
from genesys_finance.dbt_runner import run_dbt
from genesys_finance.settings import Settings

PUBLIC = {"staging", "intermediate", "finance", "seeds"}
PROD = {"GENESYS_FINANCE_ENV": "prod"}
ALICE = {"GENESYS_FINANCE_ENV": "dev", "GENESYS_FINANCE_SCHEMA": "alice"}
BOB = {"GENESYS_FINANCE_ENV": "dev", "GENESYS_FINANCE_SCHEMA": "bob"}


def _schemas(settings: Settings, target_path: Path, env: dict[str, str]) -> dict[str, str]:
    """Schema of every model and seed, as dbt resolves it for `env`."""
    run_dbt(settings, ["parse", "--no-partial-parse"], target_path=target_path, extra_env=env)
    nodes = json.loads((target_path / "manifest.json").read_text())["nodes"]
    return {
        uid: str(node["schema"])
        for uid, node in nodes.items()
        if node["resource_type"] in ("model", "seed")
    }


def test_production_keeps_public_names_and_other_targets_are_prefixed(
    warehouse: Settings, tmp_path: Path
) -> None:
    prod = _schemas(warehouse, tmp_path / "prod", PROD)
    alice = _schemas(warehouse, tmp_path / "alice", ALICE)
    bob = _schemas(warehouse, tmp_path / "bob", BOB)
    assert set(prod.values()) <= PUBLIC and {"staging", "intermediate", "seeds"} <= set(
        prod.values()
    )
    assert all(alice[uid] == f"alice_{schema}" for uid, schema in prod.items())
    assert all(bob[uid] == f"bob_{schema}" for uid, schema in prod.items())
    # two targets never share a schema
    assert not set(prod.values()) & set(alice.values())
    assert not set(alice.values()) & set(bob.values())


def test_two_targets_build_side_by_side_in_one_database(
    warehouse: Settings, tmp_path: Path
) -> None:
    """Production and a developer build the same models into one database, each into its own
    schemas: the developer's later build (more data, full refresh) leaves production alone."""
    from test_dbt_build import simulator_conversations

    conversations = simulator_conversations(days=2, per_day=10)
    first_day = [c for c in conversations if c["conversationStart"] < "2024-05-07"]
    assert 0 < len(first_day) < len(conversations)
    select = ["--select", "stg_genesys__conversations", "stg_carrier__cdrs"]
    count = "select count(*) from {}.stg_genesys__conversations"

    raw_loader.load_conversations(warehouse, first_day)
    run_dbt(warehouse, ["run", *select], target_path=tmp_path / "prod", extra_env=PROD)
    raw_loader.load_conversations(warehouse, conversations)
    run_dbt(
        warehouse,
        ["run", *select, "--full-refresh"],
        target_path=tmp_path / "alice",
        extra_env=ALICE,
    )

    tables = raw_loader.fetch(
        warehouse,
        "select table_schema, table_name from information_schema.tables "
        "where table_name in ('stg_genesys__conversations', 'stg_carrier__cdrs')",
    )
    assert sorted(tables) == [
        ("alice_staging", "stg_carrier__cdrs"),
        ("alice_staging", "stg_genesys__conversations"),
        ("staging", "stg_carrier__cdrs"),
        ("staging", "stg_genesys__conversations"),
    ]
    assert raw_loader.fetch(warehouse, count.format("staging"))[0][0] == len(first_day)
    assert raw_loader.fetch(warehouse, count.format("alice_staging"))[0][0] == len(conversations)
