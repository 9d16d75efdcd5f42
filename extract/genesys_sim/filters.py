"""Detail-query filters (reference §3.1 grammar) over conversation dicts.

Simulated: conversation and segment filters with `dimension` predicates (`matches`, `exists`,
`notExists`) and `metric` predicates (`exists`, `notExists`, `range`). Anything else is
refused with 400 rather than silently ignored, so a client never trusts an unfiltered answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from genesys_sim.responses import bad_request

Conversation = dict[str, Any]
Match = Callable[[Conversation], bool]
_UNSIMULATED = ("evaluationFilters", "surveyFilters", "resolutionFilters")
_LIST_DIMENSIONS = {"divisionId": "divisionIds"}


def _in_range(value: Any, bounds: dict[str, Any]) -> bool:
    if not isinstance(value, int | float):
        return False
    checks = {"gt": value.__gt__, "gte": value.__ge__, "lt": value.__lt__, "lte": value.__le__}
    return all(checks[k](v) for k, v in bounds.items() if k in checks)


Lookup = Callable[[str], list[Any]]
Check = Callable[[Lookup], bool]


def _predicate(predicate: Any) -> Check:
    if not isinstance(predicate, dict):
        raise bad_request("a predicate must be an object", "invalid.value")
    operator = predicate.get("operator", "matches")
    kind = predicate.get("type") or ("metric" if "metric" in predicate else "dimension")
    if kind not in ("dimension", "metric") or operator not in ("matches", "exists", "notExists"):
        raise bad_request(f"predicate {predicate} is not simulated", "invalid.value")
    name = predicate.get(kind)
    if not isinstance(name, str):
        raise bad_request(f"predicate {predicate} names no {kind}", "invalid.value")
    bounds, expected = predicate.get("range"), predicate.get("value")

    def check(lookup: Lookup) -> bool:
        values = lookup(name)
        if operator == "exists":
            return bool(values)
        if operator == "notExists":
            return not values
        if bounds is not None:
            return any(_in_range(v, bounds) for v in values)
        return any(str(v) == str(expected) for v in values)

    return check


def compile_filter(spec: Any) -> Check:
    """One `{type, clauses, predicates}` filter (validated now, evaluated per lookup)."""
    if not isinstance(spec, dict):
        raise bad_request("a filter must be an object", "invalid.value")
    combine = any if spec.get("type") == "or" else all
    parts = [_predicate(p) for p in spec.get("predicates") or ()]
    parts += [compile_filter(clause) for clause in spec.get("clauses") or ()]
    return lambda lookup: combine(part(lookup) for part in parts)


def _metrics(conversation: Conversation, name: str) -> list[Any]:
    return [
        m["value"]
        for p in conversation.get("participants") or ()
        for s in p.get("sessions") or ()
        for m in s.get("metrics") or ()
        if m["name"] == name
    ]


def _conversation_lookup(conversation: Conversation) -> Lookup:
    def lookup(name: str) -> list[Any]:
        value = conversation.get(_LIST_DIMENSIONS.get(name, name))
        if value is None:
            return _metrics(conversation, name)
        return list(value) if isinstance(value, list) else [value]

    return lookup


def _segment_lookups(conversation: Conversation) -> Iterator[Lookup]:
    """One lookup per segment: a dimension is read from the segment, its session or participant."""
    for participant in conversation.get("participants") or ():
        for session in participant.get("sessions") or ():
            for segment in session.get("segments") or ():
                levels = (segment, session, participant)
                yield lambda name, levels=levels: next(  # type: ignore[misc]
                    ([level[name]] for level in levels if name in level), []
                )


def compile_filters(query: dict[str, Any]) -> Match | None:
    """A predicate over conversations for the query's filters, or None when it has none."""
    for key in _UNSIMULATED:
        if query.get(key):
            raise bad_request(f"{key} are not simulated", "invalid.value")
    conversation_checks = [compile_filter(spec) for spec in query.get("conversationFilters") or ()]
    segment_checks = [compile_filter(spec) for spec in query.get("segmentFilters") or ()]
    if not conversation_checks and not segment_checks:
        return None

    def matches(conversation: Conversation) -> bool:
        lookup = _conversation_lookup(conversation)
        if not all(check(lookup) for check in conversation_checks):
            return False
        # Each segment filter must hold for at least one segment.
        return all(
            any(check(seg) for seg in _segment_lookups(conversation)) for check in segment_checks
        )

    return matches
