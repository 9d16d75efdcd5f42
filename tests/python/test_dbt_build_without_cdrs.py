"""A build before any CDR file or dimension has landed: the raw tables that do not exist yet read
as empty (`source_or_empty`), on both targets; every leg that costs money is then
reconciled as `missing_cdr`."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import raw_loader
from genesys_finance.dbt_runner import run_dbt
from genesys_finance.settings import Settings
from genesys_finance.warehouse import connect

DAY = date(2024, 5, 6)
NOT_YET_LANDED = (
    "carrier_raw.cdrs",
    "carrier_raw.cdr_rejects",
    "genesys_raw.queues",
    "genesys_raw.wrapup_codes",
    "genesys_raw.divisions",
    "genesys_raw.users",
    "genesys_raw.did_pools",
    "genesys_raw.dids",
)


def test_build_without_cdrs_or_dimensions(warehouse: Settings, tmp_path: Path) -> None:
    from genesys_sim.generator import ConversationGenerator

    generator = ConversationGenerator(
        seed=5, start=DAY, end=DAY + timedelta(days=1), conversations_per_day=40
    )
    assert raw_loader.load_conversations(warehouse, generator.conversations_for_day(DAY)) > 0
    with connect(warehouse) as conn:
        for table in NOT_YET_LANDED:
            conn.cursor().execute(f"drop table if exists {table}")

    result = run_dbt(
        warehouse,
        ["build", "--exclude-resource-type", "unit_test"],
        target_path=tmp_path / "target",
        check=False,
        extra_env={"GENESYS_FINANCE_DEMO_LOOKUPS": "true"},
    )
    assert result.ok, result.output[-3000:]
    assert raw_loader.fetch(warehouse, "select count(*) from staging.stg_carrier__cdrs") == [(0,)]
    rows = raw_loader.fetch(
        warehouse,
        "select discrepancy_type, cdr_id, expected_amount from finance.fct_billing_reconciliation",
    )
    assert rows and all(cdr_id is None for _, cdr_id, _ in rows)
    # a leg that costs something is missing its CDR; only a leg that costs nothing is in order
    assert {t for t, _, _ in rows} <= {"missing_cdr", "none"}
    assert all(t == "missing_cdr" for t, _, amount in rows if amount)
    assert any(t == "missing_cdr" for t, _, _ in rows)
