"""Extraction throughput and memory: this extractor vs plain dlt vs a bare Postgres COPY.

    .venv/bin/python bench/bench_extract.py                      # 100,000 conversations
    .venv/bin/python bench/bench_extract.py --conversations 1000000 --variants extractor-postgres

The simulator runs in its own process. Step 0 fetches the (masked) payloads once into a JSONL
file; "plain dlt" and "COPY" load that file, so they pay no API time while the extractor is
measured end to end (jobs, paging, masking, Arrow, dlt load): the comparison favours them.
Each variant runs in a fresh child process (peak RSS is that child's) and a fresh database.
Targets: >= 5,000 conv/s landed, >= 4x plain dlt, >= half the COPY ceiling, peak RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from peak_memory import peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / ".venv" / "bin" / "genesys-finance"
START = date(2024, 1, 1)
CLIENT_ID, CLIENT_SECRET, HMAC_KEY = "bench-client", "bench-secret", "bench-hmac-key"
VARIANTS = (
    "extractor-noload",
    "extractor-postgres",
    "extractor-duckdb",
    "plain-dlt-postgres",
    "copy-postgres",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_admin() -> Any:
    import psycopg2

    conn = psycopg2.connect(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=int(os.environ.get("PGPORT", "5432")),
        user=os.environ.get("PGUSER", "postgres"),
        password=os.environ.get("PGPASSWORD", "postgres"),
        dbname=os.environ.get("PGDATABASE", "postgres"),
    )
    conn.autocommit = True
    return conn


def settings_for(target: str, base_url: str, database: str, workdir: Path) -> Any:
    from genesys_finance.settings import PostgresSettings, Settings

    pg = PostgresSettings.from_env(dict(os.environ))
    return Settings(
        api_url=base_url,
        login_url=base_url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        target=target,
        duckdb_path=workdir / f"{database}.duckdb",
        hmac_key=HMAC_KEY.encode(),
        postgres=PostgresSettings(pg.host, pg.port, pg.user, pg.password, database),
    )


# ------------------------------------------------------------------------------ variants


def run_extractor(args: argparse.Namespace, target: str) -> dict[str, Any]:
    from genesys_finance.runner import ExtractOptions, run_extract

    settings = settings_for(target, args.base_url, args.database, Path(args.workdir))
    options: dict[str, Any] = {"requests_per_minute": 0}
    if args.commit_every:
        options["commit_every"] = args.commit_every
    started = time.perf_counter()
    summary = run_extract(
        settings,
        START,
        START + timedelta(days=args.days),
        ExtractOptions(poll_initial_s=0.2, quiet=True, skip_dimensions=True, **options),
    )
    return {"seconds": time.perf_counter() - started, "rows": summary.conversations}


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    import orjson

    with path.open("rb") as handle:
        for line in handle:
            yield orjson.loads(line)


def run_plain_dlt(args: argparse.Namespace) -> dict[str, Any]:
    import dlt

    settings = settings_for("postgres", args.base_url, args.database, Path(args.workdir))
    pg = settings.postgres
    pipeline = dlt.pipeline(
        pipeline_name="bench_plain_dlt",
        destination=dlt.destinations.postgres(
            f"postgresql://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{pg.database}"
        ),
        dataset_name="bench_plain",
        pipelines_dir=tempfile.mkdtemp(prefix="bench-dlt-"),
    )
    started = time.perf_counter()
    pipeline.run(
        dlt.resource(
            iter_jsonl(Path(args.jsonl)),
            name="conversations",
            write_disposition="merge",
            primary_key="conversationId",
        )
    )
    return {"seconds": time.perf_counter() - started, "rows": sum(1 for _ in open(args.jsonl))}


class _CsvStream:
    """A file-like CSV view of the JSONL payloads for `copy_expert` (streamed, never in memory)."""

    def __init__(self, path: Path) -> None:
        self._lines = iter_jsonl(path)
        self._buffer = b""
        self.rows = 0

    def read(self, size: int = 65536) -> bytes:
        import orjson

        while len(self._buffer) < size:
            conv = next(self._lines, None)
            if conv is None:
                break
            payload = orjson.dumps(conv).replace(b'"', b'""')
            end = conv.get("conversationEnd") or ""
            self._buffer += (
                f'{conv["conversationId"]},{conv["conversationStart"]},{end},"'.encode()
                + payload
                + b'"\n'
            )
            self.rows += 1
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    readline = read


def run_copy(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg2

    from genesys_finance.warehouse import PostgresWarehouse

    settings = settings_for("postgres", args.base_url, args.database, Path(args.workdir))
    warehouse = PostgresWarehouse(settings)
    with warehouse.connect() as probe:
        options = warehouse.payload_options(probe)
    # The same session options as the extractor's loads (lz4 TOAST compression where the
    # server has it), so the ceiling is a bare COPY done as well as the extractor does it.
    conn = psycopg2.connect(settings.postgres.dsn(), options=options)
    cur = conn.cursor()
    cur.execute(
        "create table conversations (conversation_id text primary key, "
        "conversation_start timestamptz, conversation_end timestamptz, payload jsonb)"
    )
    stream = _CsvStream(Path(args.jsonl))
    started = time.perf_counter()
    cur.copy_expert("copy conversations from stdin with (format csv)", stream)
    conn.commit()
    return {"seconds": time.perf_counter() - started, "rows": stream.rows}


def run_extractor_noload(args: argparse.Namespace) -> dict[str, Any]:
    """The extractor with the warehouse load replaced by a sink: jobs, paging, JSON parse,
    masking, payload serialization and Arrow tables, i.e. the upper bound of any load path."""
    from genesys_finance import loading

    def sink(self: Any, resources: Any) -> None:
        for _ in resources:  # evaluates the resource: every page file is produced
            pass

    setattr(loading.Loader, "run", sink)  # noqa: B010
    return run_extractor(args, "duckdb")


def run_serve(args: argparse.Namespace) -> None:
    """The simulator, in this (child) process, prewarming its cache until killed."""
    from genesys_sim.config import SimulatorConfig
    from genesys_sim.server import start_simulator

    end = START + timedelta(days=args.days)
    config = SimulatorConfig(
        seed=11,
        start=START,
        end=end,
        conversations_per_day=args.per_day,
        now=datetime.combine(end + timedelta(days=3), datetime.min.time(), tzinfo=UTC),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        job_delay_s=1.0,
        requests_per_minute=0,
        cache_max_bytes=int(args.cache_gb * (1 << 30)),
        prewarm=True,
    )
    handle = start_simulator(config, host="127.0.0.1", port=args.port)
    try:
        while True:
            time.sleep(3600)
    finally:
        handle.stop()


def run_variant(args: argparse.Namespace) -> None:
    if args.variant == "extractor-postgres":
        result = run_extractor(args, "postgres")
    elif args.variant == "extractor-duckdb":
        result = run_extractor(args, "duckdb")
    elif args.variant == "extractor-noload":
        result = run_extractor_noload(args)
    elif args.variant == "plain-dlt-postgres":
        result = run_plain_dlt(args)
    else:
        result = run_copy(args)
    result["peak_rss_mb"] = peak_rss_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------ driver


def fetch_payloads(base_url: str, days: int, path: Path | None) -> tuple[int, float]:
    """Every conversation of the range, masked, into JSONL (one job per month, in order).

    With `path` None nothing is written: a sequential fetch + parse + mask measurement."""
    import orjson

    from genesys_finance.api import ApiClient
    from genesys_finance.api.jobs import DetailJobs, JobState
    from genesys_finance.masking import Masker
    from genesys_finance.planner import day_start, split_interval

    masker = Masker.from_settings(settings_for("duckdb", base_url, "x", Path("/tmp")), env={})
    jobs = DetailJobs(
        ApiClient(base_url, base_url, CLIENT_ID, CLIENT_SECRET, requests_per_minute=0)
    )
    seen: set[str] = set()
    started = time.perf_counter()
    with ExitStack() as stack:
        out = stack.enter_context(path.open("wb")) if path else None
        for chunk in split_interval(day_start(START), day_start(START + timedelta(days=days))):
            job_id = jobs.submit(chunk.start, chunk.end)
            while jobs.status(job_id).state is not JobState.FULFILLED:
                time.sleep(0.2)
            for page in jobs.results(job_id):
                for conv in page.conversations:
                    if conv["conversationId"] not in seen:  # overlap duplicates: keep one
                        seen.add(conv["conversationId"])
                        masked = orjson.dumps(masker.mask_conversation(conv))
                        if out is not None:
                            out.write(masked + b"\n")
    return len(seen), time.perf_counter() - started


def child_command(
    args: argparse.Namespace, variant: str, base_url: str, database: str, workdir: Path, jsonl: Path
) -> list[str]:
    return [sys.executable, __file__, "--variant", variant, "--base-url", base_url,
            "--database", database, "--workdir", str(workdir), "--jsonl", str(jsonl),
            "--days", str(args.days)] + (
        ["--commit-every", str(args.commit_every)] if args.commit_every else []
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=120, help="simulated days (months = jobs)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--commit-every", type=int, default=None, help="extractor option")
    parser.add_argument("--cache-gb", type=float, default=12.0, help="simulator cache")
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant (best is kept)")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--per-day", type=int, help=argparse.SUPPRESS)
    for hidden in ("--base-url", "--database", "--workdir", "--jsonl"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_serve(args)
        return 0
    if args.variant:
        run_variant(args)
        return 0

    per_day = max(1, round(args.conversations / args.days))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-extract-"))
    env = {**os.environ, "GENESYS_FINANCE_HMAC_KEY": HMAC_KEY}
    # The simulator runs in its own process with a cache big enough for the whole range
    # (the CLI's default 1 GB would evict days past ~200k conversations and the timed passes
    # would measure the generator, ~2-5k conv/s, instead of the extractor).
    simulator = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--port", str(port), "--days", str(args.days),
         "--per-day", str(per_day), "--cache-gb", str(args.cache_gb)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        jsonl = workdir / "payloads.jsonl"
        # Untimed warm-up: generates every day into the simulator's cache (and the JSONL that
        # plain dlt and COPY load). Then a timed sequential pass against the warm cache.
        count, warm_s = fetch_payloads(base_url, args.days, jsonl)
        print(
            f"{count:,} distinct conversations over {args.days} days ({per_day}/day); "
            f"warm-up (simulator generating) {warm_s:.1f} s ({count / warm_s:,.0f} conv/s)",
            flush=True,
        )
        _, fetch_s = fetch_payloads(base_url, args.days, None)
        print(
            f"warm cache, one thread, fetch + parse + mask + dumps: {fetch_s:.1f} s "
            f"({count / fetch_s:,.0f} conv/s)",
            flush=True,
        )
        results: dict[str, dict[str, Any]] = {}
        admin = pg_admin()
        for variant in args.variants.split(","):
            for _ in range(args.repeat):
                result = run_child(args, variant, admin, base_url, workdir, jsonl, env)
                if result is None:
                    continue
                result["rate"] = count / result["seconds"]
                if variant not in results or result["rate"] > results[variant]["rate"]:
                    results[variant] = result
                print(
                    f"{variant:>20}: {result['seconds']:7.1f} s  {result['rate']:>9,.0f} conv/s  "
                    f"peak RSS {result['peak_rss_mb']:6.0f} MB  (rows {result['rows']:,})",
                    flush=True,
                )
        report(results)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    return 0


def run_child(
    args: argparse.Namespace,
    variant: str,
    admin: Any,
    base_url: str,
    workdir: Path,
    jsonl: Path,
    env: dict[str, str],
) -> dict[str, Any] | None:
    """One variant in a fresh child process and a fresh database; its peak RSS is its own."""
    database = f"bench_{variant.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
    if variant.endswith("postgres"):
        admin.cursor().execute(f'create database "{database}"')
    try:
        child = subprocess.run(
            child_command(args, variant, base_url, database, workdir, jsonl),
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
    finally:
        if variant.endswith("postgres"):
            admin.cursor().execute(f'drop database if exists "{database}" with (force)')
        for leftover in workdir.glob(f"{database}.duckdb*"):
            leftover.unlink()
    line = next((x for x in child.stdout.splitlines() if x.startswith("RESULT ")), None)
    if child.returncode != 0 or line is None:
        print(f"{variant}: FAILED\n{child.stderr[-3000:]}", flush=True)
        return None
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


def report(results: dict[str, dict[str, Any]]) -> None:
    ours = results.get("extractor-postgres")
    if not ours:
        return
    rate = ours["rate"]
    lines = [f"extractor (postgres) {rate:,.0f} conv/s (target >= 5,000)"]
    if "plain-dlt-postgres" in results:
        lines.append(
            f"{rate / results['plain-dlt-postgres']['rate']:.1f}x plain dlt (target >= 4x)"
        )
    if "copy-postgres" in results:
        lines.append(f"{rate / results['copy-postgres']['rate']:.0%} of COPY (target >= 50%)")
    lines.append(f"peak RSS {ours['peak_rss_mb']:.0f} MB (target < 300 MB)")
    print("; ".join(lines), f"[{datetime.now(UTC):%Y-%m-%d %H:%M} UTC]")


if __name__ == "__main__":
    sys.exit(main())
