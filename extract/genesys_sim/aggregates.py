"""`POST /api/v2/analytics/conversations/aggregates/query` computed from the same generated
conversations as the detail jobs, so a client can audit the completeness of its extraction.

Buckets follow the conversation start by default (a detail job with
`startOfDayIntervalMatching` over the same days sums to the same figures) and the metric's
`emitDate` with `alternateTimeDimension: eventTime`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from genesys_sim.filters import compile_filter
from genesys_sim.intervals import IntervalError, iso, parse_interval, parse_period
from genesys_sim.responses import bad_request
from genesys_sim.store import GROUP_DIMENSIONS, ConversationStore, to_ms

_MAX_BUCKETS = 10_000


def _predicates(spec: Any) -> list[dict[str, Any]]:
    if not isinstance(spec, dict):
        return []
    found = [p for p in spec.get("predicates") or () if isinstance(p, dict)]
    for clause in spec.get("clauses") or ():
        found += _predicates(clause)
    return found


def _group_lookup(group: tuple[str | None, ...]) -> Callable[[str], list[Any]]:
    return lambda name: [v] if (v := group[GROUP_DIMENSIONS.index(name)]) is not None else []


def _stats(metric: str, values: list[int]) -> dict[str, Any]:
    if metric.startswith("n"):
        return {"count": sum(values)}  # count metrics: how many times it happened
    return {"max": max(values), "min": min(values), "count": len(values), "sum": sum(values)}


def aggregate_query(
    store: ConversationStore, body: Any, now: datetime, lookback_days: int
) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    try:
        start, end = parse_interval(body.get("interval"))
        granularity = body.get("granularity")
        period = parse_period(granularity) if granularity else end - start
    except IntervalError as exc:
        raise bad_request(str(exc), "invalid.value") from exc
    if (end - start) / period > _MAX_BUCKETS:
        raise bad_request("Too many granularity buckets for the interval.")
    metrics = body.get("metrics")
    if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str) for m in metrics):
        raise bad_request("metrics is required: a non-empty list of metric names.")
    group_by = body.get("groupBy") or []
    unknown = [g for g in group_by if g not in GROUP_DIMENSIONS]
    if unknown:
        raise bad_request(
            f"groupBy {unknown} is not simulated; supported: {', '.join(GROUP_DIMENSIONS)}."
        )
    check = None
    if body.get("filter"):
        check = compile_filter(body["filter"])
        named = {p.get("dimension") for p in _predicates(body["filter"])}
        if not named <= set(GROUP_DIMENSIONS):
            raise bad_request(
                f"filter on {sorted(map(str, named - set(GROUP_DIMENSIONS)))} is not simulated;"
                f" supported: {', '.join(GROUP_DIMENSIONS)}."
            )
    by_event = body.get("alternateTimeDimension") == "eventTime"
    wanted = set(metrics)
    indexes = [GROUP_DIMENSIONS.index(g) for g in group_by]
    s, e, n = to_ms(start), to_ms(end), to_ms(now)
    step = period // timedelta(milliseconds=1)

    # (group values, bucket index) -> metric -> values
    cells: dict[tuple[tuple[str | None, ...], int], dict[str, list[int]]] = {}
    first = start.date() - timedelta(days=lookback_days if by_event else 0)
    last = (end - timedelta(microseconds=1)).date()
    for _, day in store.days(first, last):
        for fact in day.facts:
            if fact.name not in wanted or fact.conversation_start >= n:
                continue
            at = fact.emit if by_event else fact.conversation_start
            if not s <= at < e or (by_event and fact.emit > n):
                continue
            if check is not None and not check(_group_lookup(fact.group)):
                continue
            key = (tuple(fact.group[i] for i in indexes), int((at - s) // step))
            cells.setdefault(key, {}).setdefault(fact.name, []).append(fact.value)

    results: dict[tuple[str | None, ...], list[dict[str, Any]]] = {}
    for (group, bucket), by_metric in sorted(
        cells.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])
    ):
        b_start = start + timedelta(milliseconds=bucket * step)
        b_end = min(end, b_start + period)
        results.setdefault(group, []).append(
            {
                "interval": f"{iso(b_start)}/{iso(b_end)}",
                "metrics": [
                    {"metric": m, "stats": _stats(m, by_metric[m])}
                    for m in metrics
                    if m in by_metric
                ],
            }
        )
    return {
        "results": [
            {
                "group": {g: v for g, v in zip(group_by, group, strict=True) if v is not None},
                "data": data,
            }
            for group, data in results.items()
        ]
    }
