"""The demo's rating lookups (seeds/demo/) are consistent with the simulator and with themselves."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from genesys_oracles.rating import read_number_carrier_rules, read_rate_card, read_time_bands
from genesys_sim.carrier import (
    DEFAULT_CLIENT_CONTRACTS,
    DEFAULT_DID_POOL_CARRIERS,
    DEFAULT_RATE_CARDS,
    DEFAULT_TIME_BANDS,
    client_contract_rows,
    read_csv,
)
from genesys_sim.catalog import DID_POOLS, build_catalog


def test_demo_client_contracts_name_the_demo_org() -> None:
    """The file is what the simulator derives for the demo's seed, and every id it names exists."""
    rows = read_csv(DEFAULT_CLIENT_CONTRACTS)
    assert rows == client_contract_rows()
    catalog = build_catalog(7)
    queues = {q["id"] for q in catalog.queues}
    divisions = {d["id"] for d in catalog.divisions}
    for row in rows:
        assert (row["queue_id"] in queues) != (row["division_id"] in divisions), row


def test_banded_rows_cover_every_hour_exactly_once() -> None:
    """For each carrier, direction, prefix and card version rated by bands, exactly one band holds
    at every quarter hour of a week around a DST change in each band's zone (an uncovered hour
    would silently fall back to a shorter prefix)."""
    card = read_rate_card(DEFAULT_RATE_CARDS)
    bands = read_time_bands(DEFAULT_TIME_BANDS)
    groups: dict[tuple[object, ...], list[str]] = defaultdict(list)
    for row in card:
        if row.time_band:
            assert row.time_band in bands, row
            version = (row.carrier, row.direction, row.destination_prefix, row.effective_from)
            groups[version].append(row.time_band)
    assert groups, "the demo cards use time bands"
    for start in (datetime(2024, 3, 7, tzinfo=UTC), datetime(2024, 3, 28, tzinfo=UTC)):
        for step in range(7 * 24 * 4):
            at = start + timedelta(minutes=15 * step)
            for card_version, names in groups.items():
                holding = [n for n in names if bands[n].holds(at)]
                assert len(holding) == 1, (card_version, at, holding)


def test_demo_did_pool_carriers_match_the_simulated_pools() -> None:
    """Every DID pool of the simulated org is mapped to the carrier the simulator gives it."""
    rules = read_number_carrier_rules(DEFAULT_DID_POOL_CARRIERS)
    assert {r.did_pool_id: r.carrier for r in rules} == {p.id: p.carrier for p in DID_POOLS}
    assert all(r.start_number is None and r.end_number is None for r in rules)
