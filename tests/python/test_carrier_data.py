"""Carrier data: rate-card seeds, CDR files with labelled discrepancies, and their ground truth.

Correct rows must bill exactly per `rating.py`; every discrepancy type must be present and the
ground truth must describe the files exactly (the reconciliation models are checked against it).
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml

from genesys_oracles.rating import find_rate, leg_cost, rated_seconds
from genesys_sim.carrier import (
    DEFAULT_RATE_CARDS,
    DISCREPANCY_TYPES,
    GENERIC_COLUMNS,
    SEEDS_DIR,
    CdrFiles,
    carrier_legs,
    iter_legs,
    load_rate_card,
    load_tariff,
    read_csv,
    write_cdr_files,
    write_genesys_voice_report,
)
from genesys_sim.catalog import EDGE_CARRIERS
from genesys_sim.generator import ConversationGenerator
from genesys_sim.shapes import parse_iso_ms

# Straddles northwind_telecom's 2024-07-01 rate change.
START, END = date(2024, 6, 24), date(2024, 7, 8)
RATE_CARD_COLUMNS = [
    "carrier", "direction", "destination_prefix", "effective_from", "effective_to",
    "rate_per_minute", "currency", "min_seconds", "increment_seconds", "connection_fee",
    "time_band",
]  # fmt: skip


@pytest.fixture(scope="module")
def gen() -> ConversationGenerator:
    return ConversationGenerator(11, START, END, 250, now=datetime(2024, 7, 20, tzinfo=UTC))


@pytest.fixture(scope="module")
def files(gen: ConversationGenerator, tmp_path_factory: pytest.TempPathFactory) -> CdrFiles:
    out = tmp_path_factory.mktemp("cdrs")
    return write_cdr_files(gen, START, END, out, seed=11, genesys_voice_report=True)


@pytest.fixture(scope="module")
def cdr_rows(files: CdrFiles) -> list[dict[str, str]]:
    return [row for path in files.cdr_paths for row in read_csv(path)]


@pytest.fixture(scope="module")
def truth(files: CdrFiles) -> list[dict[str, str]]:
    return read_csv(files.ground_truth_path)


def _digits(number: str) -> str:
    return number.lstrip("+")


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


# -- seeds ----------------------------------------------------------------------------------------
def test_rate_card_columns_and_rules() -> None:
    with DEFAULT_RATE_CARDS.open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == RATE_CARD_COLUMNS
        rows = list(reader)
    card = load_rate_card()
    carriers = {r.carrier for r in card}
    assert len(carriers) >= 3 and "genesys_cloud_voice" in carriers
    assert all(
        (r.min_seconds, r.increment_seconds) == (6, 6)
        for r in card
        if r.carrier == "genesys_cloud_voice"
    )
    assert {(r.min_seconds, r.increment_seconds) for r in card} >= {
        (6, 6),
        (30, 6),
        (60, 60),
        (1, 1),
    }
    assert any(r.connection_fee > 0 for r in card)
    for row in rows:
        prefix = row["destination_prefix"]
        assert prefix == "" or (prefix.isdigit() and len(prefix) <= 4)
        assert Decimal(row["rate_per_minute"]) > 0
    for carrier in carriers:
        for direction in ("inbound", "outbound"):
            assert any(
                r.carrier == carrier and r.direction == direction and r.destination_prefix == ""
                for r in card
            ), f"{carrier} {direction} needs a fallback row"
    # No two versions of a (carrier, direction, prefix, band) overlap in time.
    versions: dict[tuple[str, ...], list[tuple[date, date]]] = defaultdict(list)
    for r in card:
        key = (r.carrier, r.direction, r.destination_prefix, r.time_band or "")
        versions[key].append((r.effective_from, r.effective_to or date.max))
    for spans in versions.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in pairwise(spans))
    assert any(len(v) > 1 for v in versions.values()), "a carrier changes rates mid-period"


def test_carrier_edges_and_time_bands_seeds() -> None:
    edges = read_csv(SEEDS_DIR / "demo_carrier_edges.csv")
    assert {r["edge_id"]: r["carrier"] for r in edges} == EDGE_CARRIERS
    assert {r.carrier for r in load_rate_card()} == set(EDGE_CARRIERS.values())
    bands = read_csv(SEEDS_DIR / "demo_time_bands.csv")
    assert bands and {"time_band", "timezone", "weekdays", "start_local", "end_local"} <= set(
        bands[0]
    )
    names = {b["time_band"] for b in bands}
    assert all(r.time_band is None or r.time_band in names for r in load_rate_card())


def test_seed_column_types_keep_money_decimal() -> None:
    doc = yaml.safe_load((SEEDS_DIR.parent / "_seeds.yml").read_text(encoding="utf-8"))
    seeds = {s["name"]: s for s in doc["seeds"]}
    assert {"rate_cards", "time_bands", "carrier_edges"} <= set(seeds)
    types = seeds["demo_rate_cards"]["config"]["column_types"]
    assert set(types) == set(RATE_CARD_COLUMNS)
    assert types["rate_per_minute"].startswith("decimal") and types["connection_fee"].startswith(
        "decimal"
    )
    assert types["destination_prefix"] == "varchar"


# -- legs -----------------------------------------------------------------------------------------
def test_leg_duration_from_first_answered_segment() -> None:
    def seg(kind: str, start: str, end: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"segmentType": kind, "segmentStart": f"2024-05-14T13:{start}Z"}
        if end:
            out["segmentEnd"] = f"2024-05-14T13:{end}Z"
        return out

    def voice(purpose: str, call_id: str, segments: list[dict[str, Any]]) -> dict[str, Any]:
        session = {
            "mediaType": "voice",
            "direction": "outbound",
            "protocolCallId": call_id,
            "edgeId": next(iter(EDGE_CARRIERS)),
            "ani": "tel:+12125550100",
            "dnis": "tel:+447700900123",
            "segments": segments,
        }
        return {"purpose": purpose, "sessions": [session]}

    conv = {
        "conversationId": "c",
        "participants": [
            voice(
                "external",
                "answered",
                [
                    seg("dialing", "00:00.000", "00:00.300"),
                    seg("contacting", "00:00.300", "00:05.000"),
                    seg("interact", "00:05.000", "01:05.500"),
                ],
            ),
            voice("customer", "unanswered", [seg("contacting", "00:00.000", "00:30.000")]),
            voice("customer", "ongoing", [seg("interact", "00:00.000", None)]),
            voice("agent", "internal", [seg("interact", "00:00.000", "00:10.000")]),
        ],
    }
    legs = {leg.sip_call_id: leg for leg in carrier_legs(conv)}
    assert set(legs) == {"answered", "unanswered"}
    assert legs["answered"].duration_ms == 60_500 and legs["answered"].called == "447700900123"
    assert legs["unanswered"].answer_ms is None and legs["unanswered"].duration_ms == 0


# -- CDR files ------------------------------------------------------------------------------------
def test_cdr_files_format(files: CdrFiles, cdr_rows: list[dict[str, str]]) -> None:
    for path in files.cdr_paths:
        with path.open(encoding="utf-8") as fh:
            assert next(csv.reader(fh)) == list(GENERIC_COLUMNS)
    assert len(cdr_rows) > 1000
    for row in cdr_rows[:2000]:
        assert row["start_time"].endswith("Z") and row["end_time"].endswith("Z")
        assert row["called_number"].startswith("+") and _digits(row["called_number"]).isdigit()
        assert row["direction"] in ("inbound", "outbound")
        assert int(row["duration_ms"]) == parse_iso_ms(row["end_time"]) - parse_iso_ms(
            row["start_time"]
        )
        assert row["carrier"] in EDGE_CARRIERS.values()


def test_every_discrepancy_type_present(truth: list[dict[str, str]]) -> None:
    counts = Counter(r["discrepancy_type"] for r in truth)
    assert set(counts) == set(DISCREPANCY_TYPES)
    billable = sum(1 for r in truth if r["expected_rated_seconds"] not in ("", "0"))
    for kind in DISCREPANCY_TYPES[1:]:
        assert 0.01 < counts[kind] / billable < 0.06, (kind, counts[kind])


def test_correct_rows_bill_exactly_per_rating(
    truth: list[dict[str, str]], cdr_rows: list[dict[str, str]]
) -> None:
    tariff = load_tariff()
    clean = {r["sip_call_id"] for r in truth if r["discrepancy_type"] in ("none", "orphan_cdr")}
    rates_seen: set[tuple[str, Decimal]] = set()
    checked = 0
    for row in cdr_rows:
        if row["sip_call_id"] not in clean:
            continue
        rate = find_rate(
            tariff.card,
            tariff.bands,
            row["carrier"],
            row["direction"],
            _digits(row["called_number"]),
            _at(row["start_time"]),
        )
        assert rate is not None
        duration = int(row["duration_ms"])
        assert int(row["billed_seconds"]) == rated_seconds(
            duration, rate.min_seconds, rate.increment_seconds
        )
        assert Decimal(row["rate_per_minute"]) == rate.rate_per_minute
        expected = leg_cost(
            duration,
            rate.rate_per_minute,
            rate.min_seconds,
            rate.increment_seconds,
            rate.connection_fee,
        )
        assert Decimal(row["billed_amount"]) == expected
        rates_seen.add((row["carrier"], rate.rate_per_minute))
        checked += 1
    assert checked > 1000
    northwind_us = {r for c, r in rates_seen if c == "northwind_telecom"}
    assert {Decimal("0.00900000"), Decimal("0.00950000")} <= northwind_us, "both card versions used"


def test_ground_truth_matches_generator_legs(
    gen: ConversationGenerator, truth: list[dict[str, str]]
) -> None:
    tariff = load_tariff()
    legs = {leg.sip_call_id: leg for leg in iter_legs(gen, START, END)}
    by_id = {r["sip_call_id"]: r for r in truth}
    assert set(legs) == {k for k, r in by_id.items() if r["discrepancy_type"] != "orphan_cdr"}
    assert any(leg.answer_ms is None for leg in legs.values()), "never-answered legs exist"
    for call_id, leg in legs.items():
        row = by_id[call_id]
        assert row["carrier"] == leg.carrier and int(row["duration_ms"]) == leg.duration_ms
        if leg.answer_ms is None:
            assert row["expected_amount"] == "0.000000" and row["cdr_rows"] == "0"
            continue
        rate = find_rate(
            tariff.card,
            tariff.bands,
            leg.carrier,
            leg.direction,
            leg.called,
            datetime.fromtimestamp(leg.answer_ms / 1000, tz=UTC),
        )
        assert rate is not None
        assert int(row["expected_rated_seconds"]) == rated_seconds(
            leg.duration_ms, rate.min_seconds, rate.increment_seconds
        )
        assert Decimal(row["expected_amount"]) == leg_cost(
            leg.duration_ms,
            rate.rate_per_minute,
            rate.min_seconds,
            rate.increment_seconds,
            rate.connection_fee,
        )


def test_ground_truth_consistent_with_files(
    truth: list[dict[str, str]], cdr_rows: list[dict[str, str]]
) -> None:
    rows_by_id: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in cdr_rows:
        rows_by_id[row["sip_call_id"]].append(row)
    assert set(rows_by_id) == {r["sip_call_id"] for r in truth if r["cdr_rows"] != "0"}
    for t in truth:
        rows = rows_by_id.get(t["sip_call_id"], [])
        assert len(rows) == int(t["cdr_rows"])
        if rows:
            assert sum(int(r["billed_seconds"]) for r in rows) == int(t["billed_seconds"])
            assert sum(Decimal(r["billed_amount"]) for r in rows) == Decimal(t["billed_amount"])
        else:
            assert t["billed_seconds"] == t["billed_amount"] == ""
        kind = t["discrepancy_type"]
        expected_s = int(t["expected_rated_seconds"] or 0)
        expected_a = Decimal(t["expected_amount"] or 0)
        if kind == "none":
            assert len(rows) <= 1 and (not rows or int(rows[0]["billed_seconds"]) == expected_s)
        elif kind == "duration_overbilled":
            assert (
                int(t["billed_seconds"]) > expected_s and Decimal(t["billed_amount"]) > expected_a
            )
        elif kind == "duration_underbilled":
            assert (
                int(t["billed_seconds"]) < expected_s and Decimal(t["billed_amount"]) < expected_a
            )
        elif kind == "rate_mismatch":
            assert int(t["billed_seconds"]) == expected_s
            assert Decimal(rows[0]["rate_per_minute"]) != Decimal(t["expected_rate_per_minute"])
            assert Decimal(t["billed_amount"]) != expected_a
        elif kind == "missing_cdr":
            assert not rows and expected_s > 0
        elif kind == "duplicate_cdr":
            assert len(rows) == 2 and rows[0] == rows[1]
        elif kind == "orphan_cdr":
            assert t["expected_amount"] == "" and len(rows) == 1


def test_files_are_deterministic(
    gen: ConversationGenerator, files: CdrFiles, tmp_path: Path
) -> None:
    again = write_cdr_files(gen, START, END, tmp_path, seed=11, genesys_voice_report=True)
    for a, b in zip(files.cdr_paths, again.cdr_paths, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert files.ground_truth_path.read_bytes() == again.ground_truth_path.read_bytes()


def test_genesys_voice_report_mirrors_generic_rows(
    files: CdrFiles, cdr_rows: list[dict[str, str]]
) -> None:
    assert files.genesys_voice_path is not None
    report = read_csv(files.genesys_voice_path)
    generic = [r for r in cdr_rows if r["carrier"] == "genesys_cloud_voice"]
    assert Counter(r["SIP Call Id"] for r in report) == Counter(r["sip_call_id"] for r in generic)
    assert sum(Decimal(r["Total cost"]) for r in report) == sum(
        Decimal(r["billed_amount"]) for r in generic
    )
    for r in report:
        assert int(r["Adjusted Duration (seconds)"]) % 6 == 0
        assert int(r["Adjusted Duration (seconds)"]) >= int(r["Duration (Seconds)"])


def test_standalone_voice_report_equals_the_one_written_with_the_cdrs(
    gen: ConversationGenerator, files: CdrFiles, tmp_path: Path
) -> None:
    assert files.genesys_voice_path is not None
    alone = write_genesys_voice_report(gen, START, END, tmp_path / "voice.csv", seed=11)
    assert alone.read_bytes() == files.genesys_voice_path.read_bytes()
