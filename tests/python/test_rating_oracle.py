"""The dbt rating (`int_voice_legs_rated`, `fct_voice_leg_costs`) against the oracle rater
(`genesys_oracles.rating`, Decimal, written from DESIGN.md's rules), on both targets.

A simulator dataset of more than 10,000 carrier-facing legs, on days that cross the US and UK
DST changes and a month end, with the simulator's CDRs loaded (so most legs take the CDR's
carrier), the org's numbers kept in clear by masking (so legs without a CDR resolve by number),
and a few legs on an Edge no lookup knows with a number no pool maps (unresolved). The oracle
reads each leg's inputs (direction, billing start, answered duration, numbers, Edge, matched
CDR's carrier) from the warehouse and prices it itself: zero legs may differ.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import raw_loader
from conftest import _admin_connect, _admin_pg, make_settings
from genesys_finance.cdr.files import load_cdr_files
from genesys_finance.dbt_runner import run_dbt
from genesys_finance.masking import Masker
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.settings import PostgresSettings, Settings
from genesys_oracles.rating import (
    DidPool,
    RatedLeg,
    number_carrier,
    rate_leg,
    read_number_carrier_rules,
    read_rate_card,
    read_time_bands,
    resolve_carrier,
)
from genesys_sim.carrier import SEEDS_DIR, read_csv, write_cdr_files
from genesys_sim.catalog import DID_POOLS, in_org_pool
from genesys_sim.generator import ConversationGenerator

SEED = 13
# US DST starts 2024-03-10, UK DST 2024-03-31; 31 March -> 1 April is a month end.
DAYS = tuple(date(2024, m, d) for m, d in ((3, 8), (3, 10), (3, 11), (3, 29), (3, 31), (4, 1)))
PER_DAY = 2400
UNKNOWN_EDGE = "ed000000-0000-4000-8000-00000000ffff"
NOT_AN_ORG_NUMBER = "34915559999"  # in no pool: masked, names no carrier
OFF_THE_BOOKS_EVERY = (
    125  # one conversation in N: a number in no pool (every other one: unknown Edge)
)
BUILD = [
    "build",
    "--indirect-selection",
    "cautious",
    "--select",
    "+fct_voice_leg_costs",
    "did_pool_carriers",
    "carrier_edges",
]

# the rating chain from the carrier hint to the leg costs (the other marts need more than this)
RERATE = "int_voice_leg_carrier_candidates+,+fct_voice_leg_costs"
LEG_INPUTS = """
    select legs.leg_id, legs.direction, legs.billing_start, legs.answered_duration_ms,
        legs.dnis_org_number, legs.dnis_prefix, legs.ani_org_number, legs.edge_id,
        cdrs.carrier as cdr_carrier
    from intermediate.int_voice_legs as legs
    left join intermediate.int_cdr_leg_matches as matches
        on legs.leg_id = matches.leg_id and matches.leg_cdr_rank = 1
    left join staging.stg_carrier__cdrs as cdrs
        on matches.cdr_id = cdrs.cdr_id
"""
PRODUCT = """
    select leg_id, carrier, carrier_source, rating_status, destination_prefix, rate_effective_from,
        rate_per_minute, time_band, rated_seconds, expected_cost
    from finance.fct_voice_leg_costs
