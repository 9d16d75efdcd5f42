"""Generated conversations, serialized once per day and kept in memory.

Serving pages from pre-serialized bytes is what lets the results endpoint reach tens of
thousands of conversations per second: a page is a byte join, never a re-encode.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import orjson

from genesys_sim.intervals import day_start, parse_instant

GROUP_DIMENSIONS = ("queueId", "mediaType", "direction", "userId")
"""Aggregate groupBy dimensions the simulator can compute, in fact-tuple order."""


class Generator(Protocol):
    def conversations_for_day(self, day: date) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Fact:
    """One emitted session metric, with what aggregates group and bucket it by."""

    conversation_start: int
    emit: int
    name: str
    value: int
    group: tuple[str | None, ...]


@dataclass
class DayData:
    """Conversations that started on one UTC day, ordered by start."""

    starts: list[int] = field(default_factory=list)
    ends: list[int | None] = field(default_factory=list)
    """None while ongoing."""
    payloads: list[bytes] = field(default_factory=list)
    size: int = 0
    _facts: list[Fact] | None = None

    @property
    def facts(self) -> list[Fact]:
        """Metric facts for aggregates, derived on first use (jobs never need them)."""
        if self._facts is None:
            self._facts = [
                fact
                for payload, start in zip(self.payloads, self.starts, strict=True)
                for fact in _facts(orjson.loads(payload), start)
            ]
        return self._facts


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MS: dict[str, int] = {}


def to_ms(instant: datetime) -> int:
    """Epoch milliseconds, exactly (no float rounding at interval boundaries)."""
    return (instant - _EPOCH) // timedelta(milliseconds=1)


def _ms(text: str | None) -> int | None:
    """Epoch ms of an API datetime; the generator's `...T13:02:11.412Z` form is fast-pathed."""
    if not text:
        return None
    if len(text) == 24 and text[10] == "T" and text[19] == "." and text[23] == "Z":
        day = _DAY_MS.get(text[:10])
        if day is None:
            day = _DAY_MS[text[:10]] = to_ms(parse_instant(text[:10] + "T00:00:00Z"))
        try:
            return (
                day
                + int(text[11:13]) * 3_600_000
                + int(text[14:16]) * 60_000
                + int(text[17:19]) * 1000
                + int(text[20:23])
            )
        except ValueError:
            pass
    return to_ms(parse_instant(text))


def _facts(conversation: dict[str, Any], start: int) -> Iterable[Fact]:
    for participant in conversation.get("participants") or ():
        user_id = participant.get("userId")
        for session in participant.get("sessions") or ():
            queue_id = next(
                (s["queueId"] for s in session.get("segments") or () if s.get("queueId")), None
            )
            group = (queue_id, session.get("mediaType"), session.get("direction"), user_id)
            for metric in session.get("metrics") or ():
                emit = _ms(metric.get("emitDate")) or start
                yield Fact(start, emit, metric["name"], int(metric["value"]), group)


def build_day(conversations: list[dict[str, Any]]) -> DayData:
    data = DayData()
    rows = []
    for conversation in conversations:
        start = _ms(conversation["conversationStart"])
        assert start is not None
        rows.append((start, conversation))
    rows.sort(key=lambda row: row[0])
    for start, conversation in rows:
        payload = orjson.dumps(conversation)
        data.starts.append(start)
        data.ends.append(_ms(conversation.get("conversationEnd")))
        data.payloads.append(payload)
        data.size += len(payload)
    return data


class ConversationStore:
    """Day -> DayData, generated on first use, least recently used days evicted past a budget."""

    def __init__(self, generator: Generator, first: date, end: date, max_bytes: int) -> None:
        self._generator = generator
        self.first, self.end = first, end
        self._max_bytes = max_bytes
        self._days: OrderedDict[date, DayData] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._day_locks: dict[date, threading.Lock] = {}

    def day(self, day: date) -> DayData:
        if not self.first <= day < self.end:
            return DayData()
        with self._lock:
            cached = self._days.get(day)
            if cached is not None:
                self._days.move_to_end(day)
                return cached
            day_lock = self._day_locks.setdefault(day, threading.Lock())
        with day_lock:  # one generation per day even when jobs race for it
            with self._lock:
                cached = self._days.get(day)
            if cached is not None:
                return cached
            data = build_day(self._generator.conversations_for_day(day))
            with self._lock:
                self._days[day] = data
                self._bytes += data.size
                while self._bytes > self._max_bytes and len(self._days) > 1:
                    _, evicted = self._days.popitem(last=False)
                    self._bytes -= evicted.size
            return data

    def prewarm(self, stop: threading.Event) -> None:
        """Generate every day of the range, oldest first, while the budget has room."""
        day = self.first
        while day < self.end and not stop.is_set():
            self.day(day)
            with self._lock:
                if self._bytes > self._max_bytes * 0.8:
                    return
            day += timedelta(days=1)

    def days(self, first: date, last: date) -> Iterable[tuple[date, DayData]]:
        day = max(first, self.first)
        while day <= last and day < self.end:
            yield day, self.day(day)
            day += timedelta(days=1)

    def overlapping(
        self,
        start: datetime,
        end: datetime,
        *,
        now: datetime,
        watermark: datetime,
        lookback_days: int,
        start_of_day_matching: bool = False,
    ) -> list[bytes]:
        """Payloads of conversations that overlap [start, end) and started before the watermark.

        Overlap (reference §3.7): start < end and (conversationEnd or now) >= start; conversations
        from up to `lookback_days` earlier days can reach into the interval. With
        `start_of_day_matching`, only those started on or after 00:00 UTC of the start's day.
        """
        s, e, n = to_ms(start), to_ms(min(end, watermark)), to_ms(now)
        floor = to_ms(day_start(start.date())) if start_of_day_matching else -(1 << 62)
        first = start.date() - timedelta(days=0 if start_of_day_matching else lookback_days)
        last = (min(end, watermark) - timedelta(microseconds=1)).date()
        out: list[bytes] = []
        for _, data in self.days(first, last):
            lo = bisect.bisect_left(data.starts, floor)
            hi = bisect.bisect_left(data.starts, e)
            out.extend(
                p
                for p, en in zip(data.payloads[lo:hi], data.ends[lo:hi], strict=True)
                if (n if en is None else en) >= s
            )
        return out

    def started_on(self, days: Iterable[date]) -> list[bytes]:
        out: list[bytes] = []
        for day in days:
            out.extend(self.day(day).payloads)
        return out
