"""The simulated org's DID pools and DIDs, and how the generator uses them on calls."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

from genesys_sim.catalog import EDGE_CARRIERS
from genesys_sim.generator import ConversationGenerator


def _gen(seed: int = 7) -> ConversationGenerator:
    return ConversationGenerator(
        seed=seed,
        start=date(2024, 5, 1),
        end=date(2024, 5, 15),
        conversations_per_day=200,
        now=datetime(2024, 6, 1, tzinfo=UTC),
    )


def _digits(number: str) -> str:
    return "".join(ch for ch in number.split(";")[0] if ch.isdigit())


def _in_pool(digits: str, pools: list[dict]) -> dict | None:
    for pool in pools:
        low, high = _digits(pool["startPhoneNumber"]), _digits(pool["endPhoneNumber"])
        if len(digits) == len(low) and low <= digits <= high:
            return pool
    return None


def _carrier_legs(gen: ConversationGenerator) -> list[dict]:
    """Customer/external voice sessions of two weeks."""
    legs = []
    for conv in gen.iter_conversations(
        datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 15, tzinfo=UTC)
    ):
        for p in conv["participants"]:
            if p.get("purpose") not in ("customer", "external"):
                continue
            legs += [s for s in p.get("sessions", ()) if s.get("mediaType") == "voice"]
    return legs


def test_pools_are_one_cloud_voice_and_byoc_per_carrier_and_dids_fall_inside() -> None:
    gen = _gen()
    pools = gen.did_pools()
    providers = Counter(p["provider"] for p in pools)
    assert providers["PURE_CLOUD_VOICE"] >= 1 and providers["PURE_CLOUD"] >= 2
    assert all(p["startPhoneNumber"].startswith("+") for p in pools)
    dids = gen.dids()
    assert len(dids) >= 20
    for did in dids:
        pool = _in_pool(_digits(did["phoneNumber"]), pools)
        assert pool is not None and pool["id"] == did["didPool"]["id"]
        assert did["ownerType"] in ("USER", "PHONE", "IVR_CONFIG", "GROUP")
    assert gen.dids() == _gen().dids(), "deterministic per seed"
    assert [d["phoneNumber"] for d in gen.dids()] != [d["phoneNumber"] for d in _gen(8).dids()]


def test_calls_use_busy_org_dids_on_their_carriers_edges() -> None:
    gen = _gen()
    pools = gen.did_pools()
    did_numbers = {_digits(d["phoneNumber"]) for d in gen.dids()}
    carrier_of_pool = {
        pool["id"]: gen.catalog.did_carrier[_digits(d["phoneNumber"])]
        for d in gen.dids()
        for pool in pools
        if pool["id"] == d["didPool"]["id"]
    }
    legs = _carrier_legs(gen)
    inbound = [s for s in legs if s["direction"] == "inbound"]
    outbound = [s for s in legs if s["direction"] == "outbound"]
    assert inbound and outbound
    org_on_leg = [_digits(s["dnis"]) for s in inbound] + [_digits(s["ani"]) for s in outbound]
    assert all(n in did_numbers for n in org_on_leg), "dnis inbound / ani outbound is an org DID"
    busiest = Counter(org_on_leg).most_common()
    assert busiest[0][1] >= 10 * busiest[-1][1] and busiest[0][1] > len(org_on_leg) // 10
    for session, number in [(s, _digits(s["dnis"])) for s in inbound]:
        pool = _in_pool(number, pools)
        assert pool is not None
        assert EDGE_CARRIERS[session["edgeId"]] == carrier_of_pool[pool["id"]]


def test_some_customers_share_a_pools_leading_digits_but_are_not_org_numbers() -> None:
    gen = _gen()
    pools = gen.did_pools()
    legs = _carrier_legs(gen)
    customers = [_digits(s["ani"]) for s in legs if s["direction"] == "inbound"]
    customers += [_digits(s["dnis"]) for s in legs if s["direction"] == "outbound"]
    assert not any(_in_pool(n, pools) for n in customers), "no customer calls from an org number"
    lookalikes = [
        n for n in customers if any(n[:-3] == _digits(p["startPhoneNumber"])[:-3] for p in pools)
    ]
    assert len(lookalikes) >= 5