"""


def org_numbers() -> OrgNumbers:
    """The org's numbers: the simulated org's DID pools (what the extractor reads first)."""
    return OrgNumbers.build(ranges=[(p.start, p.end) for p in DID_POOLS])


def _off_the_books(conversation: dict[str, Any], edge: str | None) -> dict[str, Any]:
    """The conversation's org-side number replaced by one outside every pool (so it is masked and
    names no carrier), its Edge replaced when `edge` is given, and fresh Call-IDs (so the CDRs the
    simulator bills from the original do not match it)."""
    assert not in_org_pool(NOT_AN_ORG_NUMBER)
    for participant in conversation["participants"]:
        for session in participant.get("sessions", []):
            if session.get("mediaType") != "voice":
                continue
            if edge:
                session["edgeId"] = edge
            if "protocolCallId" in session:
                session["protocolCallId"] = str(uuid.uuid4())
            org_field = "dnis" if session.get("direction") == "inbound" else "ani"
            if org_field in session:
                session[org_field] = f"tel:+{NOT_AN_ORG_NUMBER}"
    return conversation


def _postgres(name: str) -> PostgresSettings:
    conn = _admin_connect()
    conn.cursor().execute(f'drop database if exists "{name}"')
    conn.cursor().execute(f'create database "{name}"')
    conn.close()
    admin = _admin_pg()
    return PostgresSettings(
        host=admin.host, port=admin.port, user=admin.user, password=admin.password, database=name
    )


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def rated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A warehouse with the dataset and its CDRs, after one build of the rating models."""
    target = str(request.param)
    tmp_path = tmp_path_factory.mktemp(f"rating_{target}")
    pg_name = f"gf_test_rating_{uuid.uuid4().hex[:8]}" if target == "postgres" else None
    settings = make_settings(target, tmp_path, _postgres(pg_name) if pg_name else None)
    try:
        gen = ConversationGenerator(
            seed=SEED,
            start=DAYS[0],
            end=date(2024, 4, 5),
            conversations_per_day=PER_DAY,
            now=datetime(2024, 4, 20, tzinfo=UTC),
        )
        conversations = [c for day in DAYS for c in gen.conversations_for_day(day)]
        for n, i in enumerate(range(0, len(conversations), OFF_THE_BOOKS_EVERY)):
            conversations[i] = _off_the_books(conversations[i], UNKNOWN_EDGE if n % 2 else None)
        raw_loader.load_org_numbers(settings, gen.did_pools(), gen.dids())
        masker = Masker.from_settings(settings, env={}, org_numbers=org_numbers())
        masked = [masker.mask_conversation(c) for c in conversations]
        raw_loader.load_conversations(
            settings, masked, mask=False, extracted_at=datetime(2024, 4, 20, tzinfo=UTC)
        )
        cdr_paths: list[Path] = []
        for day in DAYS:
            files = write_cdr_files(
                gen, day, date.fromordinal(day.toordinal() + 1), tmp_path / "cdrs", seed=SEED
            )
            cdr_paths += files.cdr_paths
        load_cdr_files(settings, cdr_paths, "generic", masker)
        target_path = tmp_path / "target"
        run_dbt(settings, BUILD, target_path=target_path)
        yield {"settings": settings, "target_path": target_path}
    finally:
        if pg_name:
            conn = _admin_connect()
            conn.cursor().execute(f'drop database if exists "{pg_name}" with (force)')
            conn.close()


def oracle_prices(settings: Settings, default_carrier: str | None = None) -> dict[str, RatedLeg]:
    """Every leg priced by the oracle from its inputs in the warehouse and the demo seeds."""
    card = read_rate_card(SEEDS_DIR / "demo_rate_cards.csv")
    bands = read_time_bands(SEEDS_DIR / "demo_time_bands.csv")
    rules = read_number_carrier_rules(SEEDS_DIR / "demo_did_pool_carriers.csv")
    pools = [DidPool(p.id, p.start, p.end) for p in DID_POOLS]
    edges = {r["edge_id"]: r["carrier"] for r in read_csv(SEEDS_DIR / "demo_carrier_edges.csv")}
    out: dict[str, RatedLeg] = {}
    for (
        leg_id,
        direction,
        start,
        duration,
        dnis_org,
        dnis_prefix,
        ani_org,
        edge,
        cdr_carrier,
    ) in raw_loader.fetch(settings, LEG_INPUTS):
        org = dnis_org if direction == "inbound" else ani_org
        carrier, source = resolve_carrier(
            cdr_carrier, number_carrier(org, rules, pools, {}), edges.get(edge), default_carrier
        )
        out[leg_id] = rate_leg(
            carrier=carrier,
            carrier_source=source,
            direction=direction,
            rated_number=dnis_org or dnis_prefix,
            billing_start=start,
            answered_duration_ms=duration,
            card=card,
            bands=bands,
        )
    return out


