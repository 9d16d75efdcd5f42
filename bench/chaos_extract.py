"""Chaos run: kill -9 the extractor at random points, restart it, and compare with a clean run.

    .venv/bin/python bench/chaos_extract.py --kills 20 --conversations-per-day 5 [--target postgres]

The simulator runs in this process (with a request log); `genesys-finance extract` runs as a
child process into a DuckDB file (or a new Postgres database, `PG*` variables, dropped at the
end) and is killed with SIGKILL after a random delay, then started again, `--kills` times; a
last run goes to completion. A clean run (no kills) into another file or database is the
reference. Reported: rows equal to the clean run (same ids, same payloads), duplicate
rows, and valid jobs submitted twice (an interval's accepted submissions beyond the first that
the ledger does not mark failed or expired). The phase of each kill is read from the request
log: the last request before the kill (submitting, polling, downloading), or none for 0.5 s
(loading or planning).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from genesys_finance.settings import PostgresSettings, Settings
from genesys_finance.warehouse import query
from genesys_sim.requestlog import read_request_log
from genesys_sim.server import SimulatorConfig, start_simulator

JOBS_PATH = "/api/v2/analytics/conversations/details/jobs"
CLI = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "genesys-finance"


def env_for(base_url: str, target: str, duckdb_path: Path, database: str) -> dict[str, str]:
    """The extractor's environment: one warehouse (a DuckDB file or a Postgres database)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYS_", "PGDATABASE"))}
    return {
        **keep,
        "GENESYS_API_URL": base_url,
        "GENESYS_LOGIN_URL": base_url,
        "GENESYS_CLIENT_ID": "sim-client",
        "GENESYS_CLIENT_SECRET": "sim-secret",
        "GENESYS_FINANCE_TARGET": target,
        "GENESYS_FINANCE_DUCKDB": str(duckdb_path),
        "GENESYS_FINANCE_HMAC_KEY": "chaos-hmac-key",
        "PGDATABASE": database,
    }


@contextmanager
def postgres_databases(names: list[str]) -> Iterator[None]:
    """New, empty Postgres databases (the `PG*` variables' server), dropped afterwards."""
    import psycopg2

    admin = PostgresSettings.from_env(dict(os.environ))
    conn = psycopg2.connect(admin.dsn())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for name in names:
                cur.execute(f'create database "{name}"')
        yield
    finally:
        with conn.cursor() as cur:
            for name in names:
                cur.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s",
                    (name,),
                )
                cur.execute(f'drop database if exists "{name}"')
        conn.close()


def extract_command(start: date, end: date) -> list[str]:
    return [
        str(CLI),
        "extract",
        "--start", start.isoformat(),
        "--end", end.isoformat(),
        "--quiet",
        "--skip-dimensions",
        "--poll-interval", "0.1",
        "--lock-wait", "30",
    ]  # fmt: skip


def phase_at(log_path: Path, killed_at: float) -> str:
    entries = read_request_log(log_path)
    if not entries:
        return "starting"
    last = entries[-1]
    # The simulator's clock is the wall clock plus its `now` offset: compare by order only,
    # and use the log file's modification time for "quiet for a while".
    if killed_at - log_path.stat().st_mtime > 0.5:
        return "loading"
    path = str(last["path"])
    if last["method"] == "POST" and path == JOBS_PATH:
        return "submitting"
    if path.endswith("/results"):
        return "downloading"
    if path.startswith(JOBS_PATH + "/"):
        return "polling"
    return "other"


def rows(settings: Settings) -> list[tuple[str, Any]]:
    """(conversation id, payload as parsed JSON): key order is not part of the data."""
    sql = "select conversation_id, cast(payload as text) from genesys_raw.conversations"
    return [(str(i), json.loads(p)) for i, p in query(settings, sql)]


def ledger_states(settings: Settings) -> dict[str, str]:
    sql = "select job_id, state from genesys_raw.extract_jobs"
    return {str(j): str(s) for j, s in query(settings, sql)}


