"""`genesys-finance build`: run `dbt build` (models, seeds, tests) on the configured target."""

from __future__ import annotations

import argparse
import sys

from genesys_finance.commands import extract


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        choices=("duckdb", "postgres"),
        default=None,
        help="warehouse (default: GENESYS_FINANCE_TARGET, else duckdb)",
    )
    parser.add_argument(
        "--full-refresh", action="store_true", help="rebuild incremental models from scratch"
    )
    parser.add_argument(
        "--select",
        "-s",
        nargs="+",
        default=None,
        metavar="SELECTOR",
        help="dbt node selection, e.g. stg_genesys__sessions+",
    )
    parser.add_argument(
        "--docs",
        action="store_true",
        help="then run `dbt docs generate --static` (target/static_index.html)",
    )
    parser.add_argument(
        "--unit-tests",
        action="store_true",
        help="also run the dbt unit tests (development and CI; production builds skip them)",
    )
    parser.add_argument(
        "--target-path", default=None, help="dbt target directory (default: <project>/target)"
    )
    extract.add_lock_wait(parser)


def run(args: argparse.Namespace) -> int:
    from genesys_finance.dbt_runner import WITHOUT_UNIT_TESTS, DbtError, run_dbt
    from genesys_finance.runlock import RunLockBusy
    from genesys_finance.settings import Settings
    from genesys_finance.warehouse import warehouse_for

    settings = Settings.from_env().with_target(args.target)
    build_args = ["build"] if args.unit_tests else ["build", *WITHOUT_UNIT_TESTS]
    if args.full_refresh:
        build_args.append("--full-refresh")
    if args.select:
        build_args += ["--select", *args.select]
    try:
        # The run lock: no extract or CDR load writes raw while the incremental models read it.
        with warehouse_for(settings).run_lock(args.lock_wait):
            run_dbt(settings, build_args, target_path=args.target_path, stream=True)
        if args.docs:
            run_dbt(
                settings,
                ["docs", "generate", "--static"],
                target_path=args.target_path,
                stream=True,
            )
    except (DbtError, RunLockBusy) as exc:
        print(f"genesys-finance build: {exc}", file=sys.stderr)
        return 1
    return 0
