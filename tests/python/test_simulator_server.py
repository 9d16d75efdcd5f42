"""Simulator as a whole: determinism across restarts, the CLI, a curl walk-through."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sim_fixtures import api_session

JOBS = "/api/v2/analytics/conversations/details/jobs"


def _extract(sim) -> bytes:
    session = api_session(sim)
    job_id = session.post(
        sim.base_url + JOBS,
        json={"interval": "2024-05-01T00:00:00Z/2024-05-08T00:00:00Z"},
        timeout=10,
    ).json()["jobId"]
    while session.get(f"{sim.base_url}{JOBS}/{job_id}", timeout=10).json()["state"] != "FULFILLED":
        time.sleep(0.05)
    body = session.get(
        f"{sim.base_url}{JOBS}/{job_id}/results", params={"pageSize": 1000}, timeout=30
    ).json()
    dimensions = session.get(sim.base_url + "/api/v2/routing/queues", timeout=10).json()
    return json.dumps([body["conversations"], dimensions["entities"]], sort_keys=True).encode()


def test_same_seed_serves_identical_data_across_restarts(simulator) -> None:
    first = simulator(seed=11)
    data = _extract(first)
    first.stop()
    assert _extract(simulator(seed=11)) == data
    assert _extract(simulator(seed=12)) != data


def test_stop_closes_the_port_and_open_connections(simulator) -> None:
    sim = simulator()
    session = api_session(sim)  # holds a keep-alive connection
    assert session.get(sim.base_url + "/api/v2/users", timeout=10).ok
    sim.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(sim.base_url + "/api/v2/users", timeout=5)
    with pytest.raises(requests.ConnectionError):
        requests.get(sim.base_url + "/api/v2/users", timeout=5)
    sim.stop()  # idempotent


def _start_cli(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "GENESYS_CLIENT_ID": "cli-id", "GENESYS_CLIENT_SECRET": "cli-secret"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genesys_sim.command",
            "--port",
            "0",
            "--seed",
            "7",
            "--start",
            "2024-05-01",
            "--end",
            "2024-05-03",
            "--now",
            "2024-06-01T00:00:00Z",
            "--conversations-per-day",
            "20",
            "--job-delay",
            "0.2",
            "--request-log",
            str(tmp_path / "requests.jsonl"),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("http://"):
            return process, line.strip()
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError(
        f"simulator did not start: {process.stderr.read() if process.stderr else ''}"
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_cli_prints_base_url_and_stops_on_signal(tmp_path: Path, signum: int) -> None:
    process, base_url = _start_cli(tmp_path)
    try:
        refused = requests.post(
            base_url + "/oauth/token",
            auth=("sim-client", "sim-secret"),
            data={"grant_type": "client_credentials"},
            timeout=10,
        )
        assert refused.status_code == 401  # only the env credentials are accepted
        accepted = requests.post(
            base_url + "/oauth/token",
            auth=("cli-id", "cli-secret"),
            data={"grant_type": "client_credentials"},
            timeout=10,
        )
        assert accepted.status_code == 200
    finally:
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0


@pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("jq") is None,
    reason="curl and jq are needed for the README walk-through",
)
def test_readme_curl_walk_through(tmp_path: Path) -> None:
    process, base_url = _start_cli(tmp_path)
    script = tmp_path / "walk.sh"
    script.write_text(CURL_WALK_THROUGH)
    try:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", str(script)],
            capture_output=True,
            text=True,
            timeout=60,
            env={
                **os.environ,
                "SIM": base_url,
                "GENESYS_CLIENT_ID": "cli-id",
                "GENESYS_CLIENT_SECRET": "cli-secret",
            },
        )
        assert result.returncode == 0, result.stderr
        first_state, final_state, count = result.stdout.split()
        assert first_state in ("QUEUED", "PENDING") and final_state == "FULFILLED"
        assert int(count) > 0
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


CURL_WALK_THROUGH = r"""
TOKEN=$(curl -s -u "$GENESYS_CLIENT_ID:$GENESYS_CLIENT_SECRET" \
  -d grant_type=client_credentials "$SIM/oauth/token" | jq -r .access_token)
JOB=$(curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"interval":"2024-05-01T00:00:00.000Z/2024-05-03T00:00:00.000Z"}' \
  "$SIM/api/v2/analytics/conversations/details/jobs" | jq -r .jobId)
curl -s -H "Authorization: Bearer $TOKEN" \
  "$SIM/api/v2/analytics/conversations/details/jobs/$JOB" | jq -r .state
sleep 1
curl -s -H "Authorization: Bearer $TOKEN" \
  "$SIM/api/v2/analytics/conversations/details/jobs/$JOB" | jq -r .state
curl -s -H "Authorization: Bearer $TOKEN" \
  "$SIM/api/v2/analytics/conversations/details/jobs/$JOB/results?pageSize=1000" \
  | jq '.conversations | length'
"""


def test_cli_writes_cdr_files_for_the_simulated_range(tmp_path: Path) -> None:
    process, _ = _start_cli(tmp_path, "--cdr-dir", str(tmp_path / "cdrs"))
    try:
        written = sorted(p.name for p in (tmp_path / "cdrs").iterdir())
        assert any(name.startswith("ground_truth_20240501_20240503") for name in written)
        assert any(name.startswith("cdrs_") for name in written)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
