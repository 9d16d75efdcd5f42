"""The dbt flattening layer on both targets: debug, build on simulator data, flattened rows equal
a Python walk of the same payloads, unit tests run inside `dbt build`, no secret reaches dbt output.

One build per target is shared by the tests of this module (dbt invocations are slow).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

import raw_loader
from conftest import HMAC_TEST_KEY, REFERENCE_DIR, _admin_connect, _admin_pg, make_settings
from genesys_finance.dbt_runner import run_dbt
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.settings import PostgresSettings, Settings
from genesys_oracles.voice_legs import epoch_ms, voice_legs


def _reference_conversations() -> list[dict[str, Any]]:
    """The reference example, plus a four-participant variant with the IVR participant inserted."""
    text = (REFERENCE_DIR / "example-conversation.json").read_text()
    example = json.loads(text)
    with_ivr = json.loads(text.replace("-000000000", "-100000000").replace("7c0d5f0e", "7c0d5f0f"))
    ivr_text = (REFERENCE_DIR / "example-ivr-participant.json").read_text()
    ivr = json.loads(ivr_text.replace("-000000000", "-100000000"))
    with_ivr["participants"].insert(1, ivr)
    return [example, with_ivr]


CLEAR_CALL_ID = "ca110000-0000-4000-8000-200000000001"
# The org's own numbers: a pool holding the reference example's dialled number (+18005550199).
ORG_POOLS = [
    {
        "id": "dp-1",
        "startPhoneNumber": "+18005550100",
        "endPhoneNumber": "+18005550199",
        "provider": "PURE_CLOUD_VOICE",
    }
]
ORG_DIDS = [{"id": "did-1", "phoneNumber": "+18005550199", "didPool": {"id": "dp-1"}}]
ORG_NUMBERS = OrgNumbers.build(ranges=[("+18005550100", "+18005550199")])


def _clear_conversation() -> dict[str, Any] | None:
    """The reference example with fresh ids, left unmasked (clear numbers, names, Call-IDs)."""
    text = (REFERENCE_DIR / "example-conversation.json").read_text()
    return dict(
        json.loads(text.replace("-000000000", "-200000000").replace("7c0d5f0e", "7c0d5f10"))
    )


def simulator_conversations(days: int = 2, per_day: int = 60) -> list[dict[str, Any]]:
    from genesys_sim.generator import ConversationGenerator

    start = date(2024, 5, 6)
    # `now` inside the second day: the conversations running at that instant come back ongoing
    gen = ConversationGenerator(
        seed=5,
        start=start,
        end=date(2024, 6, 1),
        conversations_per_day=per_day,
        now=datetime(2024, 5, 7, 14, 0, tzinfo=UTC),
    )
    out: list[dict[str, Any]] = []
    for offset in range(days):
        out.extend(gen.conversations_for_day(date(2024, 5, 6 + offset)))
    return out


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A warehouse loaded with simulator + reference conversations, after one `dbt build`."""
    target = str(request.param)
    tmp_path = tmp_path_factory.mktemp(f"dbt_{target}")
    pg_name = None
    pg: PostgresSettings | None = None
    if target == "postgres":
        conn = _admin_connect()
        pg_name = f"gf_test_dbt_{tmp_path.name[-8:].replace('-', '_')}"
        conn.cursor().execute(f'drop database if exists "{pg_name}"')
        conn.cursor().execute(f'create database "{pg_name}"')
        conn.close()
        admin = _admin_pg()
        pg = PostgresSettings(
            host=admin.host,
            port=admin.port,
            user=admin.user,
            password=admin.password,
            database=pg_name,
        )
    settings = make_settings(target, tmp_path, pg)
    try:
        conversations = simulator_conversations() + _reference_conversations()
        masked = raw_loader.mask_conversations(settings, conversations, ORG_NUMBERS)
        raw_loader.load_org_numbers(settings, ORG_POOLS, ORG_DIDS)
        raw_loader.load_conversations(
            settings, masked, mask=False, extracted_at=datetime(2024, 5, 8, tzinfo=UTC)
        )
        # one payload that did not come through the extractor: dbt's masking must catch it
        clear = _clear_conversation()
        if clear:
            raw_loader.load_conversations(
                settings, [clear], mask=False, extracted_at=datetime(2024, 5, 8, 1, tzinfo=UTC)
            )
            masked = [*masked, clear]
        from genesys_sim.generator import ConversationGenerator

        gen = ConversationGenerator(
            seed=5, start=date(2024, 5, 6), end=date(2024, 6, 1), conversations_per_day=60
        )
        raw_loader.load_dimensions(
            settings,
            {
                "queues": gen.queues(),
                "wrapup_codes": gen.wrapup_codes(),
                "divisions": gen.divisions(),
                "users": gen.users(),
            },
        )
        target_path = tmp_path / "target"
        result = run_dbt(settings, ["build"], target_path=target_path)
        yield {
            "settings": settings,
            "masked": masked,
            "target_path": target_path,
            "build": result,
            "clear": conversations,
        }
    finally:
        if pg_name:
            conn = _admin_connect()
            conn.cursor().execute(f'drop database if exists "{pg_name}" with (force)')
            conn.close()


