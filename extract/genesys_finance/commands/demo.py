"""`genesys-finance demo`: the whole job against the simulator, on an embedded DuckDB file.

Starts the simulator on loopback, extracts twelve months through detail jobs, writes and loads the
simulated carriers' CDR files, runs `dbt build`, writes the finance report and prints its summary.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from genesys_finance.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from genesys_finance.settings import Settings


DEMO_DIR = PROJECT_ROOT / "data" / "demo"
# Fake data only: a fixed key keeps the demo one command. Never use it for real data.
DEMO_HMAC_KEY = "demo-only-hmac-key"
DEMO_CLIENT = ("demo-client", "demo-secret")
# The demo rates with its own invented lookups (seeds/demo/), never an org's.
DEMO_VARS = '{"genesys_finance_use_demo_lookups": true}'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duckdb",
        type=Path,
        default=DEMO_DIR / "genesys_finance_demo.duckdb",
        help="DuckDB file to (re)create; the CDR files and the report go beside it "
        "(default: data/demo/genesys_finance_demo.duckdb)",
    )
    parser.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    parser.add_argument(
        "--months", type=int, default=12, help="full calendar months before this one (default 12)"
    )
    parser.add_argument(
        "--conversations-per-day", type=int, default=100, help="simulated volume (default 100)"
    )


def demo_range(today: date, months: int) -> tuple[date, date]:
    """The `months` full calendar months before the current one, as `[start, end)`."""
    if months < 1:
        raise ValueError(f"--months must be at least 1, got {months}")
    end = today.replace(day=1)
    index = end.year * 12 + end.month - 1 - months
    return date(index // 12, index % 12 + 1, 1), end


def run(args: argparse.Namespace) -> int:
    from genesys_finance.extraction import ExtractOptions
    from genesys_finance.orchestration import CdrFiles, RunSteps, run_steps
    from genesys_finance.settings import Settings
    from genesys_sim.carrier import write_cdr_files
    from genesys_sim.config import SimulatorConfig
    from genesys_sim.server import start_simulator

    start, end = demo_range(date.today(), args.months)
    duckdb_path: Path = args.duckdb.resolve()
    duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (duckdb_path, duckdb_path.with_name(duckdb_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    key = os.environ.get("GENESYS_FINANCE_HMAC_KEY")
    if not key:
        print("demo: GENESYS_FINANCE_HMAC_KEY is not set; using the demo-only key (fake data)")
        key = DEMO_HMAC_KEY

    config = SimulatorConfig(
        seed=args.seed,
        start=start,
        end=end,
        conversations_per_day=args.conversations_per_day,
        client_id=DEMO_CLIENT[0],
        client_secret=DEMO_CLIENT[1],
        job_delay_s=1.0,
    )
    step = _Steps()
    with start_simulator(config) as sim:
        settings = dataclasses.replace(
            Settings.from_env(),
            api_url=sim.base_url,
            login_url=sim.base_url,
            client_id=DEMO_CLIENT[0],
            client_secret=DEMO_CLIENT[1],
            target="duckdb",
            duckdb_path=duckdb_path,
            hmac_key=key.encode(),
        )
        step(f"simulator at {sim.base_url}: {start} .. {end}, seed {args.seed}")
        # The simulated carriers bill what the generator made (no API call needed).
        step("the simulated carriers bill the period: writing their CDR files ...")
        began = time.monotonic()
        files = write_cdr_files(
            sim.generator, start, end, duckdb_path.parent / "cdrs", seed=args.seed
        )
        step(f"{len(files.cdr_paths)} CDR files written in {time.monotonic() - began:.0f} s")
        steps = RunSteps(
            start=start,
            end=end,
            extract=ExtractOptions(poll_initial_s=0.5),
            cdrs=CdrFiles(files.cdr_paths, "generic"),
            build_args=["build", "--vars", DEMO_VARS],
        )
        try:
            status = run_steps(settings, steps, say=step)
        except Exception as exc:
            from genesys_finance.commands.extract import failed

            return failed("demo", exc)
    if status != 0:
        print("demo: failed", file=sys.stderr)
        return status
    written = _write_report(settings, duckdb_path.parent / "finance-report.html", start, end)
    step(f"report written in {written.seconds:.1f} s")
    print("\n" + written.summary)
    print(
        f"\nReport: {written.path}\n"
        f"The warehouse is {duckdb_path}.\n"
        f"Ground truth of the injected billing discrepancies: {files.ground_truth_path}\n"
        "Docs for lineage review: make docs (or GENESYS_FINANCE_DEMO_LOOKUPS=true "
        f"GENESYS_FINANCE_DUCKDB={duckdb_path} genesys-finance build --docs)."
    )
    return 0


@dataclasses.dataclass(frozen=True)
class _Report:
    path: Path
    summary: str
    seconds: float


def _write_report(settings: Settings, out: Path, start: date, end: date) -> _Report:
    from genesys_finance.report import summary, write_report

    began = time.monotonic()
    written = write_report(settings, out, start, end)
    return _Report(written.path, summary(written.data), time.monotonic() - began)


class _Steps:
    def __init__(self) -> None:
        self.number = 0

    def __call__(self, message: str) -> None:
        self.number += 1
        print(f"[{self.number}] {message}", flush=True)
