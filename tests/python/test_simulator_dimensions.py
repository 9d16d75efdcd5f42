"""Simulator dimension endpoints with Genesys entity paging."""

from __future__ import annotations

import pytest

from sim_fixtures import api_session

ENDPOINTS = {
    "/api/v2/routing/queues": "queues",
    "/api/v2/routing/wrapupcodes": "wrapup_codes",
    "/api/v2/authorization/divisions": "divisions",
    "/api/v2/users": "users",
    "/api/v2/telephony/providers/edges/didpools": "did_pools",
    "/api/v2/telephony/providers/edges/dids": "dids",
}


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_paging_returns_every_entity_once(simulator, path: str) -> None:
    sim = simulator()
    session = api_session(sim)
    expected = getattr(sim.generator, ENDPOINTS[path])()
    first = session.get(sim.base_url + path, params={"pageSize": 3}, timeout=10).json()
    assert first["pageSize"] == 3 and first["pageNumber"] == 1
    assert first["total"] == len(expected)
    assert first["pageCount"] == -(-len(expected) // 3)
    seen = []
    for number in range(1, first["pageCount"] + 1):
        page = session.get(
            sim.base_url + path, params={"pageSize": 3, "pageNumber": number}, timeout=10
        ).json()
        seen += page["entities"]
        assert ("nextUri" in page) == (number < first["pageCount"])
    assert seen == expected


def test_default_page_size_is_25_and_past_the_end_is_empty(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    page = session.get(sim.base_url + "/api/v2/users", timeout=10).json()
    assert page["pageSize"] == 25
    beyond = session.get(
        sim.base_url + "/api/v2/users", params={"pageNumber": 999}, timeout=10
    ).json()
    assert beyond["entities"] == [] and beyond["total"] == page["total"]


def test_page_size_above_500_is_400(simulator) -> None:
    sim = simulator()
    response = api_session(sim).get(
        sim.base_url + "/api/v2/users", params={"pageSize": 501}, timeout=10
    )
    assert response.status_code == 400