def test_dbt_debug(warehouse: Settings, tmp_path: Path) -> None:
    result = run_dbt(warehouse, ["debug"], target_path=tmp_path / "target")
    assert "All checks passed" in result.output


def test_build_passes_with_unit_tests(built: dict[str, Any]) -> None:
    results = json.loads((built["target_path"] / "run_results.json").read_text())["results"]
    statuses = {r["unique_id"]: r["status"] for r in results}
    assert statuses, "dbt build ran nothing"
    failed = {k: v for k, v in statuses.items() if v in ("error", "fail", "skipped")}
    assert not failed
    unit = [k for k in statuses if k.startswith("unit_test.")]
    assert len(unit) >= 5, unit
    assert any(k.startswith("model.genesys_finance.int_voice_legs") for k in statuses)


def _count(settings: Settings, relation: str) -> int:
    return int(raw_loader.fetch(settings, f"select count(*) from {relation}")[0][0])


def test_flattened_counts_match_python_walk(built: dict[str, Any]) -> None:
    settings, masked = built["settings"], built["masked"]
    expected = raw_loader.expected_flattening(masked)
    assert _count(settings, "staging.stg_genesys__conversations") == expected["conversations"]
    assert _count(settings, "staging.stg_genesys__participants") == expected["participants"]
    assert _count(settings, "staging.stg_genesys__sessions") == expected["sessions"]
    assert _count(settings, "staging.stg_genesys__segments") == expected["segments"]
    assert _count(settings, "staging.stg_genesys__session_metrics") == expected["metrics"]
    assert _count(settings, "intermediate.int_session_metrics_pivoted") == expected["sessions"]
    assert _count(settings, "intermediate.int_voice_legs") == len(expected["legs"])


def test_metric_sums_match_python_walk(built: dict[str, Any]) -> None:
    settings, masked = built["settings"], built["masked"]
    expected = raw_loader.expected_flattening(masked)["session_metrics"]
    with raw_loader.warehouse.connect(settings) as conn:
        cur = conn.cursor()
        cur.execute("select * from intermediate.int_session_metrics_pivoted")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    checked = 0
    for row in rows:
        want = expected[(row["conversation_id"], row["session_id"])]
        for column, value in want.items():
            if column in row:
                assert row[column] == value, (row["session_id"], column)
                checked += 1
        for column in names:
            if column.startswith(("t_", "n_", "o_")) and column not in want:
                assert row[column] is None, (row["session_id"], column)
    assert checked > 100
    # the reference example: two tTalk entries plus tTalkComplete -> the Complete total wins
    example = [r for r in rows if r["session_id"] == "5e000000-0000-4000-8000-000000000003"]
    if example:
        assert example[0]["t_talk_ms"] == 367664
        assert example[0]["t_handle_ms"] == (
            example[0]["t_talk_ms"] + example[0]["t_held_ms"] + example[0]["t_acw_ms"]
        )


def test_leg_durations_match_python_walk(built: dict[str, Any]) -> None:
    settings, masked = built["settings"], built["masked"]
    expected = raw_loader.expected_flattening(masked)["legs"]
    rows = raw_loader.fetch(
        settings,
        "select conversation_id, session_id, answered_duration_ms, is_ongoing, participant_purpose "
        "from intermediate.int_voice_legs",
    )
    got = {(r[0], r[1]): r[2] for r in rows}
    assert got == expected
    assert any(r[3] for r in rows), "expected at least one ongoing leg"
    assert all(r[2] is None for r in rows if r[3])
    assert {r[4] for r in rows} <= {"customer", "external"}


