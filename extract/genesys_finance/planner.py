"""Which job intervals to run: `[start, end)` in UTC, split into calendar months of at most 31 days.

Explicit runs cover the dates asked for; incremental runs start at the end of the last complete
interval in the ledger minus a look-back (Genesys reprocesses recent history), and never reach
past the data-availability watermark, because a job over unavailable data returns a partial
month that would look complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

MAX_JOB_DAYS = 31


class PlanError(ValueError):
    """The run cannot be planned (bad dates, or no start for a first incremental run)."""


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open UTC interval `[start, end)`."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("interval bounds must be timezone-aware (UTC)")
        if self.end <= self.start:
            raise ValueError(f"empty interval {self.start.isoformat()}/{self.end.isoformat()}")

    @property
    def label(self) -> str:
        return f"{_short(self.start)}/{_short(self.end)}"


def _short(value: datetime) -> str:
    if value.time() == time(0) and value.utcoffset() == timedelta(0):
        return value.date().isoformat()
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _next_month(value: datetime) -> datetime:
    year, month = (value.year + 1, 1) if value.month == 12 else (value.year, value.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def split_interval(start: datetime, end: datetime, chunk_days: int | None = None) -> list[Interval]:
    """Chunks covering `[start, end)`: calendar months, or `chunk_days`-day pieces (<= 31)."""
    if end <= start:
        return []
    if chunk_days is not None and not 1 <= chunk_days <= MAX_JOB_DAYS:
        raise PlanError(f"chunk size must be between 1 and {MAX_JOB_DAYS} days, got {chunk_days}")
    chunks: list[Interval] = []
    cursor = start
    while cursor < end:
        boundary = (
            _next_month(cursor) if chunk_days is None else cursor + timedelta(days=chunk_days)
        )
        chunk_end = min(boundary, end, cursor + timedelta(days=MAX_JOB_DAYS))
        chunks.append(Interval(cursor, chunk_end))
        cursor = chunk_end
    return chunks


def explicit_range(start: date, end: date, availability: datetime) -> tuple[datetime, datetime]:
    """`[start, end)` from dates, the end capped at the availability watermark."""
    if end <= start:
        raise PlanError(f"--end ({end}) must be after --start ({start}); the end date is exclusive")
    begin = day_start(start)
    capped = min(day_start(end), floor_to_second(availability))
    if capped <= begin:
        raise PlanError(
            f"no data available yet for {start}..{end}: "
            f"the API's dataAvailabilityDate is {availability.isoformat()}"
        )
    return begin, capped


def incremental_range(
    last_complete_end: datetime | None,
    *,
    now: datetime,
    availability: datetime,
    lookback: timedelta,
    initial_start: date | None,
) -> tuple[datetime, datetime]:
    """From the last complete interval's end minus the look-back, up to now (<= availability)."""
    if last_complete_end is not None:
        start = last_complete_end - lookback
    elif initial_start is not None:
        start = day_start(initial_start)
    else:
        raise PlanError(
            "the job ledger is empty, so an incremental run has no start: pass --start "
            "YYYY-MM-DD (and --end, or leave it out to extract up to now), "
            "or set GENESYS_FINANCE_INITIAL_START"
        )
    end = floor_to_second(min(now, availability))
    if end <= start:
        raise PlanError(
            f"nothing to extract: start {start.isoformat()} is not before the end "
            f"{end.isoformat()} (now, capped at dataAvailabilityDate)"
        )
    return start, end


def floor_to_second(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)
