"""The rating rule of DESIGN.md, in exact arithmetic.

This is the oracle: the simulator's CDR generator bills with it, and tests compare the dbt rating
models against it. It is written from DESIGN.md's rules (rating rule, "Finance (wave 2)"), not from
the SQL. Durations are integer milliseconds, money is `Decimal`, never float.

A leg's carrier: the matched CDR's, else the org number's (DID pools -> `did_pool_carriers`), else
the Edge's (`carrier_edges`), else a default. Its rate row: carrier and direction, the longest
prefix of the rated number (the called number, `dnis`), in force on the UTC day of the billing
start, its time band holding the billing start in the band's own zone.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

COST_QUANTUM = Decimal("0.000001")


def billable_seconds(duration_ms: int) -> int:
    """Whole seconds, rounded up: a 30.1 s leg is 31 s (the common contract term)."""
    if duration_ms < 0:
        raise ValueError(f"duration_ms must be >= 0, got {duration_ms}")
    return -(-duration_ms // 1000)


def rated_seconds(duration_ms: int, min_seconds: int, increment_seconds: int) -> int:
    """Seconds charged under a min/inc billing model."""
    if increment_seconds < 1:
        raise ValueError(f"increment_seconds must be >= 1, got {increment_seconds}")
    if min_seconds < 0:
        raise ValueError(f"min_seconds must be >= 0, got {min_seconds}")
    d = billable_seconds(duration_ms)
    if d == 0:
        return 0
    if d <= min_seconds:
        return min_seconds
    return min_seconds + -(-(d - min_seconds) // increment_seconds) * increment_seconds


def leg_cost(
    duration_ms: int,
    rate_per_minute: Decimal,
    min_seconds: int,
    increment_seconds: int,
    connection_fee: Decimal,
) -> Decimal:
    """Expected cost of one leg, rounded half-up to 6 decimals; an unanswered leg costs 0."""
    seconds = rated_seconds(duration_ms, min_seconds, increment_seconds)
    if seconds == 0:
        return Decimal("0.000000")
    exact = connection_fee + Decimal(seconds) * rate_per_minute / Decimal(60)
    return exact.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RateCardRow:
    carrier: str
    direction: str
    destination_prefix: str  # E.164 digits; "" is the fallback row
    effective_from: date
    effective_to: date | None  # None = open
    rate_per_minute: Decimal
    currency: str
    min_seconds: int
    increment_seconds: int
    connection_fee: Decimal
    time_band: str | None = None

    def in_force(self, at: datetime) -> bool:
        """In force on the UTC calendar day of `at` (`[effective_from, effective_to)`)."""
        day = at.astimezone(UTC).date()
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)


# -- time bands -----------------------------------------------------------------------------------
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAY_MS = 86_400_000


def clock_ms(text: str) -> int:
    """`HH:MM:SS` (up to `24:00:00`) as milliseconds after midnight."""
    hours, minutes, seconds = (int(part) for part in text.split(":"))
    return ((hours * 60 + minutes) * 60 + seconds) * 1000


@dataclass(frozen=True)
class TimeBand:
    """A named time-of-day band in its own IANA zone (DST included)."""

    name: str
    timezone: str
    weekdays: frozenset[str]  # "Mon".."Sun"
    start_ms: int  # after local midnight, included
    end_ms: int  # excluded; at or before the start: the band wraps past midnight

    def holds(self, at: datetime) -> bool:
        """True when the local wall clock of instant `at` falls in the band, on a listed weekday.

        The weekday is the local instant's own: a band wrapping midnight covers, on each listed day,
        [start, 24:00) and [00:00, end).
        """
        local = at.astimezone(ZoneInfo(self.timezone))
        if WEEKDAY_NAMES[local.weekday()] not in self.weekdays:
            return False
        seconds = (local.hour * 60 + local.minute) * 60 + local.second
        ms = seconds * 1000 + local.microsecond // 1000
        if self.start_ms < self.end_ms:
            return self.start_ms <= ms < self.end_ms
        return ms >= self.start_ms or ms < self.end_ms


def find_rate(
    card: Iterable[RateCardRow],
    bands: Mapping[str, TimeBand],
    carrier: str,
    direction: str,
    number_digits: str,
    at: datetime,
) -> RateCardRow | None:
    """The rate row of a leg: carrier and direction; the longest prefix starting `number_digits`
    ("" matches everything); in force on `at`'s UTC day; its band (if it names one) holding `at`
    (a row naming an unknown band never applies). Ties: a banded row before an unbanded one, then
    the later `effective_from`, then the band name."""
    candidates = []
    for row in card:
        if row.carrier != carrier or row.direction != direction or not row.in_force(at):
            continue
        if not number_digits.startswith(row.destination_prefix):
            continue
        if row.time_band is not None:
            band = bands.get(row.time_band)
            if band is None or not band.holds(at):
                continue
        candidates.append(row)
    if not candidates:
        return None
    top = max(len(r.destination_prefix) for r in candidates)
    best = [r for r in candidates if len(r.destination_prefix) == top]
    banded = [r for r in best if r.time_band is not None]
    best = banded or best
    latest = max(r.effective_from for r in best)
    best = [r for r in best if r.effective_from == latest]
    return min(best, key=lambda r: r.time_band or "")


# -- carrier of a leg -----------------------------------------------------------------------------
@dataclass(frozen=True)
class NumberCarrierRule:
    """A `did_pool_carriers` row: a DID pool, or an inclusive range of E.164 digits."""

    carrier: str
    did_pool_id: str | None = None
    start_number: str | None = None
    end_number: str | None = None

    def holds_range(self, digits: str) -> bool:
        if self.start_number is None or self.end_number is None:
            return False
        same_length = len(digits) == len(self.start_number) == len(self.end_number)
        return same_length and self.start_number <= digits <= self.end_number


@dataclass(frozen=True)
class DidPool:
    did_pool_id: str
    start_number: str  # E.164 digits
    end_number: str

    def holds(self, digits: str) -> bool:
        same_length = len(digits) == len(self.start_number) == len(self.end_number)
        return same_length and self.start_number <= digits <= self.end_number


def number_carrier(
    org_number: str | None,
    rules: Iterable[NumberCarrierRule],
    pools: Iterable[DidPool],
    did_pools_of_numbers: Mapping[str, str],
) -> str | None:
    """Carrier of the org's number: a range rule holding it (the one starting last, then by
    carrier name), else the rule of a pool holding it (by range, or listing it as a DID; by
    carrier name)."""
    if not org_number:
        return None
    rules = list(rules)
    ranged = [r for r in rules if r.holds_range(org_number)]
    if ranged:
        return min(ranged, key=lambda r: (_desc(r.start_number or ""), r.carrier)).carrier
    pool_ids = {p.did_pool_id for p in pools if p.holds(org_number)}
    if org_number in did_pools_of_numbers:
        pool_ids.add(did_pools_of_numbers[org_number])
    pooled = [r for r in rules if r.start_number is None and r.did_pool_id in pool_ids]
    return min((r.carrier for r in pooled), default=None)


def _desc(digits: str) -> str:
    """A sort key ordering digit strings of one length descending."""
    return "".join(chr(ord("9") - ord(c) + ord("0")) for c in digits)


def resolve_carrier(
    cdr_carrier: str | None,
    number_carrier: str | None,
    edge_carrier: str | None,
    default_carrier: str | None,
) -> tuple[str | None, str | None]:
    """(carrier, carrier_source): the first rule that answers, in DESIGN.md's order."""
    for carrier, source in (
        (cdr_carrier, "cdr"),
        (number_carrier, "number"),
        (edge_carrier, "edge"),
        (default_carrier, "default"),
    ):
        if carrier:
            return carrier, source
    return None, None


