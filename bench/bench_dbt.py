"""Benchmark the dbt flattening layer: full build and incremental run, DuckDB and Postgres.

    .venv/bin/python bench/bench_dbt.py --conversations 100000 --targets duckdb postgres
    .venv/bin/python bench/bench_dbt.py --conversations 1000000
    .venv/bin/python bench/bench_dbt.py --conversations 1000000 --reuse   # keep/reuse the raw load

For each target: land N simulator conversations (masked) in a fresh warehouse, time
`dbt run --full-refresh` (the models) and `dbt build` (models + data and unit tests), then land
one more day of data and time an incremental `dbt run`. Targets: incremental <= 5% of full; a 1M
full build <= 10 min on Postgres and <= 3 min on DuckDB. Results are printed and appended to
`bench/out/bench_dbt.jsonl`, with the 1-minute load average around each timed run (the machine
may be shared), each model's seconds (`*_models_s`, from dbt's run_results.json) and the CPU time of
the dbt process (`*_dbt_cpu_s`: on DuckDB all of the work, steadier than wall time under load).

`--reuse` keeps the raw load (before any dbt run) as a snapshot -- a DuckDB file under `--raw-dir`,
a Postgres database `gf_bench_raw_<N>` -- and later runs start from a copy of it instead of loading
again (the 1M load takes ~15 min). The conversations are generated once for all targets that need a
load. `--drop-raw` removes the snapshots afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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
from genesys_sim.generator import ConversationGenerator  # noqa: E402

# Simulator data: rated with the demo's invented lookups (seeds/demo/), as the tests do.
os.environ.setdefault("GENESYS_FINANCE_DEMO_LOOKUPS", "true")
SEED = 11
START = date(2024, 1, 1)
FIRST_EXTRACT = datetime(2025, 1, 1, tzinfo=UTC)
HMAC_KEY = b"bench-key-not-a-secret"
PROJECT_DIR = ROOT  # --project-dir: e.g. an export of an older commit, to compare


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


def _admin_conn() -> Any:
    import psycopg2

    conn = psycopg2.connect(PostgresSettings.from_env(dict(os.environ)).dsn())
    conn.autocommit = True
    return conn


def _pg_settings(name: str) -> Settings:
    admin = PostgresSettings.from_env(dict(os.environ))
    pg = PostgresSettings(
        host=admin.host, port=admin.port, user=admin.user, password=admin.password, database=name
    )
    return Settings(target="postgres", postgres=pg, hmac_key=HMAC_KEY)


def _duckdb_settings(path: Path) -> Settings:
    return Settings(target="duckdb", duckdb_path=path, hmac_key=HMAC_KEY)


def _pg_exists(name: str) -> bool:
    conn = _admin_conn()
    cur = conn.cursor()
    cur.execute("select 1 from pg_database where datname = %s", (name,))
    found = cur.fetchone() is not None
    conn.close()
    return found


def _create_pg(name: str, template: str | None = None) -> None:
    conn = _admin_conn()
    suffix = f' template "{template}"' if template else ""
    conn.cursor().execute(f'create database "{name}"{suffix}')
    conn.close()


def _drop_pg(name: str) -> None:
    conn = _admin_conn()
    conn.cursor().execute(f'drop database if exists "{name}" with (force)')
    conn.close()


class RawSnapshot:
    """Where a target's raw load (before any dbt run) lives, and how to copy it for one run."""

    def __init__(self, target: str, conversations: int, raw_dir: Path) -> None:
        self.target = target
        self.conversations = conversations
        self.path = raw_dir / f"raw_{conversations}.duckdb"
        self.pg_name = f"gf_bench_raw_{conversations}"

    def exists(self) -> bool:
        if self.target == "duckdb":
            return self.path.exists()
        return _pg_exists(self.pg_name)

    def create(self) -> Settings:
        if self.target == "duckdb":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.unlink(missing_ok=True)
            return _duckdb_settings(self.path)
        _drop_pg(self.pg_name)
        _create_pg(self.pg_name)
        return _pg_settings(self.pg_name)

    def copy(self, workdir: Path) -> tuple[Settings, str | None]:
        if self.target == "duckdb":
            path = workdir / "bench.duckdb"
            shutil.copyfile(self.path, path)
            return _duckdb_settings(path), None
        name = f"gf_bench_{uuid.uuid4().hex[:8]}"
        _create_pg(name, template=self.pg_name)
        return _pg_settings(name), name

    def drop(self) -> None:
        if self.target == "duckdb":
            self.path.unlink(missing_ok=True)
        else:
            _drop_pg(self.pg_name)


