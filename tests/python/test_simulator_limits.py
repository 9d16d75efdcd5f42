"""Simulator rate limits and injected faults (reference §6), over real HTTP."""

from __future__ import annotations

from collections import Counter

import requests

from sim_fixtures import api_session, request_log

QUEUES = "/api/v2/routing/queues"


def test_requests_per_minute_per_token_is_429_with_normalized_body(simulator) -> None:
    sim = simulator(requests_per_minute=5)
    session = api_session(sim)
    statuses = [session.get(sim.base_url + QUEUES, timeout=10).status_code for _ in range(5)]
    assert statuses == [200] * 5
    response = session.get(sim.base_url + QUEUES, timeout=10)
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    correlation_id = response.headers["ININ-Correlation-Id"]
    assert response.json() == {
        "message": f"Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds",
        "code": "too.many.requests.retry.after",
        "status": 429,
        "contextId": correlation_id,
        "details": [],
        "errors": [],
    }
    entry = request_log(sim)[-1]
    assert entry["status"] == 429 and entry["retryAfter"] == retry_after
    assert entry["reason"] == "rate_limit" and entry["correlationId"] == correlation_id


def test_budget_is_per_token_and_recovers_after_retry_after(simulator) -> None:
    sim = simulator(requests_per_minute=3)
    first, second = api_session(sim), api_session(sim)
    for _ in range(3):
        assert first.get(sim.base_url + QUEUES, timeout=10).status_code == 200
    refused = first.get(sim.base_url + QUEUES, timeout=10)
    assert refused.status_code == 429
    assert second.get(sim.base_url + QUEUES, timeout=10).status_code == 200  # its own budget
    sim.advance(int(refused.headers["Retry-After"]))
    assert first.get(sim.base_url + QUEUES, timeout=10).status_code == 200


def test_token_requests_do_not_use_the_api_budget(simulator) -> None:
    sim = simulator(requests_per_minute=1)
    for _ in range(3):
        assert api_session(sim).get(sim.base_url + QUEUES, timeout=10).status_code == 200


def _statuses(sim, n: int) -> list[int]:
    session = api_session(sim)
    return [session.get(sim.base_url + QUEUES, timeout=10).status_code for _ in range(n)]


def test_random_429s_are_seeded_and_carry_retry_after(simulator) -> None:
    runs = [_statuses(simulator(random_429_rate=0.3, requests_per_minute=0), 60) for _ in range(2)]
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 429}
    sim = simulator(random_429_rate=1.0, random_retry_after_s=2)
    response = api_session(sim).get(sim.base_url + QUEUES, timeout=10)
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert response.json()["code"] == "too.many.requests.retry.after"
    assert request_log(sim)[-1]["reason"] == "random_429"


def test_random_5xx_are_502_503_504_error_bodies(simulator) -> None:
    sim = simulator(random_5xx_rate=0.5, requests_per_minute=0)
    session = api_session(sim)
    responses = [session.get(sim.base_url + QUEUES, timeout=10) for _ in range(60)]
    counts = Counter(r.status_code for r in responses)
    assert set(counts) == {200, 502, 503, 504}
    for response in responses:
        if response.status_code >= 500:
            body = response.json()
            assert body["status"] == response.status_code
            assert body["contextId"] == response.headers["ININ-Correlation-Id"]
    other_seed = simulator(random_5xx_rate=0.5, requests_per_minute=0, seed=8)
    assert [r.status_code for r in responses] != _statuses(other_seed, 60)


def test_storm_refuses_everything_for_its_duration(simulator) -> None:
    sim = simulator(storm_rate=1.0, storm_duration_s=30)
    statuses = _statuses(sim, 5)
    assert statuses == [429] * 5
    session = api_session(sim)
    retry_after = int(session.get(sim.base_url + QUEUES, timeout=10).headers["Retry-After"])
    assert 1 <= retry_after <= 30
    assert {e["reason"] for e in request_log(sim) if e["status"] == 429} == {"storm"}


def test_request_log_lines_have_the_audit_fields(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    session.get(sim.base_url + QUEUES, params={"pageSize": 5}, timeout=10)
    requests.get(sim.base_url + QUEUES, timeout=10)
    token_entry, ok, unauthorized = request_log(sim)
    assert token_entry["path"] == "/oauth/token" and token_entry["status"] == 200
    assert "access_token" not in str(token_entry)
    for entry in (ok, unauthorized):
        assert {"time", "method", "path", "query", "status", "correlationId"} <= set(entry)
    assert ok["query"] == {"pageSize": "5"} and ok["token"]
    assert unauthorized["status"] == 401


def test_fault_profiles(simulator) -> None:
    from dataclasses import asdict

    from genesys_sim.faults import PROFILES, apply_profile
    from genesys_sim.server import SimulatorConfig

    assert set(PROFILES) == {"none", "flaky", "storm", "chaos"}
    base = SimulatorConfig()
    assert apply_profile(base, "none") == base
    chaos = apply_profile(base, "chaos")
    assert chaos.token_lifetime_s < base.token_lifetime_s
    assert chaos.job_failure_rate > 0 and chaos.job_expiry_s < base.job_expiry_s
    assert chaos.random_429_rate > 0 and chaos.random_5xx_rate > 0
    flaky = asdict(apply_profile(base, "flaky"))
    sim = simulator(
        **{k: flaky[k] for k in ("random_429_rate", "random_5xx_rate")}, requests_per_minute=0
    )
    assert {429, 502, 503, 504} & set(_statuses(sim, 100))
    try:
        apply_profile(base, "nope")
    except ValueError as exc:
        assert "chaos" in str(exc)
    else:
        raise AssertionError("unknown profile accepted")


def test_audit_helpers_spot_ignored_retry_after_and_list_jobs(simulator) -> None:
    from sim_fixtures import accepted_jobs, retry_after_violations

    sim = simulator(requests_per_minute=2)
    session = api_session(sim)
    for _ in range(3):
        session.get(sim.base_url + QUEUES, timeout=10)
    assert retry_after_violations(sim) == []  # the 429 is the last request so far
    session.get(sim.base_url + QUEUES, timeout=10)  # sent at once: Retry-After ignored
    assert len(retry_after_violations(sim)) == 1
    polite = simulator(requests_per_minute=2)
    session = api_session(polite)
    for _ in range(3):
        session.get(polite.base_url + QUEUES, timeout=10)
    polite.advance(60)
    session.get(polite.base_url + QUEUES, timeout=10)
    assert retry_after_violations(polite) == []
    job = session.post(
        polite.base_url + "/api/v2/analytics/conversations/details/jobs",
        json={"interval": "2024-05-01T00:00:00Z/2024-05-02T00:00:00Z"},
        timeout=10,
    ).json()["jobId"]
    assert accepted_jobs(polite) == [("2024-05-01T00:00:00Z/2024-05-02T00:00:00Z", job)]
