"""Fixtures that start the Genesys Cloud simulator on loopback (owned by the simulator).

    def test_something(simulator):
        sim = simulator(conversations_per_day=50, job_delay_s=0.1)   # SimulatorConfig overrides
        session = api_session(sim)          # requests.Session with a bearer token
        session.get(sim.base_url + "/api/v2/routing/queues")
        entries = request_log(sim)          # the JSONL request log, parsed
        accepted_jobs(sim)                  # [(interval, jobId)] of every 202 job submission
        retry_after_violations(sim)         # requests a token sent before its Retry-After ran out

Every server started by the factory is stopped at teardown. Defaults (`SIM_DEFAULTS`): a fixed
`now` (2024-06-01) after a one-week range, so the data-lag watermark never hides data; a short
job delay; credentials `sim-client` / `sim-secret` (the same as conftest.make_settings); a
request log in the test's tmp_path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from genesys_sim.requestlog import read_request_log
from genesys_sim.server import SimulatorConfig, SimulatorHandle, start_simulator

SIM_DEFAULTS: dict[str, Any] = {
    "seed": 7,
    "start": date(2024, 5, 1),
    "end": date(2024, 5, 8),
    "conversations_per_day": 20,
    "now": datetime(2024, 6, 1, tzinfo=UTC),
    "job_delay_s": 0.2,
    "client_id": "sim-client",
    "client_secret": "sim-secret",
}

StartSimulator = Callable[..., SimulatorHandle]
JOBS_PATH = "/api/v2/analytics/conversations/details/jobs"
RETRY_AFTER_SLACK_S = 0.05


def get_token(handle: SimulatorHandle) -> str:
    c = handle.config
    response = requests.post(
        handle.base_url + "/oauth/token",
        auth=(c.client_id, c.client_secret),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def api_session(handle: SimulatorHandle) -> requests.Session:
    """A session authorized with a fresh token from `handle`."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {get_token(handle)}"
    return session


def request_log(handle: SimulatorHandle) -> list[dict[str, Any]]:
    """Entries of the handle's request log (empty if it has none)."""
    path = handle.config.request_log
    return read_request_log(path) if path is not None else []


def accepted_jobs(handle: SimulatorHandle) -> list[tuple[str, str]]:
    """(interval, jobId) of every job submission the simulator accepted (202), in order."""
    return [
        (str(e["interval"]), str(e["jobId"]))
        for e in request_log(handle)
        if e["method"] == "POST" and e["path"] == JOBS_PATH and e["status"] == 202
    ]


def retry_after_violations(handle: SimulatorHandle) -> list[dict[str, Any]]:
    """Requests sent by a token before the Retry-After of a 429 it received had elapsed.

    A 429 for the running-job cap restricts only job submissions; any other 429 restricts
    every request of the token. Times are the simulator's (they include `advance`).
    """
    entries = request_log(handle)
    violations = []
    for i, refused in enumerate(entries):
        if refused["status"] != 429 or "token" not in refused:
            continue
        until = datetime.fromisoformat(refused["time"]) + timedelta(
            seconds=refused["retryAfter"] - RETRY_AFTER_SLACK_S
        )
        for later in entries[i + 1 :]:
            if later.get("token") != refused["token"]:
                continue
            if refused.get("reason") == "job_cap" and not (
                later["method"] == "POST" and later["path"] == JOBS_PATH
            ):
                continue
            if datetime.fromisoformat(later["time"]) < until:
                violations.append({"refused": refused, "early": later})
            break
    return violations


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[StartSimulator]:
    """Factory: `simulator(**SimulatorConfig overrides) -> SimulatorHandle` on 127.0.0.1:0."""
    handles: list[SimulatorHandle] = []

    def start(**overrides: Any) -> SimulatorHandle:
        options = {
            **SIM_DEFAULTS,
            "request_log": tmp_path / f"sim-requests-{len(handles)}.jsonl",
            **overrides,
        }
        handle = start_simulator(SimulatorConfig(**options), "127.0.0.1", 0)
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.stop()
