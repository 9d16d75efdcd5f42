"""Simulator aggregates query (reference §5): consistent with the detail data."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sim_fixtures import api_session

AGGREGATES = "/api/v2/analytics/conversations/aggregates/query"
METRICS = ["nOffered", "tHandle", "tTalk"]


def _expected(sim, start: datetime, end: datetime, daily: bool) -> dict[Any, dict[str, list[int]]]:
    """(queueId, bucket) -> metric -> values, straight from the generated conversations."""
    cells: dict[Any, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for conversation in sim.generator.iter_conversations(start, end, start_of_day_matching=True):
        started = conversation["conversationStart"]
        if started >= end.strftime("%Y-%m-%d"):  # overlapping, but started after the interval
            continue
        bucket = started[:10] if daily else "all"
        for participant in conversation["participants"]:
            for session in participant["sessions"]:
                queue = next(
                    (s["queueId"] for s in session.get("segments", []) if s.get("queueId")), None
                )
                for metric in session.get("metrics", []):
                    if metric["name"] in METRICS:
                        cells[(queue, bucket)][metric["name"]].append(metric["value"])
    return cells


def _query(sim, **body: Any) -> dict[str, Any]:
    response = api_session(sim).post(sim.base_url + AGGREGATES, json=body, timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _stats(name: str, values: list[int]) -> dict[str, int]:
    if name.startswith("n"):
        return {"count": sum(values)}
    return {"max": max(values), "min": min(values), "count": len(values), "sum": sum(values)}


def test_daily_queue_aggregates_match_the_detail_conversations(simulator) -> None:
    sim = simulator(conversations_per_day=60)
    start, end = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 4, tzinfo=UTC)
    result = _query(
        sim,
        interval="2024-05-01T00:00:00.000Z/2024-05-04T00:00:00.000Z",
        granularity="P1D",
        groupBy=["queueId"],
        metrics=METRICS,
    )
    got = {}
    for row in result["results"]:
        for data in row["data"]:
            got[(row["group"].get("queueId"), data["interval"][:10])] = {
                m["metric"]: m["stats"] for m in data["metrics"]
            }
            assert data["interval"].endswith("T00:00:00.000Z")
    expected = {
        key: {name: _stats(name, values) for name, values in metrics.items()}
        for key, metrics in _expected(sim, start, end, daily=True).items()
    }
    assert got == expected
    offered = sum(s["nOffered"]["count"] for s in got.values() if "nOffered" in s)
    assert offered > 0


def test_whole_interval_aggregate_sums_the_days(simulator) -> None:
    sim = simulator()
    interval = "2024-05-01T00:00:00.000Z/2024-05-08T00:00:00.000Z"
    whole = _query(sim, interval=interval, groupBy=["queueId"], metrics=["nOffered", "tHandle"])
    daily = _query(
        sim,
        interval=interval,
        granularity="P1D",
        groupBy=["queueId"],
        metrics=["nOffered", "tHandle"],
    )

    def totals(result: dict[str, Any]) -> dict[Any, tuple[int, int]]:
        out: dict[Any, tuple[int, int]] = defaultdict(lambda: (0, 0))
        for row in result["results"]:
            for data in row["data"]:
                stats = {m["metric"]: m["stats"] for m in data["metrics"]}
                offered = stats.get("nOffered", {}).get("count", 0)
                handle = stats.get("tHandle", {}).get("sum", 0)
                prev = out[row["group"].get("queueId")]
                out[row["group"].get("queueId")] = (prev[0] + offered, prev[1] + handle)
        return dict(out)

    assert totals(whole) == totals(daily)
    for row in whole["results"]:
        assert [d["interval"] for d in row["data"]] == [interval]


def test_aggregate_request_errors_are_400(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    good = {"interval": "2024-05-01T00:00:00Z/2024-05-02T00:00:00Z", "metrics": ["nOffered"]}
    for bad in (
        {**good, "metrics": []},
        {**good, "interval": "x"},
        {**good, "granularity": "P1X"},
        {**good, "groupBy": ["ani"]},
    ):
        response = session.post(sim.base_url + AGGREGATES, json=bad, timeout=10)
        assert response.status_code == 400, bad
        assert response.json()["code"] in ("bad.request", "invalid.value")


def test_filter_on_a_group_dimension(simulator) -> None:
    sim = simulator()
    interval = "2024-05-01T00:00:00.000Z/2024-05-08T00:00:00.000Z"
    everything = _query(sim, interval=interval, groupBy=["queueId"], metrics=["nOffered"])
    row = next(r for r in everything["results"] if r["group"])
    queue_id = row["group"]["queueId"]
    only = _query(
        sim,
        interval=interval,
        groupBy=["queueId"],
        metrics=["nOffered"],
        filter={"type": "and", "predicates": [{"dimension": "queueId", "value": queue_id}]},
    )
    assert only["results"] == [row]
    refused = api_session(sim).post(
        sim.base_url + AGGREGATES,
        json={
            "interval": interval,
            "metrics": ["nOffered"],
            "filter": {"type": "and", "predicates": [{"dimension": "ani", "value": "x"}]},
        },
        timeout=10,
    )
    assert refused.status_code == 400
