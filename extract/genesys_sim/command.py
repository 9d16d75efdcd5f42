"""`genesys-finance simulator`: serve the Genesys Cloud API locally until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from genesys_finance.argtypes import iso_date

HELP = "serve a simulated Genesys Cloud API (login + analytics) on a local port"


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    add("--port", type=int, default=8080, help="port; 0 picks a free one (default 8080)")
    add("--seed", type=int, default=7, help="data and fault seed (default 7)")
    add("--start", type=iso_date, help="first simulated day (default: end - 30 days)")
    add("--end", type=iso_date, help="day after the last simulated day (default: tomorrow)")
    add("--conversations-per-day", type=int, default=200, help="average volume (default 200)")
    add("--now", type=_instant, help="simulated time at startup (default: the wall clock)")
    add("--faults", default="none", help="fault profile: none, flaky, storm, chaos (default none)")
    add(
        "--client-id",
        default=os.environ.get("GENESYS_CLIENT_ID"),
        help="the only client id accepted (default: $GENESYS_CLIENT_ID)",
    )
    add(
        "--client-secret",
        default=os.environ.get("GENESYS_CLIENT_SECRET"),
        help="its secret (default: $GENESYS_CLIENT_SECRET)",
    )
    add("--token-lifetime", type=int, help="token expires_in seconds (default 86400)")
    add("--job-delay", type=float, help="seconds from job submission to completion (default 3)")
    add("--job-failure-rate", type=float, help="share of jobs that end FAILED (default 0)")
    add("--job-expiry", type=float, help="seconds from FULFILLED to EXPIRED (default 86400)")
    add("--max-running-jobs", type=int, help="running jobs per client before 429 (default 5)")
    add("--max-interval-days", type=int, help="longest job interval (default 31)")
    add("--requests-per-minute", type=int, help="budget per token, 0 = unlimited (default 300)")
    add("--random-429-rate", type=float, help="share of requests answered 429 (default 0)")
    add("--random-5xx-rate", type=float, help="share of requests answered 502/503/504 (default 0)")
    add("--data-lag", type=float, help="seconds between now and data availability (default 7200)")
    add("--page-size-max", type=int, help="largest results pageSize (default 1000)")
    add(
        "--empty-page-style",
        choices=("empty", "omit"),
        help="empty results page: conversations [] or omitted (default empty)",
    )
    add(
        "--prewarm",
        action="store_true",
        default=None,
        help="generate the whole range in the background at startup",
    )
    add("--request-log", type=Path, help="write one JSON line per request to this file")
    add("--cdr-dir", type=Path, help="write carrier CDR and ground-truth files here at startup")


_OVERRIDES = {
    "token_lifetime": "token_lifetime_s",
    "job_delay": "job_delay_s",
    "job_failure_rate": "job_failure_rate",
    "job_expiry": "job_expiry_s",
    "max_running_jobs": "max_running_jobs",
    "max_interval_days": "max_interval_days",
    "requests_per_minute": "requests_per_minute",
    "random_429_rate": "random_429_rate",
    "random_5xx_rate": "random_5xx_rate",
    "data_lag": "data_lag_s",
    "page_size_max": "page_size_max",
    "empty_page_style": "empty_page_style",
    "request_log": "request_log",
    "prewarm": "prewarm",
}


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from genesys_finance.settings import ConfigError
    from genesys_sim.faults import apply_profile
    from genesys_sim.server import SimulatorConfig, start_simulator

    if not args.client_id or not args.client_secret:
        raise ConfigError(
            "the simulator needs --client-id/--client-secret or "
            "GENESYS_CLIENT_ID/GENESYS_CLIENT_SECRET"
        )
    config = SimulatorConfig(
        seed=args.seed,
        start=args.start,
        end=args.end,
        conversations_per_day=args.conversations_per_day,
        now=args.now,
        client_id=args.client_id,
        client_secret=args.client_secret,
    )
    try:
        config = apply_profile(config, args.faults)
    except ValueError as exc:
        raise ConfigError(f"--faults: {exc}") from exc
    # Explicit flags win over the profile.
    explicit: dict[str, Any] = {
        field: getattr(args, flag)
        for flag, field in _OVERRIDES.items()
        if getattr(args, flag) is not None
    }
    config = replace(config, **explicit)

    handle = start_simulator(config, args.host, args.port)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        c = handle.config
        if args.cdr_dir is not None:
            from genesys_sim.carrier import write_cdr_files

            assert c.start is not None and c.end is not None
            files = write_cdr_files(handle.generator, c.start, c.end, args.cdr_dir, seed=c.seed)
            for path in [*files.cdr_paths, files.ground_truth_path]:
                print(f"wrote {path}", flush=True)
        print(
            f"Genesys Cloud simulator on {handle.base_url} "
            f"(seed {c.seed}, {c.start} to {c.end}, faults {args.faults}); Ctrl-C stops it",
            flush=True,
        )
        print(handle.base_url, flush=True)
        stop.wait()
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":  # `python -m genesys_sim.command`, without the full CLI
    _parser = argparse.ArgumentParser(prog="genesys-finance simulator", description=HELP)
    add_arguments(_parser)
    raise SystemExit(run(_parser.parse_args()))
