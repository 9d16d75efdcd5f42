"""`POST /api/v2/analytics/conversations/details/query`: the synchronous detail query (§4).

Day matching: conversations that started on a UTC day touched by the interval. Pages by
`paging.pageNumber`; participants lose their `attributes` (jobs only).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson

from genesys_sim.filters import compile_filters
from genesys_sim.intervals import IntervalError, days_touched, parse_interval
from genesys_sim.responses import bad_request
from genesys_sim.store import ConversationStore


def _paging(body: dict[str, Any], default: int, maximum: int) -> tuple[int, int]:
    paging = body.get("paging") or {}
    if not isinstance(paging, dict):
        raise bad_request("paging must be an object", "invalid.value")
    size, number = paging.get("pageSize", default), paging.get("pageNumber", 1)
    if not isinstance(size, int) or not 1 <= size <= maximum:
        raise bad_request(f"paging.pageSize must be between 1 and {maximum}", "invalid.value")
    if not isinstance(number, int) or number < 1:
        raise bad_request("paging.pageNumber must be at least 1", "invalid.value")
    return size, number


def _without_attributes(payload: bytes) -> dict[str, Any]:
    conversation: dict[str, Any] = orjson.loads(payload)
    for participant in conversation.get("participants") or ():
        participant.pop("attributes", None)
    return conversation


def details_query(
    store: ConversationStore,
    body: Any,
    now: datetime,
    *,
    page_size_default: int,
    page_size_max: int,
    max_days_unfiltered: int,
    max_days: int,
    omit_empty: bool,
) -> bytes:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    try:
        start, end = parse_interval(body.get("interval"))
    except IntervalError as exc:
        raise bad_request(str(exc), "invalid.date") from exc
    matcher = compile_filters(body)
    filtered = matcher is not None
    limit = max_days if filtered else max_days_unfiltered
    if end - start > timedelta(days=limit):
        raise bad_request(
            f"The interval must not be longer than {limit} days"
            + ("." if filtered else " without a filter.")
        )
    size, number = _paging(body, page_size_default, page_size_max)
    payloads = store.started_on(days_touched(start, end))
    if matcher is not None:
        payloads = [p for p in payloads if matcher(orjson.loads(p))]
    if body.get("order") == "desc":
        payloads.reverse()
    page = [_without_attributes(p) for p in payloads[(number - 1) * size : number * size]]
    result: dict[str, Any] = {"totalHits": len(payloads)}
    if page or not omit_empty:
        result = {"conversations": page, **result}
    return orjson.dumps(result)
