"""The query layer on a 12-month range: cold and warm, against the naive plan.

    .venv/bin/python bench/bench_query.py --conversations-per-day 30

Naive plan (the seed's): one detail job per month (12), every page downloaded, conversations
merged in memory by id, the answer computed in Python. The query layer: an aggregates query
(daily handle time) and a detail query (sessions per media type), each cold (fresh DuckDB) then
warm (repeated). API calls are counted from the simulator's request log (token included).
Targets (issue #14): the aggregates route uses >= 10x fewer calls than the naive plan; a warm
repeat makes zero job calls and answers in < 2 s on DuckDB (at 1,000,000 conversations).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))

from genesys_finance.api.http import ApiClient  # noqa: E402
from genesys_finance.api.jobs import DetailJobs, JobState  # noqa: E402
from genesys_finance.planner import split_interval  # noqa: E402
from genesys_finance.query.engine import QueryOptions, run_query  # noqa: E402
from genesys_finance.settings import Settings  # noqa: E402
from genesys_sim.requestlog import read_request_log  # noqa: E402
from genesys_sim.server import SimulatorConfig, start_simulator  # noqa: E402

START, END = date(2023, 6, 1), date(2024, 6, 1)
RANGE = "conversation_start >= '2023-06-01' and conversation_start < '2024-06-01'"
AGGREGATE_SQL = (
    "select date_trunc('day', conversation_start) as day, sum(metric_value) as t_handle "
    f"from genesys.session_metrics where {RANGE} and metric_name = 'tHandle' group by 1"
)
DETAIL_SQL = (
    f"select media_type, count(*) as sessions from genesys.sessions where {RANGE} "
    "group by 1 order by 1"
)
JOBS_PATH = "/api/v2/analytics/conversations/details/jobs"


def _calls(log: Path, since: int) -> tuple[int, int]:
    entries = read_request_log(log)[since:]
    jobs = sum(1 for e in entries if e["method"] == "POST" and e["path"] == JOBS_PATH)
    return len(entries), jobs


def naive(settings: Settings) -> Counter[str]:
    """12 monthly jobs, every page, merged in memory; sessions per media type."""
    assert settings.api_url and settings.client_id and settings.client_secret
    client = ApiClient(
        settings.api_url, settings.api_url, settings.client_id, settings.client_secret
    )
    jobs = DetailJobs(client)
    merged: dict[str, dict[str, Any]] = {}
    start = datetime(START.year, START.month, START.day, tzinfo=UTC)
    end = datetime(END.year, END.month, END.day, tzinfo=UTC)
    for chunk in split_interval(start, end):
        job_id = jobs.submit(chunk.start, chunk.end)
        while jobs.status(job_id).state is not JobState.FULFILLED:
            time.sleep(0.2)
        for page in jobs.results(job_id):
            for conversation in page.conversations:
                merged[conversation["conversationId"]] = conversation
    client.close()
    counts: Counter[str] = Counter()
    for conversation in merged.values():
        started = conversation["conversationStart"]
        if not "2023-06-01" <= started < "2024-06-01":
            continue
        for participant in conversation.get("participants") or ():
            for session in participant.get("sessions") or ():
                counts[str(session.get("mediaType"))] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations-per-day", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        work = Path(tmp)
        log = work / "requests.jsonl"
        sim = start_simulator(
            SimulatorConfig(
                seed=11,
                start=START,
                end=END,
                conversations_per_day=args.conversations_per_day,
                now=datetime(2024, 6, 15, tzinfo=UTC),
                job_delay_s=0.5,
                requests_per_minute=0,
                max_running_jobs=12,
                request_log=log,
            ),
            "127.0.0.1",
            0,
        )
        try:
            settings = Settings(
                api_url=sim.base_url,
                login_url=sim.base_url,
                client_id="sim-client",
                client_secret="sim-secret",
                target="duckdb",
                duckdb_path=work / "warehouse.duckdb",
                hmac_key=b"bench-hmac",
            )
            options = QueryOptions(poll_initial_s=0.2, dbt_target_path=str(work / "dbt"))
            rows = []

            mark = len(read_request_log(log))
            t0 = time.monotonic()
            counts = naive(settings)
            rows.append(
                (
                    "naive plan (12 jobs, all pages, in memory)",
                    time.monotonic() - t0,
                    *_calls(log, mark),
                )
            )

            for label, sql in (("aggregates route", AGGREGATE_SQL), ("detail route", DETAIL_SQL)):
                for phase in ("cold", "warm"):
                    mark = len(read_request_log(log))
                    t0 = time.monotonic()
                    result = run_query(settings, sql, options)
                    seconds = time.monotonic() - t0
                    rows.append((f"{label}, {phase} ({result.route})", seconds, *_calls(log, mark)))
                    if label == "detail route":
                        answer = {r["media_type"]: r["sessions"] for r in result.table.to_pylist()}
                        assert answer == dict(counts), (answer, counts)
            conversations = int(
                run_query(
                    settings,
                    f"select count(*) as n from genesys.conversations where {RANGE}",
                    QueryOptions(offline=True),
                ).table.to_pylist()[0]["n"]
            )
        finally:
            sim.stop()
    print(
        f"12 months, {args.conversations_per_day} conversations/day "
        f"({conversations:,} conversations), DuckDB, simulator on loopback"
    )
    print(f"{'plan':<48} {'wall s':>8} {'API calls':>10} {'job calls':>10}")
    for label, seconds, calls, job_calls in rows:
        print(f"{label:<48} {seconds:>8.2f} {calls:>10} {job_calls:>10}")


if __name__ == "__main__":
    main()
