"""Carrier CDR files for the simulated conversations, with labelled billing discrepancies.

One generic CSV (DESIGN.md) per carrier: one row per billed carrier-facing leg (a `voice` session
with a `protocolCallId` on a `customer` or `external` participant), rated exactly with
`genesys_oracles.rating` and the demo rate cards and time bands (`seeds/demo/`), then a few percent
of each discrepancy type injected.
A ground-truth CSV labels every leg and every orphan CDR, so reconciliation can be checked.
"""

from __future__ import annotations

import csv
import functools
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from genesys_oracles.rating import (
    DidPool,
    NumberCarrierRule,
    RateCardRow,
    TimeBand,
    billable_seconds,
    find_rate,
    leg_cost,
    number_carrier,
    rated_seconds,
    read_number_carrier_rules,
    read_rate_card,
    read_time_bands,
)
from genesys_oracles.voice_legs import voice_legs
from genesys_sim import fake_pii
from genesys_sim.catalog import DID_POOLS, EDGE_CARRIERS, _uuid, build_catalog
from genesys_sim.shapes import iso_ms, parse_iso_ms

# The demo's invented lookups; the product's own `seeds/*.csv` are the org's and never written here.
SEEDS_DIR = Path(__file__).resolve().parents[2] / "seeds" / "demo"
DEFAULT_RATE_CARDS = SEEDS_DIR / "demo_rate_cards.csv"
DEFAULT_TIME_BANDS = SEEDS_DIR / "demo_time_bands.csv"
DEFAULT_DID_POOL_CARRIERS = SEEDS_DIR / "demo_did_pool_carriers.csv"
DEFAULT_CLIENT_CONTRACTS = SEEDS_DIR / "demo_client_contracts.csv"
DEMO_SEED = 7  # `genesys-finance demo`'s default seed: the catalog the demo contracts name
CLIENT_CONTRACT_COLUMNS = (
    "client", "queue_id", "division_id", "effective_from", "effective_to", "price_per_minute",
    "currency", "min_seconds", "increment_seconds",
)  # fmt: skip
# (client, queue name or None, division name or None, from, to, price per minute, min, increment)
_CONTRACTS = (
    ("Acme Insurance", "Support - Tier 1", None, "2023-01-01", "2024-07-01", "0.09000000", 6, 6),
    ("Acme Insurance", "Support - Tier 1", None, "2024-07-01", "", "0.09500000", 6, 6),
    ("Acme Insurance", "Support - Tier 2", None, "2023-01-01", "", "0.11000000", 6, 6),
    ("Globex Retail", "Billing", None, "2023-01-01", "", "0.08000000", 30, 6),
    ("Globex Retail", "Spanish Support", None, "2023-01-01", "", "0.08500000", 30, 6),
    ("Umbrella Finance", "Collections", None, "2023-01-01", "", "0.07000000", 1, 1),
    ("Initech", None, "Sales", "2023-01-01", "", "0.12000000", 60, 60),
)

GENERIC_COLUMNS = (
    "carrier", "sip_call_id", "start_time", "end_time", "billed_seconds", "calling_number",
    "called_number", "direction", "rate_per_minute", "billed_amount", "currency", "invoice_id",
    "answer_time", "duration_ms",
)  # fmt: skip
TRUTH_COLUMNS = (
    "sip_call_id", "carrier", "discrepancy_type", "expected_rated_seconds", "expected_amount",
    "billed_seconds", "billed_amount", "cdr_rows", "conversation_id", "direction", "duration_ms",
    "expected_rate_per_minute",
)  # fmt: skip
VOICE_REPORT_COLUMNS = (
    "SIP Call Id", "Origin", "Destination", "Usage Group", "Usage Group Display", "Call Type",
    "Direction", "Start time", "End Time", "Duration (Seconds)", "Adjusted Duration (seconds)",
    "Adjusted Duration (minutes)", "Usage Rate Per Minute", "Total cost", "Currency",
)  # fmt: skip
DISCREPANCY_TYPES = (
    "none", "duration_overbilled", "duration_underbilled", "rate_mismatch", "missing_cdr",
    "orphan_cdr", "duplicate_cdr",
)  # fmt: skip
# Leg-level injected types, each drawn with probability `discrepancy_rate`.
_LEG_TYPES = (
    "duration_overbilled",
    "duration_underbilled",
    "rate_mismatch",
    "missing_cdr",
    "duplicate_cdr",
)
_RATE_QUANTUM = Decimal("0.00000001")


