"""ISO-8601 instants, intervals and periods as the API reads and writes them (UTC, Z)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

_PERIOD = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)


class IntervalError(ValueError):
    """An interval or period the API would reject with 400."""


def iso(instant: datetime) -> str:
    """The API's datetime form: UTC, milliseconds, trailing Z."""
    utc = instant.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise IntervalError(f"invalid date {text!r}") from exc
    if value.tzinfo is None:  # a bare instant is read as UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_interval(text: object) -> tuple[datetime, datetime]:
    """`start/end` (ISO-8601) as a half-open UTC range; start must precede end."""
    if not isinstance(text, str) or text.count("/") != 1:
        raise IntervalError("interval must be an ISO-8601 'start/end' string")
    left, right = text.split("/")
    start, end = parse_instant(left), parse_instant(right)
    if end <= start:
        raise IntervalError("interval end must be after its start")
    return start, end


def parse_period(text: str) -> timedelta:
    """ISO-8601 period in weeks, days, hours, minutes, seconds (months are not simulated)."""
    match = _PERIOD.match(text or "")
    if not match or text in ("P", "PT"):
        raise IntervalError(f"unsupported granularity {text!r}")
    parts = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
    period = timedelta(
        weeks=parts["w"], days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"]
    )
    if period <= timedelta(0):
        raise IntervalError(f"unsupported granularity {text!r}")
    return period


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def days_touched(start: datetime, end: datetime) -> list[date]:
    """UTC days that the half-open range [start, end) touches."""
    last = (end - timedelta(microseconds=1)).date()
    days, day = [], start.date()
    while day <= last:
        days.append(day)
        day += timedelta(days=1)
    return days
