"""The query layer on a 12-month range: cold and warm, against the naive plan.

    .venv/bin/python bench/bench_query.py --conversations-per-day 30
    flock /tmp/genesys-bench.lock .venv/bin/python bench/bench_query.py \
        --conversations-per-day 2740 --warm-repeats 3          # ~1,000,000 conversations

Naive plan (the seed's): one detail job per month (12), every page downloaded, conversations
merged in memory by id, the answer computed in Python (only what the answer needs is kept per
conversation, so the plan fits in memory at 1M). The query layer: a detail query (sessions per
media type) first, cold (fresh DuckDB: 12 jobs, masking, dlt, dbt) then warm; then, on the
warehouse that first query loaded, more detail queries (participants x sessions, a queue filter
pushed down) and the aggregates route, each run once then repeated. API calls and job
submissions are counted from the simulator's request log (token included); the 1-minute load
average is printed beside each figure (the machine is shared).

The simulator runs in its own process (a spawned child) so that generating and serving pages
does not share the GIL with the extractor, and its day cache is sized to hold the whole year.

`--warm-only WAREHOUSE` repeats the queries on a warehouse kept by `--keep` (no simulator: the
API URL points at a closed port, so any call would fail the run).

Targets (issue #14): the aggregates route uses >= 10x fewer calls than the naive plan; a warm
repeat of any query makes zero job calls and answers in < 2 s on DuckDB at 1,000,000
conversations.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
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
JOIN_SQL = (
    "select p.purpose, s.media_type, count(*) as sessions "
    "from genesys.participants p join genesys.sessions s "
    "on s.conversation_id = p.conversation_id and s.participant_id = p.participant_id "
    f"where p.{RANGE.replace('and conversation_start', 'and p.conversation_start')} "
    "group by 1, 2 order by 1, 2"
)
QUEUE_SQL = (
    "select segment_type, count(distinct conversation_id) as conversations, count(*) as segments "
    f"from genesys.segments where {RANGE} and queue_id = '{{queue}}' group by 1 order by 1"
)
JOBS_PATH = "/api/v2/analytics/conversations/details/jobs"
YEAR_CACHE_BYTES = 8 << 30
"""The simulator's day cache: a year at 2,740/day is ~5.5 GB of serialized payloads."""


def _serve(config: Any, ready: Any, stop: Any) -> None:
    """Child process: run the simulator until told to stop."""
    from genesys_sim.server import start_simulator

    handle = start_simulator(config, "127.0.0.1", 0)
    ready.put(handle.base_url)
    stop.wait()
    handle.stop()


def _calls(log: Path, since: int) -> tuple[int, int]:
    entries = read_request_log(log)[since:]
    jobs = sum(1 for e in entries if e["method"] == "POST" and e["path"] == JOBS_PATH)
    return len(entries), jobs


def _load1() -> float:
    return round(os.getloadavg()[0], 2)


def naive(settings: Settings) -> Counter[str]:
    """12 monthly jobs, every page, merged in memory by id; sessions per media type."""
    assert settings.api_url and settings.client_id and settings.client_secret
    client = ApiClient(
        settings.api_url, settings.api_url, settings.client_id, settings.client_secret
    )
    jobs = DetailJobs(client)
    # id -> (start, media type of each session): a conversation seen in two jobs (it overlaps
    # both months) is kept once.
    merged: dict[str, tuple[str, tuple[str, ...]]] = {}
    start = datetime(START.year, START.month, START.day, tzinfo=UTC)
    end = datetime(END.year, END.month, END.day, tzinfo=UTC)
    for chunk in split_interval(start, end):
        job_id = jobs.submit(chunk.start, chunk.end)
        while jobs.status(job_id).state is not JobState.FULFILLED:
            time.sleep(0.2)
        for page in jobs.results(job_id):
            for conversation in page.conversations:
                merged[conversation["conversationId"]] = (
                    conversation["conversationStart"],
                    tuple(
                        str(session.get("mediaType"))
                        for participant in conversation.get("participants") or ()
                        for session in participant.get("sessions") or ()
                    ),
                )
    client.close()
    counts: Counter[str] = Counter()
    for started, media_types in merged.values():
        if "2023-06-01" <= started < "2024-06-01":
            counts.update(media_types)
    return counts


@dataclass
class Row:
    label: str
    seconds: float
    calls: int
    job_calls: int
    route: str
    load: tuple[float, float]


def _timed(
    settings: Settings, sql: str, options: QueryOptions, log: Path, label: str
) -> tuple[Row, Any]:
    mark = len(read_request_log(log))
    before = _load1()
    t0 = time.monotonic()
    result = run_query(settings, sql, options)
    seconds = time.monotonic() - t0
    calls, job_calls = _calls(log, mark)
    row = Row(label, seconds, calls, job_calls, result.route, (before, _load1()))
    print(f"  {label}: {seconds:.2f} s, {calls} calls, {job_calls} jobs", flush=True)
    return row, result


