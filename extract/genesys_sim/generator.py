"""Deterministic generator of Genesys Cloud analytics conversations (API shape, reference §7).

One RNG per (seed, day) draws the day's volume and start times, then builds its conversations in
start order, so a day is generated on its own (streaming) and a conversation never depends on the
ones after it (which is why `now` can cut a day without changing what came before).
Conversations are built with integer epoch-milliseconds, then rendered: ISO-8601 strings, and
"as of now" truncation for conversations still running (no end, open segment, no late metrics).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from genesys_sim import shapes
from genesys_sim.catalog import Catalog, build_catalog
from genesys_sim.shapes import MS_DAY, day_ms, iso_ms, ms_day, parse_iso_ms, to_ms

Conversation = dict[str, Any]

# Weekday factors (Mon..Sun) and hour-of-day weights (UTC). conversations_per_day is the average.
WEEKDAY_FACTORS = (1.18, 1.12, 1.08, 1.06, 1.0, 0.4, 0.16)
_WEEKDAY_NORM = sum(WEEKDAY_FACTORS) / 7
HOUR_WEIGHTS = (
    1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 20, 20, 18, 19, 20, 19, 17, 14, 10, 7, 5, 3, 2, 1,
)  # fmt: skip
_HOUR_CUM = [sum(HOUR_WEIGHTS[: i + 1]) for i in range(24)]


class ConversationGenerator:
    """Deterministic, streaming source of conversations and the org's dimensions."""

    # Longest a conversation can last (long email threads); the server looks back this far.
    max_conversation_span: timedelta = shapes.MAX_SPAN

    def __init__(
        self,
        seed: int,
        start: date,
        end: date,
        conversations_per_day: int,
        now: datetime | None = None,
    ) -> None:
        if end <= start:
            raise ValueError(f"end {end} must be after start {start}")
        self.seed = seed
        self.start = start
        self.end = end
        self.conversations_per_day = conversations_per_day
        self.now = now
        self.catalog: Catalog = build_catalog(seed)

    # -- dimensions (copies: callers may mask or edit them) --------------------------------------
    def queues(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.catalog.queues)

    def wrapup_codes(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.catalog.wrapup_codes)

    def divisions(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.catalog.divisions)

    def users(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.catalog.users)

    def did_pools(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.catalog.did_pools)

    def dids(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.catalog.dids)

    # -- conversations -------------------------------------------------------------------------
    def now_ms(self) -> int:
        return to_ms(self.now if self.now is not None else datetime.now(UTC))

    def day_count(self, day: date) -> int:
        """Number of conversations starting on `day`, ignoring `now` (cheap: no conversation is
        built)."""
        return len(self._day_plan(day)[1])

    def _day_plan(self, day: date) -> tuple[random.Random, list[int]]:
        """The day's RNG and the sorted start times (ms) of its conversations; the RNG then builds
        the conversations in start order."""
        rng = random.Random(f"{self.seed}:{day.isoformat()}")
        if not (self.start <= day < self.end):
            return rng, []
        mean = self.conversations_per_day * WEEKDAY_FACTORS[day.weekday()] / _WEEKDAY_NORM
        count = max(0, round(rng.gauss(mean, mean**0.5 * 0.5))) if mean > 0 else 0
        base = day_ms(day)
        hours = rng.choices(range(24), cum_weights=_HOUR_CUM, k=count)
        starts = sorted(base + h * 3_600_000 + int(rng.random() * 3_600_000) for h in hours)
        return rng, starts

    def conversations_for_day(self, day: date) -> list[Conversation]:
        """All conversations that started on `day` (UTC) and before `now`, ordered by start."""
        now = self.now_ms()
        rng, starts = self._day_plan(day)
        out: list[Conversation] = []
        for start_ms in starts:
            if start_ms >= now:  # later ones are not built: earlier ones never depend on them
                break
            out.append(shapes.build_conversation(self.catalog, rng, start_ms, now))
        return out

    def iter_conversations(
        self, start_dt: datetime, end_dt: datetime, start_of_day_matching: bool = False
    ) -> Iterator[Conversation]:
        """Conversations overlapping `[start_dt, end_dt)` (reference §3.7), ordered by start.

        Default: start < end_dt and (end or now) >= start_dt. With `start_of_day_matching`, also
        start >= 00:00 UTC of start_dt's day.
        """
        lo, hi, now = to_ms(start_dt), to_ms(end_dt), self.now_ms()
        floor_lo = lo - lo % MS_DAY
        first_day = floor_lo if start_of_day_matching else lo - self._span_ms()
        day, last_day = ms_day(first_day), ms_day(hi - 1)
        while day <= last_day:
            for conv in self.conversations_for_day(day):
                start = conv["conversationStart"]
                start_ms = parse_iso_ms(start)
                if start_ms >= hi:
                    return
                end = conv.get("conversationEnd")
                end_ms = parse_iso_ms(end) if end else now
                if end_ms < lo or (start_of_day_matching and start_ms < floor_lo):
                    continue
                yield conv
            day += timedelta(days=1)

    def _span_ms(self) -> int:
        return int(self.max_conversation_span.total_seconds() * 1000)

    # -- PII inventory -------------------------------------------------------------------------
    def pii_values(self, conversation: Conversation) -> set[str]:
        """Clear PII strings the generator put in `conversation` (for leak scans)."""
        return shapes.pii_values(conversation)


__all__ = ["ConversationGenerator", "iso_ms", "parse_iso_ms"]
