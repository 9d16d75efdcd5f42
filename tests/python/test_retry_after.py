"""Retry-After is the client's, not one worker's (issue #16), proved with the simulator's log.

* A rate-limit 429 holds every request made with that token: no worker sends inside another
  request's Retry-After window.
* A 429 for too many concurrent jobs holds back only new job submissions: polls and downloads
  go on inside its window.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from genesys_finance.api import ApiClient, RequestPacer, RetryPolicy
from genesys_finance.api.http import is_concurrent_jobs_limit, is_job_submission
from genesys_finance.api.jobs import DetailJobs, JobState
from genesys_finance.runner import ExtractOptions, run_extract
from genesys_finance.settings import Settings
from genesys_sim.server import SimulatorHandle
from sim_fixtures import JOBS_PATH, StartSimulator, request_log, retry_after_violations

FAST_RETRY = RetryPolicy(max_attempts=6, backoff_initial_s=0.05, backoff_max_s=0.2)


def _client(sim: SimulatorHandle, requests_per_minute: float) -> ApiClient:
    c = sim.config
    return ApiClient(
        sim.base_url,
        sim.base_url,
        c.client_id,
        c.client_secret,
        requests_per_minute=requests_per_minute,
        retry=FAST_RETRY,
    )


def _time(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(entry["time"]).replace("Z", "+00:00"))


def _windows(log: list[dict[str, Any]], reason: str) -> list[tuple[datetime, datetime]]:
    return [
        (_time(e), _time(e) + timedelta(seconds=e["retryAfter"]))
        for e in log
        if e["status"] == 429 and e.get("reason") == reason
    ]


# -- the pacer: shared state, no HTTP --------------------------------------------------------


def _stamp_when_sent(pacer: RequestPacer, submission: bool, out: list[float]) -> threading.Thread:
    """A worker thread that takes one slot and notes when it could send."""

    def send() -> None:
        pacer.wait_for_slot(submission)
        out.append(time.monotonic())

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def test_a_slot_reserved_before_a_pause_waits_for_the_pause() -> None:
    """The race behind #16: a worker already waiting for its slot when another got a 429."""
    pacer = RequestPacer(requests_per_minute=200)  # one slot per 0.3 s
    pacer.wait_for_slot()  # takes the slot now; the next one is 0.3 s away
    sent: list[float] = []
    waiting = _stamp_when_sent(pacer, False, sent)  # reserves the slot at +0.3 s, sleeps
    time.sleep(0.1)
    paused_at = time.monotonic()
    pacer.pause_for(0.6)  # another worker's 429
    waiting.join()
    assert sent[0] - paused_at >= 0.6 - 0.01


def test_submission_hold_holds_submissions_only() -> None:
    pacer = RequestPacer(requests_per_minute=0)
    held_at = time.monotonic()
    pacer.hold_submissions_for(0.5)
    polls: list[float] = []
    submissions: list[float] = []
    threads = [_stamp_when_sent(pacer, False, polls) for _ in range(3)]
    threads.append(_stamp_when_sent(pacer, True, submissions))
    for thread in threads:
        thread.join()
    assert max(polls) - held_at < 0.25  # polls went straight on
    assert submissions[0] - held_at >= 0.5 - 0.01
    pacer.pause_for(0.3)  # a rate-limit 429 holds submissions too
    paused_at = time.monotonic()
    _stamp_when_sent(pacer, True, submissions).join()
    assert submissions[1] - paused_at >= 0.3 - 0.01


def test_which_429_is_which() -> None:
    assert is_job_submission("POST", JOBS_PATH)
    assert is_job_submission("POST", "/api/v2/analytics/users/details/jobs/")
    assert not is_job_submission("GET", JOBS_PATH)
    assert not is_job_submission("POST", "/api/v2/analytics/conversations/aggregates/query")
    cap = b'{"code":"too.many.requests","limit":{"key":"a.details.jobs.concurrent.access.max"}}'
    assert is_concurrent_jobs_limit(cap)
    assert not is_concurrent_jobs_limit(b'{"code":"too.many.requests.retry.after","status":429}')
    assert not is_concurrent_jobs_limit(b"not json")
    assert not is_concurrent_jobs_limit(b'{"limit": "concurrent"}')


