"""Simulator conversation-detail jobs (reference §3), over real HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from genesys_sim.intervals import iso
from sim_fixtures import api_session, request_log

JOBS = "/api/v2/analytics/conversations/details/jobs"
DAY = timedelta(days=1)
WEEK = "2024-05-01T00:00:00.000Z/2024-05-08T00:00:00.000Z"


def submit(sim, session: requests.Session, interval: str = WEEK, **extra: Any) -> str:
    response = session.post(sim.base_url + JOBS, json={"interval": interval, **extra}, timeout=10)
    assert response.status_code == 202, response.text
    return str(response.json()["jobId"])


def status(sim, session: requests.Session, job_id: str) -> dict[str, Any]:
    response = session.get(f"{sim.base_url}{JOBS}/{job_id}", timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_state(sim, session, job_id: str, *states: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = status(sim, session, job_id)
        if body["state"] in states or time.monotonic() > deadline:
            return body
        time.sleep(0.02)


def all_pages(sim, session, job_id: str, page_size: int | None = None) -> list[dict[str, Any]]:
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {}
        if page_size:
            params["pageSize"] = page_size
        if cursor:
            params["cursor"] = cursor
        response = session.get(f"{sim.base_url}{JOBS}/{job_id}/results", params=params, timeout=30)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        cursor = page.get("cursor")
        if not cursor:
            return pages


def ids(pages: list[dict[str, Any]]) -> list[str]:
    return [c["conversationId"] for p in pages for c in p.get("conversations") or []]


def expected_ids(sim, start: datetime, end: datetime, sod: bool = False) -> list[str]:
    return [
        c["conversationId"]
        for c in sim.generator.iter_conversations(start, end, start_of_day_matching=sod)
    ]


def test_create_returns_202_with_job_id_only(simulator) -> None:
    sim = simulator()
    response = api_session(sim).post(sim.base_url + JOBS, json={"interval": WEEK}, timeout=10)
    assert response.status_code == 202
    assert list(response.json()) == ["jobId"]


def test_malformed_interval_is_400(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    for body in (
        {},
        {"interval": "yesterday"},
        {"interval": "2024-05-02T00:00Z/2024-05-01T00:00Z"},
    ):
        response = session.post(sim.base_url + JOBS, json=body, timeout=10)
        assert response.status_code == 400, body
        assert response.json()["contextId"] == response.headers["ININ-Correlation-Id"]


def test_interval_over_31_days_is_400_bad_request(simulator) -> None:
    sim = simulator()
    response = api_session(sim).post(
        sim.base_url + JOBS,
        json={"interval": "2024-05-01T00:00:00Z/2024-06-01T00:00:01Z"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad.request"
    ok = api_session(sim).post(
        sim.base_url + JOBS,
        json={"interval": "2024-05-01T00:00:00Z/2024-06-01T00:00:00Z"},
        timeout=10,
    )
    assert ok.status_code == 202


def test_running_job_cap_is_429_with_retry_after(simulator) -> None:
    sim = simulator(max_running_jobs=2, job_delay_s=5)
    session = api_session(sim)
    submit(sim, session)
    submit(sim, session)
    response = session.post(sim.base_url + JOBS, json={"interval": WEEK}, timeout=10)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 5
    assert response.json()["code"] == "too.many.requests.retry.after"
    sim.advance(5)  # the running jobs complete: a slot is free again
    submit(sim, session)
    last = request_log(sim)[-2]
    assert last["status"] == 429 and last["reason"] == "job_cap" and last["retryAfter"] >= 1
    assert last["interval"] == WEEK and "jobId" not in last


def test_states_queued_pending_fulfilled_with_presence_rules(simulator) -> None:
    sim = simulator(job_delay_s=10)  # QUEUED for 5 s, PENDING for 5 s; the clock is advanced
    session = api_session(sim)
    job_id = submit(sim, session)
    queued = status(sim, session, job_id)
    assert queued["state"] == "QUEUED"
    assert set(queued) == {"state", "submissionDate"}
    sim.advance(5)
    pending = status(sim, session, job_id)
    assert pending["state"] == "PENDING"
    assert set(pending) == {"state", "submissionDate"}
    sim.advance(5)
    done = status(sim, session, job_id)
    assert done["state"] == "FULFILLED"
    assert set(done) == {"state", "submissionDate", "completionDate", "expirationDate"}
    assert done["submissionDate"] < done["completionDate"] < done["expirationDate"]


def test_states_advance_in_real_time(simulator) -> None:
    sim = simulator(job_delay_s=0.2)
    session = api_session(sim)
    job_id = submit(sim, session)
    assert wait_state(sim, session, job_id, "FULFILLED")["state"] == "FULFILLED"


def test_failed_job_has_error_message_and_refuses_results(simulator) -> None:
    sim = simulator(job_failure_rate=1.0)
    session = api_session(sim)
    job_id = submit(sim, session)
    failed = wait_state(sim, session, job_id, "FAILED")
    assert failed["state"] == "FAILED"
    assert set(failed) == {"state", "submissionDate", "completionDate", "errorMessage"}
    response = session.get(f"{sim.base_url}{JOBS}/{job_id}/results", timeout=10)
    assert response.status_code == 400


def test_failures_follow_the_seeded_rate(simulator) -> None:
    outcomes = []
    for _ in range(2):
        sim = simulator(job_failure_rate=0.5, max_running_jobs=20, job_delay_s=0.05)
        session = api_session(sim)
        job_ids = [submit(sim, session) for _ in range(12)]
        time.sleep(0.1)
        outcomes.append(
            [wait_state(sim, session, j, "FAILED", "FULFILLED")["state"] for j in job_ids]
        )
    assert outcomes[0] == outcomes[1]
    assert {"FAILED", "FULFILLED"} == set(outcomes[0])


def test_delete_cancels_a_running_job(simulator) -> None:
    sim = simulator(job_delay_s=5)
    session = api_session(sim)
    job_id = submit(sim, session)
    response = session.delete(f"{sim.base_url}{JOBS}/{job_id}", timeout=10)
    assert response.status_code == 204
    assert response.content == b""
    body = status(sim, session, job_id)
    assert body["state"] == "CANCELLED"
    assert "errorMessage" not in body and "expirationDate" not in body
    assert session.get(f"{sim.base_url}{JOBS}/{job_id}/results", timeout=10).status_code == 400


def test_delete_of_a_finished_job_forgets_it(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    job_id = submit(sim, session)
    wait_state(sim, session, job_id, "FULFILLED")
    assert session.delete(f"{sim.base_url}{JOBS}/{job_id}", timeout=10).status_code == 204
    assert session.get(f"{sim.base_url}{JOBS}/{job_id}", timeout=10).status_code == 404


def test_unknown_job_is_404_not_found(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    for method, suffix in (("GET", ""), ("GET", "/results"), ("DELETE", "")):
        response = session.request(method, f"{sim.base_url}{JOBS}/no-such-job{suffix}", timeout=10)
        assert response.status_code == 404, (method, suffix)
        assert response.json()["code"] == "not.found"


def test_results_before_fulfilled_are_400(simulator) -> None:
    sim = simulator(job_delay_s=5)
    session = api_session(sim)
    job_id = submit(sim, session)
    response = session.get(f"{sim.base_url}{JOBS}/{job_id}/results", timeout=10)
    assert response.status_code == 400
    assert response.json()["code"] == "bad.request"


def test_fulfilled_job_expires_and_refuses_results(simulator) -> None:
    sim = simulator(job_expiry_s=60)
    session = api_session(sim)
    job_id = submit(sim, session)
    wait_state(sim, session, job_id, "FULFILLED")
    assert session.get(f"{sim.base_url}{JOBS}/{job_id}/results", timeout=10).status_code == 200
    sim.advance(61)
    body = status(sim, session, job_id)
    assert body["state"] == "EXPIRED"
    assert {"completionDate", "expirationDate"} <= set(body)
    response = session.get(f"{sim.base_url}{JOBS}/{job_id}/results", timeout=10)
    assert response.status_code == 400
    assert response.json()["code"] == "bad.request"


def test_paging_default_100_cursor_absent_on_last_page(simulator) -> None:
    sim = simulator(conversations_per_day=60)
    session = api_session(sim)
    job_id = submit(sim, session)
    wait_state(sim, session, job_id, "FULFILLED")
    pages = all_pages(sim, session, job_id)
    sizes = [len(p["conversations"]) for p in pages]
    assert all(size == 100 for size in sizes[:-1]) and 0 < sizes[-1] <= 100
    assert all("cursor" in p for p in pages[:-1]) and "cursor" not in pages[-1]
    assert all(p["dataAvailabilityDate"] for p in pages)
    start, end = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 8, tzinfo=UTC)
    assert ids(pages) == expected_ids(sim, start, end)
    assert "attributes" in {
        k for p in pages for c in p["conversations"] for part in c["participants"] for k in part
    }


def test_page_size_max_1000_and_400_above(simulator) -> None:
    sim = simulator(conversations_per_day=200)
    session = api_session(sim)
    job_id = submit(sim, session)
    wait_state(sim, session, job_id, "FULFILLED")
    pages = all_pages(sim, session, job_id, page_size=1000)
    assert len(pages[0]["conversations"]) == 1000
    url = f"{sim.base_url}{JOBS}/{job_id}/results"
    for bad in ("1001", "0", "ten"):
        response = session.get(url, params={"pageSize": bad}, timeout=10)
        assert response.status_code == 400, bad


def test_invalid_cursor_is_400(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    job_id = submit(sim, session)
    wait_state(sim, session, job_id, "FULFILLED")
    response = session.get(
        f"{sim.base_url}{JOBS}/{job_id}/results", params={"cursor": "forged"}, timeout=10
    )
    assert response.status_code == 400


def test_same_cursor_gives_the_same_page(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    job_id = submit(sim, session)
    wait_state(sim, session, job_id, "FULFILLED")
    url = f"{sim.base_url}{JOBS}/{job_id}/results"
    first = session.get(url, params={"pageSize": 10}, timeout=10).json()
    again = [
        session.get(url, params={"pageSize": 10, "cursor": first["cursor"]}, timeout=10).json()
        for _ in range(2)
    ]
    assert again[0] == again[1]
    assert ids([again[0]]) != ids([first])


def _midnight_spanning(sim) -> tuple[dict[str, Any], datetime]:
    """A conversation of the generated data that runs past midnight, and that midnight."""
    day = sim.config.start
    while day < sim.config.end:
        for conversation in sim.generator.conversations_for_day(day):
            if conversation.get("conversationEnd", "9")[:10] > day.isoformat():
                return conversation, datetime(day.year, day.month, day.day, tzinfo=UTC) + DAY
        day += DAY
    raise AssertionError("no conversation spans midnight: raise conversations_per_day")


def test_conversation_spanning_a_boundary_is_in_both_jobs(simulator) -> None:
    sim = simulator(conversations_per_day=60)
    session = api_session(sim)
    spanning, midnight = _midnight_spanning(sim)
    before = f"{iso(midnight - DAY)}/{iso(midnight)}"
    after = f"{iso(midnight)}/{iso(midnight + DAY)}"
    jobs = {
        "before": submit(sim, session, before),
        "after": submit(sim, session, after),
        "after_sod": submit(sim, session, after, startOfDayIntervalMatching=True),
    }
    got = {}
    for name, job_id in jobs.items():
        wait_state(sim, session, job_id, "FULFILLED")
        got[name] = ids(all_pages(sim, session, job_id))
    assert spanning["conversationId"] in got["before"]
    assert spanning["conversationId"] in got["after"]
    assert spanning["conversationId"] not in got["after_sod"]
    assert got["after"] == expected_ids(sim, midnight, midnight + DAY)
    assert got["after_sod"] == expected_ids(sim, midnight, midnight + DAY, sod=True)


def test_sub_day_boundary_with_start_of_day_matching_still_duplicates(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    day = sim.config.start
    conversation = next(
        c
        for c in sim.generator.conversations_for_day(day)
        if c["conversationEnd"] > c["conversationStart"]
    )
    start = datetime.fromisoformat(conversation["conversationStart"])
    boundary = start + (datetime.fromisoformat(conversation["conversationEnd"]) - start) / 2
    day_end = datetime(day.year, day.month, day.day, tzinfo=UTC) + DAY
    first = submit(sim, session, f"{iso(day_end - DAY)}/{iso(boundary)}")
    second = submit(
        sim, session, f"{iso(boundary)}/{iso(day_end)}", startOfDayIntervalMatching=True
    )
    for job_id in (first, second):
        wait_state(sim, session, job_id, "FULFILLED")
        assert conversation["conversationId"] in ids(all_pages(sim, session, job_id))


def test_results_are_a_snapshot_and_respect_the_watermark(simulator) -> None:
    # now = 2024-05-07 12:00 with a 6 h lag: data after 06:00 is not yet available.
    sim = simulator(now=datetime(2024, 5, 7, 12, tzinfo=UTC), data_lag_s=6 * 3600)
    session = api_session(sim)
    availability = session.get(f"{sim.base_url}{JOBS}/availability", timeout=10).json()
    assert availability["dataAvailabilityDate"].startswith("2024-05-07T06:00:0")
    job_id = submit(sim, session)
    wait_state(sim, session, job_id, "FULFILLED")
    pages = all_pages(sim, session, job_id, page_size=7)
    marks = {p["dataAvailabilityDate"] for p in pages}
    assert len(marks) == 1
    watermark = datetime.fromisoformat(marks.pop())
    assert watermark - datetime(2024, 5, 7, 6, tzinfo=UTC) < timedelta(seconds=5)
    start = datetime(2024, 5, 1, tzinfo=UTC)
    expected = [c["conversationId"] for c in sim.generator.iter_conversations(start, watermark)]
    assert expected and ids(pages) == expected
    sim.advance(5 * 3600)  # availability moves on to 11:00; the job's pages do not
    assert ids(all_pages(sim, session, job_id, page_size=7)) == expected
    later = submit(sim, session)
    wait_state(sim, session, later, "FULFILLED")
    later_pages = all_pages(sim, session, later, page_size=1000)
    watermark = datetime.fromisoformat(later_pages[0]["dataAvailabilityDate"])
    assert ids(later_pages) == [
        c["conversationId"] for c in sim.generator.iter_conversations(start, watermark)
    ]
    assert len(ids(later_pages)) > len(expected)


def test_empty_results_page_styles(simulator) -> None:
    empty_interval = "2024-04-01T00:00:00Z/2024-04-02T00:00:00Z"  # before the simulated range
    for style, expected in (("empty", {"conversations": []}), ("omit", {})):
        sim = simulator(empty_page_style=style)
        session = api_session(sim)
        job_id = submit(sim, session, empty_interval)
        wait_state(sim, session, job_id, "FULFILLED")
        page = all_pages(sim, session, job_id)[0]
        assert {k: v for k, v in page.items() if k != "dataAvailabilityDate"} == expected


def test_limit_and_descending_order(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    job_id = submit(sim, session, limit=5, order="desc")
    wait_state(sim, session, job_id, "FULFILLED")
    got = ids(all_pages(sim, session, job_id))
    start, end = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 8, tzinfo=UTC)
    assert got == list(reversed(expected_ids(sim, start, end)))[:5]


def test_job_creation_is_logged_with_interval_and_job_id(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    job_id = submit(sim, session)
    created = [e for e in request_log(sim) if e["method"] == "POST" and e["path"] == JOBS]
    assert len(created) == 1
    assert created[0]["jobId"] == job_id and created[0]["interval"] == WEEK
    assert created[0]["status"] == 202 and created[0]["correlationId"]


def test_job_filters_select_matching_conversations(simulator) -> None:
    sim = simulator()
    session = api_session(sim)
    job_id = submit(
        sim,
        session,
        segmentFilters=[{"type": "and", "predicates": [{"dimension": "purpose", "value": "acd"}]}],
    )
    wait_state(sim, session, job_id, "FULFILLED")
    start, end = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 8, tzinfo=UTC)
    expected = [
        c["conversationId"]
        for c in sim.generator.iter_conversations(start, end)
        if any(p["purpose"] == "acd" for p in c["participants"])
    ]
    got = ids(all_pages(sim, session, job_id))
    assert got == expected and 0 < len(got) < len(expected_ids(sim, start, end))


def test_concurrent_submissions_never_overshoot_the_cap(simulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sim = simulator(max_running_jobs=3, job_delay_s=10)
    session = api_session(sim)

    def post(_: int) -> int:
        return session.post(sim.base_url + JOBS, json={"interval": WEEK}, timeout=10).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(post, range(10)))
    assert statuses == [202] * 3 + [429] * 7
