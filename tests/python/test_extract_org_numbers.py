"""The org's DID pools and DIDs: extracted as dimensions, and read before any conversation is
masked, so the org's numbers stay in clear while customers' numbers are cut."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson

from genesys_finance import warehouse as wh
from genesys_finance.runner import ExtractOptions, run_extract
from genesys_finance.settings import Settings
from sim_fixtures import StartSimulator

FAST = ExtractOptions(poll_initial_s=0.1, requests_per_minute=3000, quiet=True)


def _columns(settings: Settings, table: str) -> list[str]:
    rows = wh.query(
        settings,
        "select column_name from information_schema.columns where table_schema = 'genesys_raw' "
        f"and table_name = '{table}' order by ordinal_position",
    )
    return [str(r[0]) for r in rows]


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def test_did_dimensions_and_org_numbers_in_clear(
    simulator: StartSimulator, warehouse: Settings
) -> None:
    sim = simulator(conversations_per_day=60)
    settings = Settings(
        **{**warehouse.__dict__, "api_url": sim.base_url, "login_url": sim.base_url}
    )
    summary = run_extract(settings, date(2024, 5, 1), date(2024, 5, 8), FAST)

    pools, dids = sim.generator.did_pools(), sim.generator.dids()
    assert summary.dimensions["did_pools"] == len(pools)
    assert summary.dimensions["dids"] == len(dids)
    assert _columns(settings, "did_pools") == [
        "id", "start_phone_number", "end_phone_number", "provider", "payload", "extracted_at",
    ]  # fmt: skip
    assert _columns(settings, "dids") == [
        "id", "phone_number", "did_pool_id", "owner_type", "payload", "extracted_at",
    ]  # fmt: skip
    got_pools = wh.query(
        settings,
        "select id, start_phone_number, end_phone_number, provider from genesys_raw.did_pools",
    )
    assert sorted(got_pools) == sorted(
        (p["id"], p["startPhoneNumber"], p["endPhoneNumber"], p["provider"]) for p in pools
    )
    got_dids = wh.query(
        settings, "select id, phone_number, did_pool_id, owner_type from genesys_raw.dids"
    )
    assert sorted(got_dids) == sorted(
        (d["id"], d["phoneNumber"], d["didPool"]["id"], d["ownerType"]) for d in dids
    )
    # A DID's owner may be a person: the owner's name is not landed.
    users = {u["name"] for u in sim.generator.users()}
    payloads = [str(r[0]) for r in wh.query(settings, "select payload from genesys_raw.dids")]
    assert not any(name in text for name in users for text in payloads)

    # Inbound legs: the dialled DID is in clear; the caller (a customer) is cut to 4 digits,
    # also when the customer's number starts like one of the org's pools.
    did_numbers = {d["phoneNumber"] for d in dids}
    pool_heads = {_digits(p["startPhoneNumber"])[:-3] for p in pools}
    clear_anis = {
        conv["conversationId"]: [s["ani"] for s in _inbound_customer_sessions(conv)]
        for conv in sim.generator.iter_conversations(
            datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 8, tzinfo=UTC)
        )
    }
    rows = wh.query(settings, "select conversation_id, payload from genesys_raw.conversations")
    clear_dnis = lookalikes = 0
    for conversation_id, payload in rows:
        conv = orjson.loads(payload) if isinstance(payload, (str, bytes)) else payload
        sessions = _inbound_customer_sessions(conv)
        for session, clear_ani in zip(sessions, clear_anis[conversation_id], strict=True):
            assert session["dnis"].removeprefix("tel:") in did_numbers
            clear_dnis += 1
            assert session["ani"] == _digits(clear_ani)[-4:]
            lookalikes += _digits(clear_ani)[:-3] in pool_heads
    assert clear_dnis > 50 and lookalikes > 0


def _inbound_customer_sessions(conv: dict) -> list[dict]:
    return [
        s
        for p in conv["participants"]
        if p.get("purpose") == "customer"
        for s in p.get("sessions", ())
        if s.get("mediaType") == "voice" and s.get("direction") == "inbound"
    ]