class _Generator(Protocol):
    start: date
    end: date

    def conversations_for_day(self, day: date) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Leg:
    """A carrier-facing voice leg as Genesys saw it."""

    conversation_id: str
    sip_call_id: str
    carrier: str
    direction: str
    calling: str  # E.164 digits, no '+'
    called: str
    answer_ms: int | None  # None: never answered
    end_ms: int

    @property
    def duration_ms(self) -> int:
        return 0 if self.answer_ms is None else self.end_ms - self.answer_ms


@dataclass(frozen=True)
class Cdr:
    """One generic CDR row."""

    carrier: str
    sip_call_id: str
    start_ms: int
    end_ms: int
    billed_seconds: int
    calling: str
    called: str
    direction: str
    rate_per_minute: Decimal
    billed_amount: Decimal
    currency: str

    def row(self) -> dict[str, str]:
        return {
            "carrier": self.carrier,
            "sip_call_id": self.sip_call_id,
            "start_time": iso_ms(self.start_ms),
            "end_time": iso_ms(self.end_ms),
            "billed_seconds": str(self.billed_seconds),
            "calling_number": f"+{self.calling}",
            "called_number": f"+{self.called}",
            "direction": self.direction,
            "rate_per_minute": f"{self.rate_per_minute:f}",
            "billed_amount": f"{self.billed_amount:f}",
            "currency": self.currency,
            "invoice_id": invoice_id(self.carrier, self.start_ms),
            "answer_time": iso_ms(self.start_ms),
            "duration_ms": str(self.end_ms - self.start_ms),
        }


@dataclass(frozen=True)
class Truth:
    """Ground truth of one leg or orphan CDR."""

    sip_call_id: str
    carrier: str
    discrepancy_type: str
    expected_rated_seconds: int | None
    expected_amount: Decimal | None
    billed_seconds: int | None  # sum over the CDR rows of this Call-ID; None = no row
    billed_amount: Decimal | None
    cdr_rows: int
    conversation_id: str
    direction: str
    duration_ms: int | None
    expected_rate_per_minute: Decimal | None

    def row(self) -> dict[str, str]:
        def text(value: object) -> str:
            if value is None:
                return ""
            return f"{value:f}" if isinstance(value, Decimal) else str(value)

        return {name: text(getattr(self, name)) for name in TRUTH_COLUMNS}


@dataclass(frozen=True)
class CdrFiles:
    cdr_paths: list[Path]  # one generic CSV per carrier
    ground_truth_path: Path
    genesys_voice_path: Path | None = None


def invoice_id(carrier: str, start_ms: int) -> str:
    return f"INV-{carrier.upper()[:4]}-{iso_ms(start_ms)[:7].replace('-', '')}"


# -- rate card ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tariff:
    """The carriers' rate cards and the time bands their rows name (the demo seeds)."""

    card: list[RateCardRow]
    bands: dict[str, TimeBand]


def load_rate_card(path: Path = DEFAULT_RATE_CARDS) -> list[RateCardRow]:
    return read_rate_card(path)


def load_tariff(
    rate_card_path: Path = DEFAULT_RATE_CARDS, time_bands_path: Path = DEFAULT_TIME_BANDS
) -> Tariff:
    return Tariff(read_rate_card(rate_card_path), read_time_bands(time_bands_path))


def rate_for(tariff: Tariff, carrier: str, direction: str, called: str, at_ms: int) -> RateCardRow:
    """The card row a carrier bills a leg with: longest prefix of the called number, the version
    in force on the UTC day of the answer instant, the time band holding that instant (its zone)."""
    at = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    row = find_rate(tariff.card, tariff.bands, carrier, direction, called, at)
    if row is None:
        raise LookupError(f"no rate for {carrier} {direction} +{called[:4]}... at {at:%Y-%m-%d}")
    return row