def _fresh(target: str, workdir: Path) -> tuple[Settings, str | None]:
    if target == "duckdb":
        return _duckdb_settings(workdir / "bench.duckdb"), None
    name = f"gf_bench_{uuid.uuid4().hex[:8]}"
    _create_pg(name)
    return _pg_settings(name), name


def _generator(per_day: int) -> ConversationGenerator:
    return ConversationGenerator(
        SEED, START, START + timedelta(days=3660), per_day, now=datetime(2035, 1, 1, tzinfo=UTC)
    )


def _load_all(targets: list[Settings], conversations: int, per_day: int) -> float:
    """Generate N conversations once and land them in every target; seconds taken."""
    t0 = time.monotonic()
    gen = _generator(per_day)
    days = _days(per_day, conversations) + 1
    loaded = 0
    for _, batch in _batches(gen, START, days, 20_000):
        batch = batch[: max(0, conversations - loaded)]
        if not batch:
            break
        masked = raw_loader.mask_conversations(targets[0], batch)  # same key for every target
        for settings in targets:
            n = raw_loader.load_conversations(
                settings, masked, extracted_at=FIRST_EXTRACT, mask=False
            )
        loaded += n
        print(f"  loaded {loaded:,}", end="\r", flush=True)
    print()
    return time.monotonic() - t0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load1() -> float:
    return round(os.getloadavg()[0], 2)


def _timed_dbt(
    settings: Settings, args: list[str], tp: Path, result: dict[str, Any], key: str
) -> float:
    before = _load1()
    cpu_before = _children_cpu()
    run = run_dbt(settings, args, target_path=tp, project_dir=PROJECT_DIR)
    result[f"{key}_s"] = round(run.seconds, 1)
    # CPU of the dbt process (on DuckDB, all the work; on Postgres the server's work is not in it):
    # steadier than wall time on a shared machine
    result[f"{key}_dbt_cpu_s"] = round(_children_cpu() - cpu_before, 1)
    result[f"{key}_loadavg"] = [before, _load1()]
    result[f"{key}_models_s"] = _model_seconds(tp)
    return run.seconds


def _model_seconds(tp: Path) -> dict[str, float]:
    """Seconds per model of the last dbt run (from its run_results.json)."""
    path = tp / "run_results.json"
    if not path.exists():
        return {}
    results = json.loads(path.read_text())["results"]
    return {
        r["unique_id"].split(".")[-1]: round(r["execution_time"], 2)
        for r in results
        if r["unique_id"].startswith("model.")
    }


