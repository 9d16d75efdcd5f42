"""Simulator synchronous detail query (reference §4)."""

from __future__ import annotations

from datetime import date

from sim_fixtures import api_session

QUERY = "/api/v2/analytics/conversations/details/query"


def test_day_matching_paging_and_no_attributes(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    # A one-hour interval returns every conversation that started that UTC day.
    body = {"interval": "2024-05-02T12:00:00Z/2024-05-02T13:00:00Z", "paging": {"pageSize": 7}}
    expected = [c["conversationId"] for c in sim.generator.conversations_for_day(date(2024, 5, 2))]
    seen: list[str] = []
    number = 1
    while True:
        body["paging"] = {"pageSize": 7, "pageNumber": number}
        page = session.post(sim.base_url + QUERY, json=body, timeout=10).json()
        assert page["totalHits"] == len(expected)
        conversations = page.get("conversations", [])
        if not conversations:
            break
        assert all("attributes" not in p for c in conversations for p in c["participants"])
        seen += [c["conversationId"] for c in conversations]
        number += 1
    assert seen == expected


def test_page_size_over_100_and_long_unfiltered_interval_are_400(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    day = "2024-05-01T00:00:00Z/2024-05-02T00:00:00Z"
    too_big = session.post(
        sim.base_url + QUERY, json={"interval": day, "paging": {"pageSize": 101}}, timeout=10
    )
    assert too_big.status_code == 400
    eight_days = "2024-05-01T00:00:00Z/2024-05-09T00:00:00Z"
    assert (
        session.post(sim.base_url + QUERY, json={"interval": eight_days}, timeout=10).status_code
        == 400
    )
    filtered = {
        "interval": eight_days,
        "conversationFilters": [
            {
                "type": "and",
                "predicates": [{"dimension": "originatingDirection", "value": "inbound"}],
            }
        ],
    }
    assert session.post(sim.base_url + QUERY, json=filtered, timeout=10).status_code == 200


def test_filters_are_applied_not_ignored(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    day = "2024-05-02T00:00:00Z/2024-05-03T00:00:00Z"
    conversations = sim.generator.conversations_for_day(date(2024, 5, 2))

    def hits(**filters: object) -> int:
        response = session.post(sim.base_url + QUERY, json={"interval": day, **filters}, timeout=10)
        assert response.status_code == 200, response.text
        return int(response.json()["totalHits"])

    inbound = [c for c in conversations if c.get("originatingDirection") == "inbound"]
    assert hits(
        conversationFilters=[
            {
                "type": "and",
                "predicates": [{"dimension": "originatingDirection", "value": "inbound"}],
            }
        ]
    ) == len(inbound)
    voice = [
        c
        for c in conversations
        if any(s.get("mediaType") == "voice" for p in c["participants"] for s in p["sessions"])
    ]
    assert hits(
        segmentFilters=[
            {"type": "or", "predicates": [{"dimension": "mediaType", "value": "voice"}]}
        ]
    ) == len(voice)
    ended = [c for c in conversations if "conversationEnd" in c]
    assert hits(
        conversationFilters=[
            {"type": "and", "predicates": [{"dimension": "conversationEnd", "operator": "exists"}]}
        ]
    ) == len(ended)
    refused = session.post(
        sim.base_url + QUERY,
        json={
            "interval": day,
            "surveyFilters": [
                {"type": "and", "predicates": [{"dimension": "surveyId", "value": "x"}]}
            ],
        },
        timeout=10,
    )
    assert refused.status_code == 400