def client_contract_rows(seed: int = DEMO_SEED) -> list[dict[str, str]]:
    """The demo's invented client contracts, naming the queues and divisions of the simulated org
    of `seed`: four clients served by voice queues (one price change), one by a whole division."""
    catalog = build_catalog(seed)
    queues = {q["name"]: q["id"] for q in catalog.queues}
    divisions = {d["name"]: d["id"] for d in catalog.divisions}
    return [
        {
            "client": client,
            "queue_id": queues[queue] if queue else "",
            "division_id": divisions[division] if division else "",
            "effective_from": start,
            "effective_to": end,
            "price_per_minute": price,
            "currency": "USD",
            "min_seconds": str(minimum),
            "increment_seconds": str(increment),
        }
        for client, queue, division, start, end, price, minimum, increment in _CONTRACTS
    ]


def write_client_contracts_seed(
    path: Path = DEFAULT_CLIENT_CONTRACTS, seed: int = DEMO_SEED
) -> Path:
    """`seeds/demo/demo_client_contracts.csv` for the demo's seed (in git; a test checks it)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, CLIENT_CONTRACT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(client_contract_rows(seed))
    return path


def write_carrier_edges_seed(path: Path = SEEDS_DIR / "demo_carrier_edges.csv") -> Path:
    """`seeds/demo/demo_carrier_edges.csv` from the generator's fixed edges (in git; tested)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("edge_id", "carrier"))
        writer.writerows(sorted(EDGE_CARRIERS.items()))
    return path


# -- legs -----------------------------------------------------------------------------------------
_POOLS = tuple(DidPool(p.id, p.start, p.end) for p in DID_POOLS)


@functools.cache
def _number_rules(path: Path = DEFAULT_DID_POOL_CARRIERS) -> tuple[NumberCarrierRule, ...]:
    return tuple(read_number_carrier_rules(path))


def leg_carrier(direction: str, calling: str, called: str, edge_id: str) -> str:
    """The carrier that bills a leg: the one serving the org's number on it (the dialled DID when
    inbound, the presented caller id when outbound; `demo_did_pool_carriers`), else the Edge's."""
    org_number = called if direction == "inbound" else calling
    by_number = number_carrier(org_number, _number_rules(), _POOLS, {})
    return by_number or EDGE_CARRIERS[edge_id]


def _digits(address: str) -> str:
    return "".join(ch for ch in address if ch.isdigit())


def carrier_legs(conversation: dict[str, Any]) -> Iterator[Leg]:
    """Completed carrier-facing legs of a conversation (legs with an open segment are skipped).

    Which legs, their answer instant and end: the tests' oracle `genesys_oracles.voice_legs`
    (a leg with no answered segment is never answered: no CDR, cost 0).
    """
    for leg in voice_legs(conversation):
        if leg.segment_count == 0 or leg.open_segment_count or leg.end_ms is None:
            continue
        s = leg.session
        if "protocolCallId" not in s:  # the simulator's carriers bill by Call-ID
            continue
        calling, called = _digits(s.get("ani", "")), _digits(s["dnis"])
        yield Leg(
            conversation_id=leg.conversation_id,
            sip_call_id=s["protocolCallId"],
            carrier=leg_carrier(s["direction"], calling, called, s["edgeId"]),
            direction=s["direction"],
            calling=calling,
            called=called,
            answer_ms=leg.answered_ms,
            end_ms=leg.end_ms,
        )


def iter_legs(generator: _Generator, start: date, end: date) -> Iterator[Leg]:
    """Carrier legs of the conversations that started on days `[start, end)`, day by day."""
    day = max(start, generator.start)
    while day < min(end, generator.end):
        for conv in generator.conversations_for_day(day):
            yield from carrier_legs(conv)
        day += timedelta(days=1)


