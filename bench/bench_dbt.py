"""Benchmark the dbt build (flattening, rating, matching, finance marts): full and incremental.

    .venv/bin/python bench/bench_dbt.py --conversations 100000 --targets duckdb postgres
    .venv/bin/python bench/bench_dbt.py --conversations 1000000
    .venv/bin/python bench/bench_dbt.py --conversations 1000000 --reuse   # keep/reuse the raw load

For each target: land N simulator conversations (masked, the org's numbers in clear) and the
carriers' CDR files for them (written from the simulator's ground truth, one format per carrier:
Genesys Cloud Voice's usage report with Call-IDs, Northwind's Bandwidth BDRs and Atlantic's Twilio
log without, so the time-and-number fallback matches a third of the legs; loaded with
`load_cdr_files`, what `genesys-finance load-cdrs` runs) in a fresh warehouse, time a
flattening-only `dbt run --full-refresh` (the baseline the finance models are measured against),
then `dbt run --full-refresh` of every model and `dbt build` (models + data and unit tests), then
land one more day of conversations and that day's CDRs and time an incremental `dbt run`.
Targets (issues 12, 13): incremental <= 5% of full; the finance models add <= 30 % to the
flattening-only build; 1M: full build <= 2 min on DuckDB, <= 4 min on Postgres. Per-model seconds
are summed per layer (`*_layers_s`: flattening, rating, matching, marts). Results are printed and
appended to
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
from genesys_finance.cdr import builtin, load_cdr_files  # noqa: E402
from genesys_finance.dbt_runner import run_dbt  # noqa: E402
from genesys_finance.masking import Masker  # noqa: E402
from genesys_finance.org_numbers import OrgNumbers  # noqa: E402
from genesys_finance.settings import PostgresSettings, Settings  # noqa: E402
from genesys_sim.carrier import load_tariff, orphan_cdrs  # noqa: E402
from genesys_sim.cdr_formats import CarrierFiles, carrier_view, conversation_views  # noqa: E402
from genesys_sim.generator import ConversationGenerator  # noqa: E402

# Simulator data: rated with the demo's invented lookups (seeds/demo/), as the tests do.
os.environ.setdefault("GENESYS_FINANCE_DEMO_LOOKUPS", "true")
SEED = 11
START = date(2024, 1, 1)
FIRST_EXTRACT = datetime(2025, 1, 1, tzinfo=UTC)
HMAC_KEY = b"bench-key-not-a-secret"
PROJECT_DIR = ROOT  # --project-dir: e.g. an export of an older commit, to compare
# Each simulated carrier sends its CDRs in another carrier's export format (as
# tests/python/test_reconciliation_formats.py): a Call-ID in one, none in the other two.
CDR_FORMAT_OF = {
    "genesys_cloud_voice": "genesys-voice",
    "northwind_telecom": "bandwidth",
    "atlantic_carrier": "twilio",
}
# Which models make each layer of the build, for the per-layer sums.
LAYERS = {
    "rating": (
        "int_rate_cards", "int_client_contracts", "int_voice_leg_carrier_candidates",
        "int_voice_legs_rated",
    ),
    "matching": ("stg_carrier__cdrs", "int_cdr_leg_candidates", "int_cdr_leg_matches"),
    "marts": (
        "int_voice_leg_queue_shares", "int_time_spine_day", "int_billing_per_minute_daily",
        "int_revenue_attribution_daily", "fct_voice_leg_costs",
        "fct_billing_reconciliation", "fct_conversation_costs", "fct_billing_per_minute",
        "fct_revenue_attribution",
    ),
}  # fmt: skip
# The matching models, timed again alone with and without the time-and-number fallback
# (`--time-fallback`): what the fallback adds, apart from the Call-ID matching (issue 13).
MATCHING = ["--select", "int_cdr_leg_candidates", "int_cdr_leg_matches"]
FLATTENING = [
    "--select",
    "path:models/staging/genesys",
    "path:models/intermediate/per_conversation",
]


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


def _org_numbers(gen: ConversationGenerator) -> OrgNumbers:
    pools, dids = gen.did_pools(), gen.dids()
    return OrgNumbers.build(
        ranges=[(p["startPhoneNumber"], p["endPhoneNumber"]) for p in pools],
        numbers=[d["phoneNumber"] for d in dids],
    )


def _land_org(settings: Settings, gen: ConversationGenerator) -> None:
    """The org's DID pools and DIDs (the extractor reads them first) and queues and divisions."""
    raw_loader.load_org_numbers(settings, gen.did_pools(), gen.dids())
    raw_loader.load_dimensions(settings, {"queues": gen.queues(), "divisions": gen.divisions()})


