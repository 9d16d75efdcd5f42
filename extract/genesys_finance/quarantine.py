"""Conversations the extractor cannot use, set aside with their reason instead of failing a run.

A conversation is usable when it is a JSON object with a non-empty string `conversationId`, a
`conversationStart` that is an ISO 8601 UTC time with an offset (as the API writes it), a
`conversationEnd` that is absent, null or such a time not before the start, the parts the dbt
models require are there (`structure_problem`), the masker can walk it, and its masked JSON can
be stored on both warehouses. Anything else goes to `genesys_raw.conversation_quarantine`: job
id, position in the job's results (0-based, stable across a resumed download), the conversation
id when there is one, and the reason. The payload itself is never stored: it could hold personal
data the masker did not reach.

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
# time to at most microseconds, and an explicit offset (a time without one is ambiguous) that
# Postgres accepts (it refuses offsets beyond 15:59). fromisoformat then rejects impossible
# dates (2024-02-30, year 0).
_ISO_UTC = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-](?:0\d|1[0-5]):[0-5]\d)",
    re.ASCII,
)

# A subset of `_ISO_UTC` that is valid without parsing: days up to 28, years 0002-9998 (so an
# offset cannot move it out of range). Anything else takes `_time_problem`'s full check.
_surely_valid = re.compile(
    r"(?!000[01]|9999)\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])"
    r"T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?(?:Z|[+-](?:0\d|1[0-5]):[0-5]\d)",
    re.ASCII,
).fullmatch


@dataclass(frozen=True)
class QuarantinedConversation:
    job_id: str
    position: int
    conversation_id: str | None
    reason: str


def _a(value: Any) -> str:
    """'a str', 'an int': the JSON value's Python type, never the value (personal data)."""
    name = type(value).__name__
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _time_problem(value: Any, field: str, required: bool) -> str | None:
    if value is None:
        return f"{field} is missing" if required else None
    if not isinstance(value, str):
        return f"{field} is {_a(value)}, not a time string"
    if not _ISO_UTC.fullmatch(value):
        return f"{field} is not an ISO 8601 time with an offset"
    try:
        datetime.fromisoformat(value).astimezone(UTC)
    except (ValueError, OverflowError):
        return f"{field} is not a valid date and time"
    return None


def _ends_before_start(start: str, end: str) -> bool:
    """Two times `_time_problem` accepted: whether `end` is the earlier instant. The API's own
    form (UTC, `Z`, the same number of decimals) compares as text; any other is parsed."""
    if len(start) == len(end) and start[-1] == end[-1] == "Z":
        return end < start
    return datetime.fromisoformat(end) < datetime.fromisoformat(start)


def _order_problem(start: str, end: str | None, kind: str, where: str = "") -> str | None:
    """An end before its start: the staging models' durations would be negative."""
    if end is not None and _ends_before_start(start, end):
        return f"{where}{kind}End is before its {kind}Start"
    return None


def _id_problem(value: Any, field: str, seen: set[str]) -> str | None:
    """An id a model's key is built from: a non-empty string, once per conversation."""
    if not isinstance(value, str) or not value.strip():
        return f"{field} is missing or not a non-empty string"
    if value in seen:
        return f"{field} repeats an id of the same conversation"
    seen.add(value)
    return None


def _objects(value: Any, field: str) -> tuple[list[Any], str | None]:
    """The elements of a list of objects that may be absent (no rows in the models)."""
    if value is None:
        return [], None
    if type(value) is not list:
        return [], f"{field} is {_a(value)}, not a list"
    for index, element in enumerate(value):
        if type(element) is not dict:
            return [], f"{field}[{index}] is {_a(element)}, not an object"
    return value, None


def structure_problem(conversation: dict[str, Any]) -> str | None:
    """What the staging models' contracts require and a payload lacks: every participant and
    session has its own id, every segment a readable start (and a readable end not before it,
    or none: the rating reads durations from them), every metric a name. Absent lists are
    fine. Without this screen one such conversation fails the whole dbt build (a contract or
    a test)."""
    participant_ids: set[str] = set()
    session_ids: set[str] = set()
    participants, problem = _objects(conversation.get("participants"), "participants")
    for p, participant in enumerate(participants):
        where = f"participants[{p}]"
        id_ = participant.get("participantId")
        sessions, listed = _objects(participant.get("sessions"), f"{where}.sessions")
        problem = problem or _id_problem(id_, f"{where}.participantId", participant_ids) or listed
        for s, session in enumerate(sessions):
            problem = problem or _session_problem(session, p, s, session_ids)
        if problem:
            return problem
    return problem


def _session_problem(session: dict[str, Any], p: int, s: int, ids: set[str]) -> str | None:
    # Called for every session of every conversation: the common case (all valid) takes the
    # fast path, and the field names are only spelled out for a problem.
    def at(field: str) -> str:
        return f"participants[{p}].sessions[{s}].{field}"

    problem = _id_problem(session.get("sessionId"), "sessionId", ids)
    if problem:
        return at(problem)
    segments, problem = _objects(session.get("segments"), "segments")
    for g, segment in enumerate(segments):
        start, end = segment.get("segmentStart"), segment.get("segmentEnd")
        start_ok = type(start) is str and _surely_valid(start)
        if not (start_ok and (end is None or (type(end) is str and _surely_valid(end)))):
            problem = _time_problem(start, f"segments[{g}].segmentStart", required=True)
            problem = problem or _time_problem(end, f"segments[{g}].segmentEnd", required=False)
        problem = problem or _order_problem(start, end, "segment", f"segments[{g}].")
        if problem:
            break
    if problem:
        return at(problem)
    metrics, problem = _objects(session.get("metrics"), "metrics")
    for m, metric in enumerate(metrics):
        if type(metric.get("name")) is not str:
            problem = f"metrics[{m}].name is missing or not a string"
            break
    return at(problem) if problem else None


def unusable_reason(conversation: Any) -> str | None:
    """Why a decoded conversation cannot be loaded, or None when it can. The reason never
    quotes a value (it could be personal data)."""
    if not isinstance(conversation, dict):
        return f"conversation is {_a(conversation)}, not an object"
    conversation_id = conversation.get("conversationId")
    if not isinstance(conversation_id, str) or not conversation_id.strip():
        return "conversationId is missing or not a non-empty string"
    return (
        _time_problem(conversation.get("conversationStart"), "conversationStart", required=True)
        or _time_problem(conversation.get("conversationEnd"), "conversationEnd", required=False)
        or _order_problem(
            conversation["conversationStart"], conversation.get("conversationEnd"), "conversation"
        )
        or structure_problem(conversation)
    )


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