def test_leg_billing_start_matches_the_oracle(built: dict[str, Any]) -> None:
    """The billing start: the answer instant, the leg's start when it was never answered."""
    settings, masked = built["settings"], built["masked"]
    expected = {
        (leg.conversation_id, leg.session_id): leg.billing_start_ms
        for conv in masked
        for leg in voice_legs(conv)
    }
    rows = raw_loader.fetch(
        settings,
        "select conversation_id, session_id, billing_start, answered_at "
        "from intermediate.int_voice_legs",
    )
    got = {(r[0], r[1]): None if r[2] is None else epoch_ms(r[2].isoformat()) for r in rows}
    assert got == expected
    assert any(r[3] is None and r[2] is not None for r in rows), "a never-answered leg"


def test_org_numbers_stay_in_clear_and_others_are_cut(built: dict[str, Any]) -> None:
    """The reference example's dialled number is in the org's pool: kept as its digits in
    `dnis_org_number`; the customer's number is cut (`ani_org_number` NULL, last 4 kept)."""
    settings = built["settings"]
    legs = raw_loader.fetch(
        settings,
        "select ani_last4, ani_org_number, dnis_last4, dnis_prefix, dnis_org_number "
        "from intermediate.int_voice_legs "
        "where session_id = '5e000000-0000-4000-8000-000000000001'",
    )
    assert legs == [("0100", None, "0199", "1800", "18005550199")]
    pools = raw_loader.fetch(
        settings, "select did_pool_id, start_number, end_number from staging.stg_genesys__did_pools"
    )
    assert pools == [("dp-1", "18005550100", "18005550199")]
    dids = raw_loader.fetch(
        settings, "select did_id, did_pool_id, did_number from staging.stg_genesys__dids"
    )
    assert dids == [("did-1", "dp-1", "18005550199")]


def test_types_are_exact(built: dict[str, Any]) -> None:
    """Durations are bigint, timestamps UTC timestamptz: no float in a duration path."""
    settings = built["settings"]
    rows = raw_loader.fetch(
        settings,
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema in ('staging', 'intermediate')",
    )
    types = {(t, c): d.lower() for t, c, d in rows}
    for (table, column), dtype in types.items():
        if column.endswith("_ms") or column in ("billed_seconds", "segment_ordinal"):
            assert dtype == "bigint", (table, column, dtype)
        if column in (
            "segment_start",
            "segment_end",
            "emitted_at",
            "extracted_at",
            "conversation_start",
            "answered_at",
        ):
            assert dtype in ("timestamp with time zone", "timestamptz"), (table, column, dtype)
        assert "double" not in dtype and "real" not in dtype and "float" not in dtype, (
            table,
            column,
            dtype,
        )


def test_unknown_values_pass_through(built: dict[str, Any]) -> None:
    settings, masked = built["settings"], built["masked"]
    purposes = {p.get("purpose") for c in masked for p in c.get("participants", [])}
    got = {
        r[0]
        for r in raw_loader.fetch(
            settings, "select distinct purpose from staging.stg_genesys__participants"
        )
    }
    assert got == purposes


def test_no_secret_or_clear_pii_in_dbt_output(built: dict[str, Any]) -> None:
    settings, target_path = built["settings"], built["target_path"]
    run_dbt(settings, ["docs", "generate", "--static"], target_path=target_path)
    assert (target_path / "static_index.html").exists()
    key = HMAC_TEST_KEY
    call_id = "ca110000-0000-4000-8000-000000000001"  # a clear Call-ID of the reference example
    for path in target_path.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html", ".sql", ".log"):
            text = path.read_text(errors="ignore")
            assert key not in text, path
            assert call_id not in text, path
    # and no clear value in any flattened table
    snapshot = raw_loader.snapshot(settings)
    flat = "\n".join("|".join(row) for rows in snapshot.values() for row in rows)
    assert "tel:+" not in flat
    assert "Jane Doe" not in flat
    assert "jane.doe@example.com" not in flat
    assert CLEAR_CALL_ID not in flat
    if _clear_conversation():
        leg = raw_loader.fetch(
            settings,
            "select sip_call_id, ani_last4, dnis_prefix from intermediate.int_voice_legs "
            "where session_id = '5e000000-0000-4000-8000-200000000001'",
        )
        assert leg == [("REDACTED", "0100", "1800")]