def _as_row(leg: RatedLeg) -> tuple[Any, ...]:
    rate = leg.rate
    return (
        leg.carrier,
        leg.carrier_source,
        leg.rating_status,
        rate.destination_prefix if rate else None,
        rate.effective_from if rate else None,
        rate.rate_per_minute if rate else None,
        rate.time_band if rate else None,
        leg.rated_seconds,
        leg.expected_cost,
    )


def product_prices(settings: Settings) -> dict[str, tuple[Any, ...]]:
    return {row[0]: tuple(row[1:]) for row in raw_loader.fetch(settings, PRODUCT)}


def differing(settings: Settings, default_carrier: str | None = None) -> list[Any]:
    expected = {k: _as_row(v) for k, v in oracle_prices(settings, default_carrier).items()}
    actual = product_prices(settings)
    assert set(actual) == set(expected)
    return [(k, expected[k], actual[k]) for k in expected if expected[k] != actual[k]]


def test_every_leg_costs_what_the_oracle_says(rated: dict[str, Any]) -> None:
    settings = rated["settings"]
    assert len(product_prices(settings)) >= 10_000
    bad = differing(settings)
    assert not bad, f"{len(bad)} legs differ, e.g. {bad[:3]}"


def test_dataset_exercises_the_rules(rated: dict[str, Any]) -> None:
    """The comparison means something: the dataset reaches every rule the rater has."""
    rows = raw_loader.fetch(
        rated["settings"],
        "select carrier_source, rating_status, time_band, rated_seconds, expected_cost,"
        " connection_fee from finance.fct_voice_leg_costs",
    )
    sources = Counter(r[0] for r in rows)
    assert {"cdr", "number", "edge"} <= set(sources), sources
    assert {r[2] for r in rows} >= {
        "us_peak",
        "us_offpeak",
        "us_weekend",
        "uk_peak",
        "uk_offpeak",
        "uk_weekend",
    }
    assert any(r[3] == 0 and r[4] == Decimal("0") for r in rows), "never-answered legs cost 0"
    assert any(r[5] and r[5] > 0 and r[4] and r[4] > 0 for r in rows), "connection fees charged"
    statuses = Counter(r[1] for r in rows)
    assert statuses["rated"] > 10_000 and statuses["unresolved_carrier"] > 0, statuses


def test_unresolved_legs_have_no_cost(rated: dict[str, Any]) -> None:
    rows = raw_loader.fetch(
        rated["settings"],
        "select rating_status, carrier, carrier_source, expected_cost, rated_seconds"
        f" from finance.fct_voice_leg_costs where edge_id = '{UNKNOWN_EDGE}'"
        " and carrier_source is null",
    )
    assert rows
    assert all(r == ("unresolved_carrier", None, None, None, None) for r in rows)


def test_default_carrier_resolves_the_rest(rated: dict[str, Any]) -> None:
    """With var `genesys_finance_default_carrier`, the legs nothing else resolves take it (and
    are priced like the oracle prices them); the others keep their own source."""
    settings = rated["settings"]
    before = Counter(
        r[0]
        for r in raw_loader.fetch(
            settings, "select carrier_source from finance.fct_voice_leg_costs"
        )
    )
    run_dbt(
        settings,
        [
            "run",
            "--full-refresh",  # a lookup or var change is not watched by the incremental rating
            "--select",
            RERATE,
            "--vars",
            "{genesys_finance_default_carrier: atlantic_carrier}",
        ],
        target_path=rated["target_path"],
    )
    try:
        after = Counter(
            r[0]
            for r in raw_loader.fetch(
                settings, "select carrier_source from finance.fct_voice_leg_costs"
            )
        )
        assert after["default"] == before[None] > 0
        assert after[None] == 0
        assert all(after[s] == before[s] for s in ("cdr", "number", "edge"))
        bad = differing(settings, default_carrier="atlantic_carrier")
        assert not bad, f"{len(bad)} legs differ, e.g. {bad[:3]}"
    finally:
        run_dbt(
            settings,
            ["run", "--full-refresh", "--select", RERATE],
            target_path=rated["target_path"],
        )
