"""Conversations per second served by the simulator's job results endpoint.

Starts `genesys-finance simulator` in its own process (as users run it), submits one detail job
over the whole range, then pages through the results with pageSize=1000 over loopback, parsing
every page. The first pass includes generating the data (cold); later passes serve the cached,
pre-serialized conversations (warm). The rate limit is off: this measures the server, not the
300 requests/minute budget.

    .venv/bin/python bench/bench_simulator.py [--days 31] [--conversations-per-day 1000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import date, timedelta

import orjson
import requests

JOBS = "/api/v2/analytics/conversations/details/jobs"


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    end = date(2024, 5, 1) + timedelta(days=args.days)
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
            end.isoformat(),
            "--now",
            f"{end.isoformat()}T12:00:00Z",
            "--conversations-per-day",
            str(args.conversations_per_day),
            "--client-id",
            "bench",
            "--client-secret",
            "bench-secret",
            "--job-delay",
            "0",
            "--requests-per-minute",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("http://"):
            return process, line.strip()
    raise SystemExit("simulator did not start")


def one_pass(
    session: requests.Session, base_url: str, interval: str, parse: bool
) -> tuple[int, int, float]:
    """(conversations, bytes, seconds) for one job: submit, wait, page to the end.

    Without `parse`, pages are only read inside the timer (the server's rate) and parsed after
    it to count; with `parse`, parsing is timed too (what a Python client sees end to end).
    """
    started = time.perf_counter()
    job_id = session.post(base_url + JOBS, json={"interval": interval}, timeout=30).json()["jobId"]
    while session.get(f"{base_url}{JOBS}/{job_id}", timeout=30).json()["state"] != "FULFILLED":
        time.sleep(0.01)
    bodies: list[bytes] = []
    count = 0
    params: dict[str, str | int] = {"pageSize": 1000}
    while True:
        response = session.get(f"{base_url}{JOBS}/{job_id}/results", params=params, timeout=120)
        response.raise_for_status()
        bodies.append(response.content)
        # The cursor is the last key of a page: find it without parsing the whole body.
        tail = response.content[-400:]
        marker = tail.rfind(b'"cursor":"')
        if parse:
            count += len(orjson.loads(response.content).get("conversations") or ())
        if marker < 0:
            break
        params["cursor"] = tail[marker + 10 : tail.index(b'"', marker + 10)].decode()
    seconds = time.perf_counter() - started
    if not parse:
        count = sum(len(orjson.loads(body).get("conversations") or ()) for body in bodies)
    return count, sum(map(len, bodies)), seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--conversations-per-day", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    process, base_url = start_server(args)
    try:
        session = requests.Session()
        token = session.post(
            base_url + "/oauth/token",
            auth=("bench", "bench-secret"),
            data={"grant_type": "client_credentials"},
            timeout=30,
        ).json()
        session.headers["Authorization"] = f"Bearer {token['access_token']}"
        end = date(2024, 5, 1) + timedelta(days=args.days)
        interval = f"2024-05-01T00:00:00.000Z/{end.isoformat()}T00:00:00.000Z"
        served: list[float] = []
        parsed: list[float] = []
        for n in range(args.passes):
            parse = n > 0 and n % 2 == 0
            count, size, seconds = one_pass(session, base_url, interval, parse)
            label = "cold, includes generation" if n == 0 else "warm"
            label += ", client parses every page" if parse else ", pages read, not parsed"
            rate = count / seconds
            print(
                f"pass {n + 1} ({label}): {count} conversations, {size / 1e6:.1f} MB "
                f"in {seconds:.2f} s = {rate:,.0f} conversations/s "
                f"({size / 1e6 / seconds:.0f} MB/s)",
                flush=True,
            )
            if n:
                (parsed if parse else served).append(rate)
        if served:
            print(
                f"served by the results endpoint (pageSize=1000, loopback): "
                f"{max(served):,.0f} conversations/s"
            )
        if parsed:
            print(f"end to end with an orjson-parsing client: {max(parsed):,.0f} conversations/s")
        return 0
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
