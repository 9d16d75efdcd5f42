"""The rating rule of DESIGN.md, in exact arithmetic.

This is the oracle: the simulator's CDR generator bills with it, and tests compare the dbt rating
models against it. Durations are integer milliseconds, money is `Decimal`, never float.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

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
        day = at.date()
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)


def find_rate(
    card: Iterable[RateCardRow], carrier: str, direction: str, number_digits: str, at: datetime
) -> RateCardRow | None:
    """Longest matching prefix among rows in force at `at` (UTC); "" matches everything."""
    best: RateCardRow | None = None
    for row in card:
        if row.carrier != carrier or row.direction != direction or not row.in_force(at):
            continue
        if not number_digits.startswith(row.destination_prefix):
            continue
        if best is None or len(row.destination_prefix) > len(best.destination_prefix):
            best = row
    return best