def _load_cdrs(targets: list[Settings], files: CarrierFiles, org: OrgNumbers) -> dict[str, Any]:
    """Load each carrier's file into every target, as `genesys-finance load-cdrs` does."""
    t0 = time.monotonic()
    rows = 0
    for settings in targets:
        masker = Masker.from_settings(settings, env={}, org_numbers=org)
        for carrier, path in files.paths.items():
            fmt = files.fmt(carrier)
            (report,) = load_cdr_files(
                settings, [path], builtin(fmt), masker=masker, org_numbers=org,
                carrier=None if fmt == "genesys-voice" else carrier,
            )  # fmt: skip
            assert report.error is None and report.rejected == 0, report.summary()
            rows += int(report.loaded or 0)
    return {"cdr_rows": rows // max(1, len(targets)), "cdr_load_s": round(time.monotonic() - t0, 1)}


def _write_cdrs(
    files: CarrierFiles, conversations: list[dict[str, Any]], tariff: Any
) -> tuple[int, int]:
    """The carriers' CDR lines for these conversations; (lines, billed legs)."""
    lines, billed = 0, set()
    for view in conversation_views(conversations, tariff, seed=SEED):
        files.write(view)
        lines += 1
        billed.add(view.cdr.sip_call_id)
    return lines, len(billed)


def _write_orphans(files: CarrierFiles, tariff: Any, first: date, last: date, count: int) -> int:
    """CDRs no Genesys leg has (3 % of the billed legs, as the simulator's files)."""
    n = 0
    for _, cdr in orphan_cdrs(tariff, first, last, count, SEED):
        files.write(carrier_view(cdr, 0, SEED, 3_000, 250, 0.02))
        n += 1
    return n


def _load_all(
    targets: list[Settings], conversations: int, per_day: int, cdr_dir: Path
) -> dict[str, Any]:
    """Generate N conversations once and land them, and their carriers' CDRs, in every target."""
    t0 = time.monotonic()
    gen = _generator(per_day)
    org = _org_numbers(gen)
    for settings in targets:
        _land_org(settings, gen)
    tariff = load_tariff()
    files = CarrierFiles(cdr_dir, CDR_FORMAT_OF, "full")
    days = _days(per_day, conversations) + 1
    loaded = lines = billed = 0
    last_day = START
    for day, batch in _batches(gen, START, days, 20_000):
        batch = batch[: max(0, conversations - loaded)]
        if not batch:
            break
        last_day = day
        masked = raw_loader.mask_conversations(targets[0], batch, org)  # same key for every target
        for settings in targets:
            n = raw_loader.load_conversations(
                settings, masked, extracted_at=FIRST_EXTRACT, mask=False
            )
        written, legs = _write_cdrs(files, batch, tariff)
        lines, billed, loaded = lines + written, billed + legs, loaded + n
        print(f"  loaded {loaded:,} conversations, {lines:,} CDR lines", end="\r", flush=True)
    lines += _write_orphans(files, tariff, START, last_day, round(billed * 0.03))
    files.close()
    print()
    generated_s = time.monotonic() - t0
    result = {"load_s": round(generated_s, 1), "cdr_lines": lines}
    result |= _load_cdrs(targets, files, org)
    return result


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


def _layers(models: dict[str, float]) -> dict[str, float]:
    """Model-seconds summed per layer (two threads: the sums exceed the wall time)."""
    out = {layer: 0.0 for layer in ("flattening", *LAYERS)}
    for name, seconds in models.items():
        layer = next((k for k, names in LAYERS.items() if name in names), "flattening")
        out[layer] += seconds
    return {k: round(v, 1) for k, v in out.items()}


def _next_day(
    settings: Settings, gen: ConversationGenerator, day: date, cdr_dir: Path
) -> dict[str, Any]:
    """One more day of conversations, extracted later, and that day's CDR files."""
    org = _org_numbers(gen)
    extra = gen.conversations_for_day(day)
    masked = raw_loader.mask_conversations(settings, extra, org)
    raw_loader.load_conversations(
        settings, masked, extracted_at=FIRST_EXTRACT + timedelta(days=1), mask=False
    )
    files = CarrierFiles(cdr_dir, CDR_FORMAT_OF, f"{day:%Y%m%d}")
    _write_cdrs(files, extra, load_tariff())
    files.close()
    loaded = _load_cdrs([settings], files, org)
    return {"incremental_conversations": len(extra), "incremental_cdr_rows": loaded["cdr_rows"]}


def _time_fallback(settings: Settings, tp: Path) -> dict[str, Any]:
    """The matching models rebuilt alone (after the incremental run: the same data), with and
    without the time-and-number fallback; what it adds, in model-seconds and as a share of the
    full build's matching and marts layers without it."""
    out: dict[str, Any] = {}
    for key, on in (("matching_with_fallback", True), ("matching_without_fallback", False)):
        fallback = ["--vars", json.dumps({"genesys_finance_match_fallback": on})]
        _timed_dbt(settings, ["run", "--full-refresh", *MATCHING, *fallback], tp, out, key)
    with_s = sum(out["matching_with_fallback_models_s"].values())
    without_s = sum(out["matching_without_fallback_models_s"].values())
    out["fallback_model_s"] = round(with_s - without_s, 2)
    return out


def _fallback_share(result: dict[str, Any]) -> None:
    """The fallback's model-seconds against the full build's matching + marts model-seconds
    without it (issue 13: the fallback adds <= 20 % to the marts' time)."""
    layers = result["full_run_layers_s"]
    marts = layers["matching"] + layers["marts"] - result["fallback_model_s"]
    result["fallback_adds_to_marts_pct"] = round(100 * result["fallback_model_s"] / marts, 1)


def bench_target(
    target: str,
    conversations: int,
    per_day: int,
    keep: bool,
    snapshot: RawSnapshot | None = None,
    loading: dict[str, Any] | None = None,
    tests: bool = True,
    baseline: bool = True,
    time_fallback: bool = False,
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench_dbt_{target}_"))
    result: dict[str, Any] = {"target": target, "conversations": conversations}
    if snapshot is not None:
        settings, pg_name = snapshot.copy(workdir)
        result["raw_snapshot"] = str(snapshot.path if target == "duckdb" else snapshot.pg_name)
    else:
        settings, pg_name = _fresh(target, workdir)
        loading = _load_all([settings], conversations, per_day, workdir / "cdrs")
    gen = _generator(per_day)
    days = _days(per_day, conversations) + 1
    result["loaded"] = raw_loader.fetch(settings, "select count(*) from genesys_raw.conversations")[
        0
    ][0]
    result["cdrs_loaded"] = raw_loader.fetch(settings, "select count(*) from carrier_raw.cdrs")[0][
        0
    ]
    result |= loading or {}
    result["cpus"] = os.cpu_count()
    if PROJECT_DIR != ROOT:
        result["project_dir"] = str(PROJECT_DIR)
    try:
        tp = workdir / "target"
        run_dbt(settings, ["parse"], target_path=tp, project_dir=PROJECT_DIR)
        # the lookups the finance models read (`dbt run` loads no seed); not timed
        run_dbt(settings, ["seed"], target_path=tp, project_dir=PROJECT_DIR)
        if baseline:  # the flattening alone, from scratch: what the finance models add to
            flat = _timed_dbt(
                settings, ["run", "--full-refresh", *FLATTENING], tp, result, "flattening_run"
            )
        full = _timed_dbt(settings, ["run", "--full-refresh"], tp, result, "full_run")
        result["full_run_layers_s"] = _layers(result["full_run_models_s"])
        if baseline:
            result["finance_adds_pct"] = round(100 * (full - flat) / flat, 1)
        if tests:  # incremental no-op + every test
            _timed_dbt(settings, ["build"], tp, result, "build_tests")
        result |= _next_day(settings, gen, START + timedelta(days=days), workdir / "cdrs_next")
        inc = _timed_dbt(settings, ["run"], tp, result, "incremental_run")
        result["incremental_run_layers_s"] = _layers(result["incremental_run_models_s"])
        noop = run_dbt(settings, ["parse"], target_path=tp, project_dir=PROJECT_DIR)
        result["dbt_startup_s"] = round(noop.seconds, 1)
        result["incremental_pct_of_full"] = round(100 * inc / full, 1)
        if time_fallback:
            result |= _time_fallback(settings, tp)
            _fallback_share(result)
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
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the flattening-only full build"
    )
    parser.add_argument(
        "--time-fallback",
        action="store_true",
        help="then time the matching models alone with and without the time-and-number fallback",
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
        loading: dict[str, Any] | None = None
        if args.reuse or args.load_only:
            snapshots = {t: RawSnapshot(t, n, args.raw_dir) for t in args.targets}
            missing = [snap for snap in snapshots.values() if not snap.exists()]
            if missing:
                print(f"== loading {n:,} conversations into {[s.target for s in missing]}")
                loading = _load_all(
                    [snap.create() for snap in missing], n, args.per_day, args.raw_dir / f"cdrs_{n}"
                )
                print(f"   {loading}")
        if not args.load_only:
            for target in args.targets:
                print(f"== {target}: {n:,} conversations")
                result = bench_target(
                    target,
                    n,
                    args.per_day,
                    args.keep,
                    snapshots.get(target),
                    loading,
                    tests=not args.skip_tests,
                    baseline=not args.no_baseline,
                    time_fallback=args.time_fallback,
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