# -- over HTTP, several workers sharing one client (one token) -------------------------------


def test_rate_limit_429_holds_every_worker(simulator: StartSimulator) -> None:
    sim = simulator(random_429_rate=0.2, random_retry_after_s=1)
    # Slots 0.2 s apart: workers reserve slots ahead (the race), and a 429 reaches the client
    # long before the next slot, so no request can be in flight when the window opens.
    client = _client(sim, requests_per_minute=300)

    def worker(n: int) -> None:
        for _ in range(n):
            client.get("/api/v2/routing/queues", {"pageSize": 5})

    threads = [threading.Thread(target=worker, args=(6,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log = request_log(sim)
    assert _windows(log, "random_429"), "the simulator injected no 429"
    assert sum(1 for e in log if e["status"] == 200 and e.get("token")) == 24
    assert retry_after_violations(sim) == []


def test_concurrent_jobs_429_holds_submissions_only(simulator: StartSimulator) -> None:
    sim = simulator(max_running_jobs=1, job_delay_s=2.0)
    client = _client(sim, requests_per_minute=0)
    jobs = DetailJobs(client)
    start = datetime(2024, 5, 1, tzinfo=UTC)
    first = jobs.submit(start, start + timedelta(days=3))
    submitted: list[str] = []
    second = threading.Thread(
        target=lambda: submitted.append(
            jobs.submit(start + timedelta(days=3), start + timedelta(days=7))
        )
    )
    second.start()  # refused with 429 (the one running job), waits, then gets in
    while (status := jobs.status(first)).state is not JobState.FULFILLED:  # polling goes on
        assert not status.state.needs_resubmit
        time.sleep(0.05)
    pages = list(jobs.results(first, page_size=10))
    second.join()
    assert submitted and pages

    log = request_log(sim)
    windows = _windows(log, "job_cap")
    assert windows, "the simulator never refused a submission for the job cap"
    polls_inside = [
        e
        for e in log
        if e["method"] == "GET"
        and e["status"] == 200
        and any(opened < _time(e) < closes for opened, closes in windows)
    ]
    assert len(polls_inside) >= 5, "polling stopped during a concurrent-jobs 429"
    assert retry_after_violations(sim) == []  # and no submission inside its window
    assert [e["status"] for e in log if e["method"] == "POST"][-1] == 202


def test_extraction_keeps_every_window(simulator: StartSimulator, tmp_path: Any) -> None:
    """The extractor's workers (more than the job cap) under random 429s: no request inside
    a rate-limit window, no submission inside a job-cap window, and the data is all there."""
    sim = simulator(
        start=date(2024, 1, 1),
        end=date(2024, 5, 1),
        conversations_per_day=3,
        now=datetime(2024, 5, 10, tzinfo=UTC),
        job_delay_s=0.6,
        max_running_jobs=2,
        random_429_rate=0.05,
        random_retry_after_s=1,
    )
    settings = Settings(
        api_url=sim.base_url,
        login_url=sim.base_url,
        client_id=sim.config.client_id,
        client_secret=sim.config.client_secret,
        target="duckdb",
        duckdb_path=tmp_path / "warehouse.duckdb",
        hmac_key=b"test-hmac-key-not-a-secret",
    )
    options = ExtractOptions(
        max_parallel_jobs=4,
        requests_per_minute=600,
        poll_initial_s=0.1,
        poll_max_s=0.3,
        page_size=50,
        max_attempts=6,
        quiet=True,
        skip_dimensions=True,
        retry=FAST_RETRY,
    )
    summary = run_extract(settings, date(2024, 1, 1), date(2024, 5, 1), options)
    assert summary.conversations > 0
    log = request_log(sim)
    assert _windows(log, "job_cap"), "four workers, two job slots: some submission was refused"
    assert retry_after_violations(sim) == []