# -- one leg --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RatedLeg:
    carrier: str | None
    carrier_source: str | None
    rating_status: str  # rated | unrated | unresolved_carrier | ongoing
    rate: RateCardRow | None
    rated_seconds: int | None
    expected_cost: Decimal | None


def rate_leg(
    *,
    carrier: str | None,
    carrier_source: str | None,
    direction: str,
    rated_number: str | None,
    billing_start: datetime | None,
    answered_duration_ms: int | None,
    card: Iterable[RateCardRow],
    bands: Mapping[str, TimeBand],
) -> RatedLeg:
    """Status, rate row, rated seconds and expected cost of one leg (None unless rated)."""
    rate = None
    if carrier is not None and billing_start is not None:
        rate = find_rate(card, bands, carrier, direction, rated_number or "", billing_start)
    if answered_duration_ms is None:
        status = "ongoing"
    elif carrier is None:
        status = "unresolved_carrier"
    elif rate is None:
        status = "unrated"
    else:
        status = "rated"
    if status != "rated" or rate is None or answered_duration_ms is None:
        return RatedLeg(carrier, carrier_source, status, rate, None, None)
    return RatedLeg(
        carrier,
        carrier_source,
        status,
        rate,
        rated_seconds(answered_duration_ms, rate.min_seconds, rate.increment_seconds),
        leg_cost(
            answered_duration_ms,
            rate.rate_per_minute,
            rate.min_seconds,
            rate.increment_seconds,
            rate.connection_fee,
        ),
    )


# -- seeds ----------------------------------------------------------------------------------------
def read_rate_card(path: Path) -> list[RateCardRow]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [
            RateCardRow(
                carrier=r["carrier"],
                direction=r["direction"],
                destination_prefix=r["destination_prefix"],
                effective_from=date.fromisoformat(r["effective_from"]),
                effective_to=date.fromisoformat(r["effective_to"]) if r["effective_to"] else None,
                rate_per_minute=Decimal(r["rate_per_minute"]),
                currency=r["currency"],
                min_seconds=int(r["min_seconds"]),
                increment_seconds=int(r["increment_seconds"]),
                connection_fee=Decimal(r["connection_fee"]),
                time_band=r.get("time_band") or None,
            )
            for r in csv.DictReader(fh)
        ]


def read_time_bands(path: Path) -> dict[str, TimeBand]:
    with path.open(newline="", encoding="utf-8") as fh:
        return {
            r["time_band"]: TimeBand(
                name=r["time_band"],
                timezone=r["timezone"],
                weekdays=frozenset(d.strip() for d in r["weekdays"].split("|")),
                start_ms=clock_ms(r["start_local"]),
                end_ms=clock_ms(r["end_local"]),
            )
            for r in csv.DictReader(fh)
        }


def read_number_carrier_rules(path: Path) -> list[NumberCarrierRule]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [
            NumberCarrierRule(
                carrier=r["carrier"],
                did_pool_id=r["did_pool_id"] or None,
                start_number=r["start_phone_number"].lstrip("+") or None,
                end_number=r["end_phone_number"].lstrip("+") or None,
            )
            for r in csv.DictReader(fh)
        ]
