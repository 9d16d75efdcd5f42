"""Conversations the extractor cannot use, set aside with their reason instead of failing a run.

A conversation is usable when it is a JSON object with a non-empty string `conversationId`, a
`conversationStart` that is an ISO 8601 UTC time with an offset (as the API writes it), a
`conversationEnd` that is absent, null or such a time, the masker can walk it, and its masked
JSON can be stored on both warehouses. Anything else
goes to `genesys_raw.conversation_quarantine`: job id, position in the job's results (0-based,
stable across a resumed download), the conversation id when there is one, and the reason. The
payload itself is never stored: it could hold personal data the masker did not reach.

Counts tie out: conversations received = loaded + quarantined (`ExtractSummary`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from genesys_finance.settings import RAW_SCHEMA

TABLE = f"{RAW_SCHEMA}.conversation_quarantine"
ID_MAX_CHARS = 64

DDL = f"""
create table if not exists {TABLE} (
    job_id text not null,
    position bigint not null,
    conversation_id text,
    reason text not null,
    quarantined_at timestamp with time zone not null,
    primary key (job_id, position)
)
"""

# What Arrow's string->timestamp cast and both warehouses read the same way: a calendar date, a
# time to at most microseconds, and an explicit offset (a time without one is ambiguous).
_ISO_UTC = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})", re.ASCII
)


@dataclass(frozen=True)
class QuarantinedConversation:
    job_id: str
    position: int
    conversation_id: str | None
    reason: str


def _time_problem(value: Any, field: str, required: bool) -> str | None:
    if value is None:
        return f"{field} is missing" if required else None
    if not isinstance(value, str):
        return f"{field} is a {type(value).__name__}, not a time string"
    if not _ISO_UTC.fullmatch(value):
        return f"{field} is not an ISO 8601 time with an offset"
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return f"{field} is not a valid date and time"
    return None


def unusable_reason(conversation: Any) -> str | None:
    """Why a decoded conversation cannot be loaded, or None when it can. The reason never
    quotes a value (it could be personal data)."""
    if not isinstance(conversation, dict):
        return f"conversation is a {type(conversation).__name__}, not an object"
    conversation_id = conversation.get("conversationId")
    if not isinstance(conversation_id, str) or not conversation_id.strip():
        return "conversationId is missing or not a non-empty string"
    return _time_problem(
        conversation.get("conversationStart"), "conversationStart", required=True
    ) or _time_problem(conversation.get("conversationEnd"), "conversationEnd", required=False)


def payload_problem(payload: bytes) -> str | None:
    """Why a masked payload's JSON cannot be stored: Postgres's json types refuse the NUL
    character (`\\u0000`), so one conversation holding it would fail the whole load."""
    if b"\\u0000" in payload:
        return "payload holds a NUL character (\\u0000), which Postgres json cannot store"
    return None


def conversation_id_of(conversation: Any) -> str | None:
    """The id to record beside the reason (truncated: it is only a pointer for a person)."""
    if isinstance(conversation, dict) and isinstance(conversation.get("conversationId"), str):
        return str(conversation["conversationId"])[:ID_MAX_CHARS]
    return None


def screened(
    conversations: Iterable[Any],
    mask: Callable[[dict[str, Any]], dict[str, Any]],
    job_id: str,
    first_position: int,
    quarantined: list[QuarantinedConversation],
) -> Iterator[tuple[dict[str, Any], bytes]]:
    """The usable conversations, masked, with their JSON (for `loadfiles.conversations_table`);
    the others are appended to `quarantined`, numbered from `first_position`."""
    for position, conversation in enumerate(conversations, start=first_position):
        reason = unusable_reason(conversation)
        if reason is None:
            try:
                masked = mask(conversation)
                payload = orjson.dumps(masked)
            except Exception as exc:  # a field of an unexpected type or shape
                # The type only: a message could quote a value (personal data).
                reason = f"cannot be masked ({type(exc).__name__})"
            else:
                reason = payload_problem(payload)
                if reason is None:
                    yield masked, payload
                    continue
        quarantined.append(
            QuarantinedConversation(job_id, position, conversation_id_of(conversation), reason)
        )


class QuarantineTable:
    """Writes quarantined conversations through the ledger's connection; writing a row twice
    (a job's pages downloaded again after a crash) keeps one."""

    def __init__(self, execute: Any) -> None:
        self._execute = execute

    def ensure_table(self) -> None:
        self._execute(f"create schema if not exists {RAW_SCHEMA}")
        self._execute(DDL)

    def record(self, rows: list[QuarantinedConversation]) -> None:
        now = datetime.now(UTC)
        for row in rows:
            self._execute(
                f"insert into {TABLE} (job_id, position, conversation_id, reason, quarantined_at)"
                " values (?, ?, ?, ?, ?) on conflict (job_id, position) do nothing",
                (row.job_id, row.position, row.conversation_id, row.reason, now),
            )

    def count(self) -> int:
        return int(self._execute(f"select count(*) from {TABLE}")[0][0])
