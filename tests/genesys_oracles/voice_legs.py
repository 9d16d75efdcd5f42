"""Oracle: the carrier-facing voice legs of a conversation payload and their answered duration.

Restated from DESIGN.md's text, independently of the product's rule
(`models/intermediate/per_conversation/int_voice_legs.sql`), so tests can compare the two. The
simulator bills its CDRs from these legs too; the product never imports this module.

* A carrier-facing leg is a `voice` session on a participant whose purpose is `customer` or
  `external` (acd, ivr and agent sessions carry Call-IDs too, but no carrier bills those internal
  legs), with its SIP Call-ID (`protocolCallId`) when Genesys recorded one: a leg without one still
  costs money (DESIGN.md).
* Its answered duration runs from its first answered segment start (pre-answer `dialing`,
  `contacting`, `alert` excluded) to its last segment end: 0 if never answered, unknown while the
  conversation runs or a segment of the leg is open.
* Its billing start is its answer instant, or its start if it was never answered.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

CARRIER_PURPOSES = frozenset({"customer", "external"})
PRE_ANSWER_SEGMENTS = frozenset({"dialing", "contacting", "alert"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(iso: str) -> int:
    """Integer milliseconds since the epoch of an ISO-8601 timestamp (exact, no float)."""
    return (datetime.fromisoformat(iso.replace("Z", "+00:00")) - _EPOCH) // timedelta(
        milliseconds=1
    )


@dataclass(frozen=True)
class VoiceLeg:
    """One carrier-facing leg, with the facts its rules are computed from."""

    conversation_id: str
    participant_purpose: str
    session: Mapping[str, Any]  # the session's payload
    conversation_ended: bool
    segment_count: int
    open_segment_count: int
    start_ms: int | None  # first segment start
    answered_ms: int | None  # first answered segment start; None: never answered
    end_ms: int | None  # last segment end

    @property
    def session_id(self) -> str:
        return str(self.session["sessionId"])

    @property
    def is_ongoing(self) -> bool:
        return not self.conversation_ended or self.open_segment_count > 0

    @property
    def answered_duration_ms(self) -> int | None:
        if self.is_ongoing:
            return None
        if self.answered_ms is None or self.end_ms is None:
            return 0
        return self.end_ms - self.answered_ms

    @property
    def billing_start_ms(self) -> int | None:
        return self.answered_ms if self.answered_ms is not None else self.start_ms


def voice_legs(conversation: Mapping[str, Any]) -> Iterator[VoiceLeg]:
    """The carrier-facing voice legs of one conversation payload (masked or not)."""
    ended = conversation.get("conversationEnd") is not None
    for participant in conversation.get("participants", []):
        purpose = participant.get("purpose")
        if purpose not in CARRIER_PURPOSES:
            continue
        for session in participant.get("sessions", []):
            if session.get("mediaType") != "voice":
                continue
            segments = session.get("segments", [])
            starts = [epoch_ms(s["segmentStart"]) for s in segments]
            answered = [
                epoch_ms(s["segmentStart"])
                for s in segments
                if s.get("segmentType") not in PRE_ANSWER_SEGMENTS
            ]
            ends = [epoch_ms(s["segmentEnd"]) for s in segments if s.get("segmentEnd")]
            yield VoiceLeg(
                conversation_id=str(conversation["conversationId"]),
                participant_purpose=str(purpose),
                session=session,
                conversation_ended=ended,
                segment_count=len(segments),
                open_segment_count=sum(1 for s in segments if not s.get("segmentEnd")),
                start_ms=min(starts, default=None),
                answered_ms=min(answered, default=None),
                end_ms=max(ends, default=None),
            )