def duplicate_valid_submissions(log: list[dict[str, Any]], states: dict[str, str]) -> int:
    by_interval: dict[str, list[str]] = defaultdict(list)
    for e in log:
        if e["method"] == "POST" and e["path"] == JOBS_PATH and e["status"] == 202:
            by_interval[str(e["interval"])].append(str(e["jobId"]))
    duplicates = 0
    for jobs in by_interval.values():
        invalidated = sum(1 for j in jobs if states.get(j) in ("failed", "expired"))
        duplicates += max(0, len(jobs) - 1 - invalidated)
    return duplicates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--conversations-per-day", type=int, default=5)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2025, 1, 1))
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--target", choices=("duckdb", "postgres"), default="duckdb")
    parser.add_argument(
        "--max-delay",
        type=float,
        default=3.0,
        help="longest wait before a kill, s (a restart resumes, so it is shorter than a run)",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)

    suffix = uuid.uuid4().hex[:10]
    databases = [f"gf_chaos_clean_{suffix}", f"gf_chaos_{suffix}"]
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        if args.target == "postgres":
            with postgres_databases(databases):
                return chaos(args, rng, Path(tmp), databases)
        return chaos(args, rng, Path(tmp), databases)


def chaos(args: argparse.Namespace, rng: random.Random, work: Path, databases: list[str]) -> int:
    log_path = work / "requests.jsonl"
    sim = start_simulator(
        SimulatorConfig(
            seed=args.seed,
            start=args.start - timedelta(days=7),
            end=args.end,
            conversations_per_day=args.conversations_per_day,
            now=datetime.combine(args.end, datetime.min.time(), UTC) + timedelta(days=10),
            job_delay_s=0.3,
            client_id="sim-client",
            client_secret="sim-secret",
            request_log=log_path,
        )
    )
    try:
        command = extract_command(args.start, args.end)
        clean_env, env = (
            env_for(sim.base_url, args.target, work / f"{name}.duckdb", name) for name in databases
        )
        clean_db, chaos_db = Settings.from_env(clean_env), Settings.from_env(env)
        began = time.monotonic()
        subprocess.run(command, env=clean_env, check=True)
        clean_s = time.monotonic() - began
        clean_log_len = len(read_request_log(log_path))

        phases: Counter[str] = Counter()
        # Kill until `--kills` kills landed; a restart that finishes first ends the chaos
        # (re-running a finished explicit range re-extracts it by design: not a resume).
        finished = False
        while sum(phases.values()) < args.kills:
            output = work / f"run-{sum(phases.values())}.log"
            with output.open("w") as sink:
                child = subprocess.Popen(command, env=env, stdout=sink, stderr=sink)
                time.sleep(rng.uniform(0.5, min(args.max_delay, clean_s * 0.9)))
                phase = phase_at(log_path, time.time())
                os.kill(child.pid, signal.SIGKILL)
                child.wait()
            # Its summary line written: the run had finished (only exiting was left).
            if "extracted " in output.read_text():
                finished = True
                break
            phases[phase] += 1
        began = time.monotonic()
        if not finished:
            subprocess.run(command, env=env, check=True)
        last_s = time.monotonic() - began

        clean, killed = rows(clean_db), rows(chaos_db)
        chaos_log = read_request_log(log_path)[clean_log_len:]
        ids = Counter(i for i, _ in killed)
        report = {
            "target": args.target,
            "range": f"{args.start} .. {args.end}",
            "conversations_per_day": args.conversations_per_day,
            "clean_rows": len(clean),
            "chaos_rows": len(killed),
            "same_rows_as_clean": dict(clean) == dict(killed) and len(killed) == len(ids),
            "duplicate_rows": sum(n - 1 for n in ids.values() if n > 1),
            "valid_jobs_submitted_twice": duplicate_valid_submissions(
                chaos_log, ledger_states(chaos_db)
            ),
            "kills": sum(phases.values()),
            "kills_by_phase": dict(phases),
            "clean_run_s": round(clean_s, 1),
            "final_run_s": round(last_s, 1),
        }
        for key, value in report.items():
            print(f"{key}: {value}")
        ok = (
            report["same_rows_as_clean"]
            and not report["duplicate_rows"]
            and not report["valid_jobs_submitted_twice"]
        )
        return 0 if ok else 1
    finally:
        sim.stop()


if __name__ == "__main__":
    sys.exit(main())