# -- billing with injected discrepancies ----------------------------------------------------------
def correct_cdr(leg: Leg, rate: RateCardRow) -> Cdr:
    assert leg.answer_ms is not None
    return Cdr(
        carrier=leg.carrier,
        sip_call_id=leg.sip_call_id,
        start_ms=leg.answer_ms,
        end_ms=leg.end_ms,
        billed_seconds=rated_seconds(leg.duration_ms, rate.min_seconds, rate.increment_seconds),
        calling=leg.calling,
        called=leg.called,
        direction=leg.direction,
        rate_per_minute=rate.rate_per_minute,
        billed_amount=leg_cost(
            leg.duration_ms,
            rate.rate_per_minute,
            rate.min_seconds,
            rate.increment_seconds,
            rate.connection_fee,
        ),
        currency=rate.currency,
    )


def _rebill(cdr: Cdr, rate: RateCardRow, duration_ms: int, rate_per_minute: Decimal) -> Cdr:
    """The carrier's row with its own measured duration and/or rate."""
    return replace(
        cdr,
        end_ms=cdr.start_ms + duration_ms,
        billed_seconds=rated_seconds(duration_ms, rate.min_seconds, rate.increment_seconds),
        rate_per_minute=rate_per_minute,
        billed_amount=leg_cost(
            duration_ms,
            rate_per_minute,
            rate.min_seconds,
            rate.increment_seconds,
            rate.connection_fee,
        ),
    )


def _overbill(rng: random.Random, cdr: Cdr, rate: RateCardRow, duration_ms: int) -> Cdr:
    extra = 1_000 + int(rng.random() * 90_000)
    while (
        rated_seconds(duration_ms + extra, rate.min_seconds, rate.increment_seconds)
        <= cdr.billed_seconds
    ):
        extra += rate.increment_seconds * 1_000
    return _rebill(cdr, rate, duration_ms + extra, rate.rate_per_minute)


def _underbill(rng: random.Random, cdr: Cdr, rate: RateCardRow, duration_ms: int) -> Cdr | None:
    """None when the leg sits at the minimum: no shorter positive duration bills less."""
    if cdr.billed_seconds <= max(rate.min_seconds, 1):
        return None
    new = max(1, duration_ms - 1_000 - int(rng.random() * 60_000))
    while (
        new > 1
        and rated_seconds(new, rate.min_seconds, rate.increment_seconds) >= cdr.billed_seconds
    ):
        new = max(1, new - rate.increment_seconds * 1_000)
    return _rebill(cdr, rate, new, rate.rate_per_minute)


def _misrate(rng: random.Random, cdr: Cdr, rate: RateCardRow, duration_ms: int) -> Cdr:
    """A rate off the card: the signature of an outdated card version or a wrong destination."""
    factor = Decimal(rng.choice(("1.10", "1.25", "0.90", "1.50", "2.00")))
    wrong = (rate.rate_per_minute * factor).quantize(_RATE_QUANTUM)
    return _rebill(cdr, rate, duration_ms, wrong)


