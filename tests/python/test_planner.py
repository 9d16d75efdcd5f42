"""Interval planning: month chunks, the 31-day cap, exclusive ends, look-back, availability cap."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from genesys_finance.planner import (
    Interval,
    PlanError,
    explicit_range,
    incremental_range,
    split_interval,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_calendar_months_end_exclusive() -> None:
    chunks = split_interval(utc(2024, 1, 1), utc(2024, 4, 1))
    assert [c.label for c in chunks] == [
        "2024-01-01/2024-02-01",
        "2024-02-01/2024-03-01",
        "2024-03-01/2024-04-01",
    ]
    assert chunks[-1].end == utc(2024, 4, 1)  # the end date itself is not included


def test_partial_months_at_both_ends() -> None:
    chunks = split_interval(utc(2024, 1, 30, 6), utc(2024, 3, 2))
    assert [(c.start, c.end) for c in chunks] == [
        (utc(2024, 1, 30, 6), utc(2024, 2, 1)),
        (utc(2024, 2, 1), utc(2024, 3, 1)),
        (utc(2024, 3, 1), utc(2024, 3, 2)),
    ]


def test_year_boundary_and_chunks_are_contiguous() -> None:
    chunks = split_interval(utc(2023, 11, 15), utc(2025, 2, 10))
    assert chunks[0].start == utc(2023, 11, 15) and chunks[-1].end == utc(2025, 2, 10)
    assert all(a.end == b.start for a, b in itertools.pairwise(chunks))
    assert utc(2024, 1, 1) in {c.start for c in chunks}
    assert all(c.end - c.start <= timedelta(days=31) for c in chunks)


@pytest.mark.parametrize("days", [1, 7, 31])
def test_fixed_chunk_days(days: int) -> None:
    chunks = split_interval(utc(2024, 1, 1), utc(2024, 3, 1), chunk_days=days)
    assert all(c.end - c.start <= timedelta(days=days) for c in chunks)
    assert chunks[0].start == utc(2024, 1, 1) and chunks[-1].end == utc(2024, 3, 1)


@pytest.mark.parametrize("days", [0, 32, 60])
def test_chunk_days_over_31_rejected(days: int) -> None:
    with pytest.raises(PlanError, match="31"):
        split_interval(utc(2024, 1, 1), utc(2024, 6, 1), chunk_days=days)


def test_empty_range_gives_no_chunks() -> None:
    assert split_interval(utc(2024, 1, 1), utc(2024, 1, 1)) == []


def test_interval_requires_utc_and_order() -> None:
    with pytest.raises(ValueError):
        Interval(datetime(2024, 1, 1), datetime(2024, 2, 1))
    with pytest.raises(ValueError):
        Interval(utc(2024, 2, 1), utc(2024, 1, 1))


def test_explicit_range_capped_at_availability() -> None:
    start, end = explicit_range(date(2024, 1, 1), date(2024, 3, 1), utc(2024, 2, 10, 5, 30, 1, 900))
    assert (start, end) == (utc(2024, 1, 1), utc(2024, 2, 10, 5, 30, 1))
    start, end = explicit_range(date(2024, 1, 1), date(2024, 3, 1), utc(2025, 1, 1))
    assert end == utc(2024, 3, 1)


def test_explicit_range_errors() -> None:
    with pytest.raises(PlanError, match="exclusive"):
        explicit_range(date(2024, 3, 1), date(2024, 3, 1), utc(2025, 1, 1))
    with pytest.raises(PlanError, match="dataAvailabilityDate"):
        explicit_range(date(2024, 3, 1), date(2024, 4, 1), utc(2024, 2, 1))


def test_incremental_from_ledger_with_lookback() -> None:
    start, end = incremental_range(
        utc(2024, 5, 1),
        now=utc(2024, 5, 20, 12),
        availability=utc(2024, 5, 20, 10),
        lookback=timedelta(days=2),
        initial_start=None,
    )
    assert start == utc(2024, 4, 29)
    assert end == utc(2024, 5, 20, 10)  # never past the availability watermark


def test_incremental_end_is_now_when_availability_is_later() -> None:
    _, end = incremental_range(
        utc(2024, 5, 1),
        now=utc(2024, 5, 2, 0, 0, 0, 500),
        availability=utc(2024, 6, 1),
        lookback=timedelta(days=2),
        initial_start=None,
    )
    assert end == utc(2024, 5, 2)


def test_first_incremental_run_needs_a_start() -> None:
    with pytest.raises(PlanError, match="--start"):
        incremental_range(
            None,
            now=utc(2024, 5, 2),
            availability=utc(2024, 5, 1),
            lookback=timedelta(days=2),
            initial_start=None,
        )
    start, _ = incremental_range(
        None,
        now=utc(2024, 5, 2),
        availability=utc(2024, 5, 1),
        lookback=timedelta(days=2),
        initial_start=date(2024, 1, 1),
    )
    assert start == utc(2024, 1, 1)  # no look-back before the very first interval