def bench_target(
    target: str,
    conversations: int,
    per_day: int,
    keep: bool,
    snapshot: RawSnapshot | None = None,
    load_s: float | None = None,
    tests: bool = True,
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench_dbt_{target}_"))
    result: dict[str, Any] = {"target": target, "conversations": conversations}
    if snapshot is not None:
        settings, pg_name = snapshot.copy(workdir)
        result["raw_snapshot"] = str(snapshot.path if target == "duckdb" else snapshot.pg_name)
    else:
        settings, pg_name = _fresh(target, workdir)
        load_s = _load_all([settings], conversations, per_day)
    gen = _generator(per_day)
    days = _days(per_day, conversations) + 1
    result["loaded"] = raw_loader.fetch(settings, "select count(*) from genesys_raw.conversations")[
        0
    ][0]
    result["load_s"] = None if load_s is None else round(load_s, 1)
    result["cpus"] = os.cpu_count()
    if PROJECT_DIR != ROOT:
        result["project_dir"] = str(PROJECT_DIR)
    try:
        tp = workdir / "target"
        run_dbt(settings, ["parse"], target_path=tp, project_dir=PROJECT_DIR)
        # the lookups the finance models read (`dbt run` loads no seed); not timed
        run_dbt(settings, ["seed"], target_path=tp, project_dir=PROJECT_DIR)
        full = _timed_dbt(settings, ["run", "--full-refresh"], tp, result, "full_run")
        if tests:  # incremental no-op + every test
            _timed_dbt(settings, ["build"], tp, result, "build_tests")
        # one more day of data, extracted later
        extra_day = START + timedelta(days=days)
        extra = gen.conversations_for_day(extra_day)
        raw_loader.load_conversations(
            settings, extra, extracted_at=FIRST_EXTRACT + timedelta(days=1)
        )
        result["incremental_conversations"] = len(extra)
        inc = _timed_dbt(settings, ["run"], tp, result, "incremental_run")
        noop = run_dbt(settings, ["parse"], target_path=tp, project_dir=PROJECT_DIR)
        result["dbt_startup_s"] = round(noop.seconds, 1)
        result["incremental_pct_of_full"] = round(100 * inc / full, 1)
    finally:
        if pg_name and not keep:
            _drop_pg(pg_name)
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, nargs="+", default=[100_000])
    parser.add_argument(
        "--targets", nargs="+", default=["duckdb", "postgres"], choices=["duckdb", "postgres"]
    )
    parser.add_argument("--per-day", type=int, default=5_000)
    parser.add_argument("--keep", action="store_true", help="keep the run's database and files")
    parser.add_argument(
        "--reuse", action="store_true", help="start from a kept raw load (made first if missing)"
    )
    parser.add_argument(
        "--load-only", action="store_true", help="with --reuse: only make the raw loads"
    )
    parser.add_argument(
        "--skip-tests", action="store_true", help="skip the `dbt build` (tests) step"
    )
    parser.add_argument("--drop-raw", action="store_true", help="drop the raw snapshots at the end")
    parser.add_argument(
        "--raw-dir", type=Path, default=Path(tempfile.gettempdir()) / "gf_bench_raw"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "bench_dbt.jsonl")
    parser.add_argument("--project-dir", type=Path, default=ROOT, help="dbt project to run")
    args = parser.parse_args(argv)
    global PROJECT_DIR
    PROJECT_DIR = args.project_dir.resolve()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for n in args.conversations:
        snapshots: dict[str, RawSnapshot] = {}
        load_s: float | None = None
        if args.reuse or args.load_only:
            snapshots = {t: RawSnapshot(t, n, args.raw_dir) for t in args.targets}
            missing = [snap for snap in snapshots.values() if not snap.exists()]
            if missing:
                print(f"== loading {n:,} conversations into {[s.target for s in missing]}")
                load_s = _load_all([snap.create() for snap in missing], n, args.per_day)
                print(f"   {load_s:.0f} s")
        if not args.load_only:
            for target in args.targets:
                print(f"== {target}: {n:,} conversations")
                result = bench_target(
                    target,
                    n,
                    args.per_day,
                    args.keep,
                    snapshots.get(target),
                    load_s,
                    tests=not args.skip_tests,
                )
                result["at"] = datetime.now(UTC).isoformat(timespec="seconds")
                print(json.dumps(result, indent=2))
                with args.out.open("a") as fh:
                    fh.write(json.dumps(result) + "\n")
        if args.drop_raw:
            for snap in snapshots.values():
                snap.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