def bill_leg(
    leg: Leg, tariff: Tariff, seed: int, discrepancy_rate: float
) -> tuple[Truth, list[Cdr]]:
    """The CDR rows a carrier sends for one leg, and its ground truth."""
    base = {
        "sip_call_id": leg.sip_call_id,
        "carrier": leg.carrier,
        "conversation_id": leg.conversation_id,
        "direction": leg.direction,
    }
    if leg.answer_ms is None:  # never answered: nothing billed, nothing expected
        return Truth(
            **base,
            discrepancy_type="none",
            expected_rated_seconds=0,
            expected_amount=Decimal("0.000000"),
            billed_seconds=None,
            billed_amount=None,
            cdr_rows=0,
            duration_ms=0,
            expected_rate_per_minute=None,
        ), []
    rate = rate_for(tariff, leg.carrier, leg.direction, leg.called, leg.answer_ms)
    good = correct_cdr(leg, rate)
    rng = random.Random(f"{seed}:cdr:{leg.sip_call_id}")
    draw = rng.random()
    kind = "none"
    if draw < discrepancy_rate * len(_LEG_TYPES):
        kind = _LEG_TYPES[int(draw / discrepancy_rate)]
    rows = [good]
    if kind == "duration_overbilled":
        rows = [_overbill(rng, good, rate, leg.duration_ms)]
    elif kind == "duration_underbilled":
        under = _underbill(rng, good, rate, leg.duration_ms)
        rows, kind = ([under], kind) if under else ([good], "none")
    elif kind == "rate_mismatch":
        rows = [_misrate(rng, good, rate, leg.duration_ms)]
    elif kind == "missing_cdr":
        rows = []
    elif kind == "duplicate_cdr":
        rows = [good, good]
    truth = Truth(
        **base,
        discrepancy_type=kind,
        expected_rated_seconds=good.billed_seconds,
        expected_amount=good.billed_amount,
        billed_seconds=sum(r.billed_seconds for r in rows) if rows else None,
        billed_amount=sum((r.billed_amount for r in rows), Decimal("0.000000")) if rows else None,
        cdr_rows=len(rows),
        duration_ms=leg.duration_ms,
        expected_rate_per_minute=rate.rate_per_minute,
    )
    return truth, rows


def orphan_cdrs(
    tariff: Tariff, start: date, end: date, count: int, seed: int
) -> Iterator[tuple[Truth, Cdr]]:
    """CDRs whose Call-ID no Genesys leg has (e.g. a leg Genesys never saw)."""
    rng = random.Random(f"{seed}:orphans:{start}:{end}")
    carriers = sorted(set(EDGE_CARRIERS.values()))
    span_ms = (end - start).days * 86_400_000
    start_ms = parse_iso_ms(f"{start.isoformat()}T00:00:00Z")
    for _ in range(count):
        carrier = rng.choice(carriers)
        direction = rng.choice(("inbound", "outbound"))
        customer = fake_pii.customer_number(rng)
        company = fake_pii.toll_free(rng)
        calling, called = (customer, company) if direction == "inbound" else (company, customer)
        answer = start_ms + int(rng.random() * max(1, span_ms - 3_600_000))
        leg = Leg(
            "",
            _uuid(rng),
            carrier,
            direction,
            calling,
            called,
            answer,
            answer + 1_000 + int(rng.random() * 600_000),
        )
        cdr = correct_cdr(leg, rate_for(tariff, carrier, direction, called, answer))
        truth = Truth(
            sip_call_id=cdr.sip_call_id,
            carrier=carrier,
            discrepancy_type="orphan_cdr",
            expected_rated_seconds=None,
            expected_amount=None,
            billed_seconds=cdr.billed_seconds,
            billed_amount=cdr.billed_amount,
            cdr_rows=1,
            conversation_id="",
            direction=direction,
            duration_ms=None,
            expected_rate_per_minute=None,
        )
        yield truth, cdr


