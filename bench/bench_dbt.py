"""Benchmark the dbt flattening layer: full build and incremental run, DuckDB and Postgres.

    .venv/bin/python bench/bench_dbt.py --conversations 100000 --targets duckdb postgres
    .venv/bin/python bench/bench_dbt.py --conversations 1000000

For each target: land N simulator conversations (masked) in a fresh warehouse, time
`dbt run --full-refresh` (the models) and `dbt build` (models + data and unit tests), then land
one more day of data and time an incremental `dbt run`. Targets: incremental <= 5% of full; a 1M
full build <= 10 min on Postgres and <= 3 min on DuckDB. Results are printed and appended to
`bench/out/bench_dbt.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
sys.path.insert(0, str(ROOT / "extract"))

import raw_loader  # noqa: E402
from genesys_finance.dbt_runner import run_dbt  # noqa: E402
from genesys_finance.settings import PostgresSettings, Settings  # noqa: E402
from genesys_finance.simulator.generator import ConversationGenerator  # noqa: E402

SEED = 11
START = date(2024, 1, 1)
FLAT_MODELS = "stg_genesys__conversations+"


def _days(per_day: int, total: int) -> int:
    return max(1, -(-total // per_day))


def _batches(
    gen: ConversationGenerator, first: date, days: int, chunk: int
) -> Iterator[tuple[date, list[dict[str, Any]]]]:
    pending: list[dict[str, Any]] = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        pending.extend(gen.conversations_for_day(day))
        if len(pending) >= chunk:
            yield day, pending
            pending = []
    if pending:
        yield first + timedelta(days=days - 1), pending


def _load(
    settings: Settings,
    gen: ConversationGenerator,
    first: date,
    days: int,
    limit: int,
    extracted_at: datetime,
) -> int:
    loaded = 0
    for _, batch in _batches(gen, first, days, 20_000):
        batch = batch[: max(0, limit - loaded)]
        if not batch:
            break
        loaded += raw_loader.load_conversations(settings, batch, extracted_at=extracted_at)
        print(f"  loaded {loaded:,}", end="\r", flush=True)
    print()
    return loaded


def _settings(target: str, workdir: Path) -> tuple[Settings, str | None]:
    if target == "duckdb":
        return Settings(
            target="duckdb",
            duckdb_path=workdir / "bench.duckdb",
            hmac_key=b"bench-key-not-a-secret",
        ), None
    import psycopg2

    name = f"gf_bench_{uuid.uuid4().hex[:8]}"
    admin = PostgresSettings.from_env(dict(__import__("os").environ))
    conn = psycopg2.connect(admin.dsn())
    conn.autocommit = True
    conn.cursor().execute(f'create database "{name}"')
    conn.close()
    pg = PostgresSettings(
        host=admin.host, port=admin.port, user=admin.user, password=admin.password, database=name
    )
    return Settings(target="postgres", postgres=pg, hmac_key=b"bench-key-not-a-secret"), name


def _drop_pg(name: str) -> None:
    import os

    import psycopg2

    conn = psycopg2.connect(PostgresSettings.from_env(dict(os.environ)).dsn())
    conn.autocommit = True
    conn.cursor().execute(f'drop database if exists "{name}" with (force)')
    conn.close()


def bench_target(target: str, conversations: int, per_day: int, keep: bool) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench_dbt_{target}_"))
    settings, pg_name = _settings(target, workdir)
    gen = ConversationGenerator(
        SEED, START, START + timedelta(days=3660), per_day, now=datetime(2035, 1, 1, tzinfo=UTC)
    )
    days = _days(per_day, conversations) + 1
    result: dict[str, Any] = {"target": target, "conversations": conversations}
    try:
        t0 = time.monotonic()
        first = datetime(2025, 1, 1, tzinfo=UTC)
        result["loaded"] = _load(settings, gen, START, days, conversations, first)
        result["load_s"] = round(time.monotonic() - t0, 1)
        tp = workdir / "target"
        run_dbt(settings, ["parse"], target_path=tp)
        full = run_dbt(settings, ["run", "--full-refresh"], target_path=tp)
        result["full_run_s"] = round(full.seconds, 1)
        build = run_dbt(settings, ["build"], target_path=tp)
        result["build_tests_s"] = round(build.seconds, 1)  # incremental no-op + every test
        # one more day of data, extracted later
        extra_day = START + timedelta(days=days)
        extra = gen.conversations_for_day(extra_day)
        raw_loader.load_conversations(settings, extra, extracted_at=first + timedelta(days=1))
        result["incremental_conversations"] = len(extra)
        inc = run_dbt(settings, ["run"], target_path=tp)
        result["incremental_run_s"] = round(inc.seconds, 1)
        noop = run_dbt(settings, ["parse"], target_path=tp)
        result["dbt_startup_s"] = round(noop.seconds, 1)
        result["incremental_pct_of_full"] = round(100 * inc.seconds / full.seconds, 1)
    finally:
        if pg_name and not keep:
            _drop_pg(pg_name)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, nargs="+", default=[100_000])
    parser.add_argument(
        "--targets", nargs="+", default=["duckdb", "postgres"], choices=["duckdb", "postgres"]
    )
    parser.add_argument("--per-day", type=int, default=5_000)
    parser.add_argument("--keep", action="store_true", help="keep the Postgres database")
    args = parser.parse_args(argv)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    for n in args.conversations:
        for target in args.targets:
            print(f"== {target}: {n:,} conversations")
            result = bench_target(target, n, args.per_day, args.keep)
            result["at"] = datetime.now(UTC).isoformat(timespec="seconds")
            print(json.dumps(result, indent=2))
            with (out / "bench_dbt.jsonl").open("a") as fh:
                fh.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
