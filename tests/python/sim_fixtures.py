"""Fixtures that start the Genesys Cloud simulator on loopback (owned by the simulator).

    def test_something(simulator):
        sim = simulator(conversations_per_day=50, job_delay_s=0.1)   # SimulatorConfig overrides
        session = api_session(sim)          # requests.Session with a bearer token
        session.get(sim.base_url + "/api/v2/routing/queues")
        entries = request_log(sim)          # the JSONL request log, parsed

Every server started by the factory is stopped at teardown. Defaults (`SIM_DEFAULTS`): a fixed
`now` (2024-06-01) after a one-week range, so the data-lag watermark never hides data; a short
job delay; credentials `sim-client` / `sim-secret` (the same as conftest.make_settings); a
request log in the test's tmp_path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from genesys_finance.simulator.requestlog import read_request_log
from genesys_finance.simulator.server import SimulatorConfig, SimulatorHandle, start_simulator

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