def warm_only(path: Path, repeats: int) -> None:
    """Every query of the benchmark, repeated on a loaded warehouse, with no API reachable."""
    settings = Settings(
        api_url="http://127.0.0.1:9",
        login_url="http://127.0.0.1:9",
        client_id="none",
        client_secret="none",
        target="duckdb",
        duckdb_path=path,
        hmac_key=b"bench-hmac",
    )
    offline = QueryOptions(offline=True)
    queue = run_query(
        settings,
        f"select queue_id, count(*) as n from genesys.segments where {RANGE} "
        "and queue_id is not null group by 1 order by 2 desc, 1 limit 1",
        offline,
    ).table.to_pylist()[0]["queue_id"]
    print(
        f"{'query':<40} {'route':>7} {'wall s (each run)':<30} {'CPU s (each run)':<30} "
        f"{'calls':>5} {'load1':>10}"
    )
    for label, sql in (
        ("sessions per media", DETAIL_SQL),
        ("participants x sessions", JOIN_SQL),
        ("segments of one queue (pushed filter)", QUEUE_SQL.format(queue=queue)),
        ("daily tHandle (aggregable)", AGGREGATE_SQL),
    ):
        before = _load1()
        results = []
        cpu: list[float] = []
        for _ in range(repeats):
            t0, c0 = time.monotonic(), _cpu()
            result = run_query(settings, sql, QueryOptions())
            results.append((time.monotonic() - t0, result))
            cpu.append(_cpu() - c0)
        seconds = " ".join(f"{s:.2f}" for s, _ in results)
        cpu_s = " ".join(f"{c:.2f}" for c in cpu)
        calls = sum(r.api_requests for _, r in results)
        route = results[-1][1].route
        print(
            f"{label:<40} {route:>7} {seconds:<30} {cpu_s:<30} {calls:>5} {before:>4}-{_load1():<4}"
        )


def _cpu() -> float:
    """CPU seconds of this process (DuckDB's threads included): steadier than wall time on a
    shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations-per-day", type=int, default=30)
    parser.add_argument("--warm-repeats", type=int, default=1, help="warm runs per query")
    parser.add_argument("--skip-naive", action="store_true", help="do not run the naive plan")
    parser.add_argument(
        "--keep", type=Path, help="copy the loaded warehouse here (EXPLAIN ANALYZE afterwards)"
    )
    parser.add_argument(
        "--warm-only", type=Path, metavar="WAREHOUSE", help="only the warm repeats, on this file"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "bench_query.jsonl")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.warm_only:
        warm_only(args.warm_only, args.warm_repeats)
        return
    from genesys_sim.config import SimulatorConfig

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        work = Path(tmp)
        log = work / "requests.jsonl"
        config = SimulatorConfig(
            seed=11,
            start=START,
            end=END,
            conversations_per_day=args.conversations_per_day,
            now=datetime(2024, 6, 15, tzinfo=UTC),
            job_delay_s=0.5,
            requests_per_minute=0,
            max_running_jobs=12,
            request_log=log,
            cache_max_bytes=YEAR_CACHE_BYTES,
        )
        ctx = mp.get_context("spawn")
        ready, stop = ctx.Queue(), ctx.Event()
        child = ctx.Process(target=_serve, args=(config, ready, stop), name="bench-simulator")
        child.start()
        try:
            base_url = ready.get(timeout=120)
            settings = Settings(
                api_url=base_url,
                login_url=base_url,
                client_id="sim-client",
                client_secret="sim-secret",
                target="duckdb",
                duckdb_path=work / "warehouse.duckdb",
                hmac_key=b"bench-hmac",
            )
            options = QueryOptions(poll_initial_s=0.2, dbt_target_path=str(work / "dbt"))

            counts: Counter[str] | None = None
            if not args.skip_naive:
                mark, before, t0 = len(read_request_log(log)), _load1(), time.monotonic()
                counts = naive(settings)
                seconds = time.monotonic() - t0
                rows.append(
                    Row(
                        "naive plan (12 jobs, all pages, in memory)",
                        seconds,
                        *_calls(log, mark),
                        "naive",
                        (before, _load1()),
                    )
                )
                print(f"  naive: {seconds:.2f} s", flush=True)

            # The detail query cold loads the whole year; every later query reads that load.
            row, result = _timed(settings, DETAIL_SQL, options, log, "sessions per media, cold")
            rows.append(row)
            answer = {r["media_type"]: r["sessions"] for r in result.table.to_pylist()}
            if counts is not None:
                assert answer == dict(counts), (answer, counts)
            queue = run_query(
                settings,
                f"select queue_id, count(*) as n from genesys.segments where {RANGE} "
                "and queue_id is not null group by 1 order by 2 desc, 1 limit 1",
                QueryOptions(offline=True),
            ).table.to_pylist()[0]["queue_id"]
            queries = (
                ("sessions per media", DETAIL_SQL, False),
                ("participants x sessions", JOIN_SQL, True),
                ("segments of one queue (pushed filter)", QUEUE_SQL.format(queue=queue), True),
                ("aggregates: daily tHandle", AGGREGATE_SQL, True),
            )
            for label, sql, first_run in queries:
                if first_run:
                    row, _ = _timed(settings, sql, options, log, f"{label}, first")
                    rows.append(row)
                for i in range(args.warm_repeats):
                    row, _ = _timed(settings, sql, options, log, f"{label}, warm {i + 1}")
                    rows.append(row)
            conversations = int(
                run_query(
                    settings,
                    f"select count(*) as n from genesys.conversations where {RANGE}",
                    QueryOptions(offline=True),
                ).table.to_pylist()[0]["n"]
            )
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(work / "warehouse.duckdb", args.keep / "warehouse.duckdb")
        finally:
            stop.set()
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
    print(
        f"12 months, {args.conversations_per_day} conversations/day "
        f"({conversations:,} conversations), DuckDB, simulator on loopback (own process)"
    )
    print(f"{'plan':<52} {'route':>10} {'wall s':>8} {'API calls':>10} {'jobs':>5} {'load1':>12}")
    for r in rows:
        load = f"{r.load[0]:.1f}-{r.load[1]:.1f}"
        print(
            f"{r.label:<52} {r.route:>10} {r.seconds:>8.2f} {r.calls:>10} {r.job_calls:>5} "
            f"{load:>12}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as fh:
        record = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "conversations": conversations,
            "per_day": args.conversations_per_day,
            "rows": [r.__dict__ for r in rows],
        }
        fh.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