# -- files ----------------------------------------------------------------------------------------
def write_cdr_files(
    generator: _Generator,
    start: date,
    end: date,
    out_dir: Path,
    seed: int = 0,
    discrepancy_rate: float = 0.03,
    rate_card_path: Path = DEFAULT_RATE_CARDS,
    genesys_voice_report: bool = False,
    time_bands_path: Path = DEFAULT_TIME_BANDS,
) -> CdrFiles:
    """Generic CDR CSVs (one per carrier) for conversations started on days `[start, end)`, the
    ground-truth CSV and, optionally, the Genesys Cloud Voice usage report of that carrier.

    Streams day by day: memory holds the open files, not the period.
    """
    tariff = load_tariff(rate_card_path, time_bands_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{start:%Y%m%d}_{end:%Y%m%d}"
    carriers = sorted(set(EDGE_CARRIERS.values()))
    paths = {c: out_dir / f"cdrs_{c}_{tag}.csv" for c in carriers}
    truth_path = out_dir / f"ground_truth_{tag}.csv"
    voice_path = out_dir / f"genesys_voice_usage_{tag}.csv" if genesys_voice_report else None
    handles = {c: p.open("w", newline="", encoding="utf-8") for c, p in paths.items()}
    try:
        writers = {
            c: csv.DictWriter(h, GENERIC_COLUMNS, lineterminator="\n") for c, h in handles.items()
        }
        for w in writers.values():
            w.writeheader()
        with truth_path.open("w", newline="", encoding="utf-8") as tf:
            truth_writer = csv.DictWriter(tf, TRUTH_COLUMNS, lineterminator="\n")
            truth_writer.writeheader()
            billed = 0
            voice_rows: list[Cdr] = []
            for leg in iter_legs(generator, start, end):
                truth, rows = bill_leg(leg, tariff, seed, discrepancy_rate)
                truth_writer.writerow(truth.row())
                for cdr in rows:
                    writers[cdr.carrier].writerow(cdr.row())
                    if voice_path and cdr.carrier == "genesys_cloud_voice":
                        voice_rows.append(cdr)
                billed += bool(rows)
            for truth, cdr in orphan_cdrs(
                tariff, start, end, max(1, round(billed * discrepancy_rate)), seed
            ):
                truth_writer.writerow(truth.row())
                writers[cdr.carrier].writerow(cdr.row())
                if voice_path and cdr.carrier == "genesys_cloud_voice":
                    voice_rows.append(cdr)
    finally:
        for h in handles.values():
            h.close()
    if voice_path:
        _write_voice_report(voice_rows, voice_path)
    return CdrFiles([paths[c] for c in carriers], truth_path, voice_path)


def write_genesys_voice_report(
    generator: _Generator, start: date, end: date, out_path: Path, seed: int = 0,
    discrepancy_rate: float = 0.03, rate_card_path: Path = DEFAULT_RATE_CARDS,
    time_bands_path: Path = DEFAULT_TIME_BANDS,
) -> Path:  # fmt: skip
    """The `genesys_cloud_voice` legs (same rows and discrepancies as its generic file) in the
    Genesys Cloud Voice usage-report layout (carrier-billing.md §8.2)."""
    tariff = load_tariff(rate_card_path, time_bands_path)
    rows: list[Cdr] = []
    billed = 0
    for leg in iter_legs(generator, start, end):
        _, cdrs = bill_leg(leg, tariff, seed, discrepancy_rate)
        billed += bool(cdrs)
        rows.extend(c for c in cdrs if c.carrier == "genesys_cloud_voice")
    for _, cdr in orphan_cdrs(tariff, start, end, max(1, round(billed * discrepancy_rate)), seed):
        if cdr.carrier == "genesys_cloud_voice":
            rows.append(cdr)
    _write_voice_report(rows, out_path)
    return out_path


def _voice_row(cdr: Cdr) -> dict[str, str]:
    toll_free = cdr.direction == "inbound" and cdr.called.startswith("1800")
    call_type = "Toll-Free Inbound" if toll_free else cdr.direction.title()
    group = {"Toll-Free Inbound": "PCV-TFI", "Inbound": "PCV-IN", "Outbound": "PCV-OUT"}[call_type]
    return {
        "SIP Call Id": cdr.sip_call_id,
        "Origin": f"+{cdr.calling}",
        "Destination": f"+{cdr.called}",
        "Usage Group": group,
        "Usage Group Display": f"Genesys Cloud Voice {call_type}",
        "Call Type": call_type,
        "Direction": cdr.direction.title(),
        "Start time": iso_ms(cdr.start_ms),
        "End Time": iso_ms(cdr.end_ms),
        "Duration (Seconds)": str(billable_seconds(cdr.end_ms - cdr.start_ms)),
        "Adjusted Duration (seconds)": str(cdr.billed_seconds),
        "Adjusted Duration (minutes)": f"{Decimal(cdr.billed_seconds) / 60:.4f}",
        "Usage Rate Per Minute": f"{cdr.rate_per_minute:f}",
        "Total cost": f"{cdr.billed_amount:f}",
        "Currency": cdr.currency,
    }


def _write_voice_report(rows: Iterable[Cdr], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, VOICE_REPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_voice_row(c) for c in rows)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
