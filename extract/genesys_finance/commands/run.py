"""`genesys-finance run`: extract, load carrier CDRs, then `dbt build`: the scheduled job.

Each step is the same code as its own command; a failed step stops the run with its exit code,
so a scheduler never builds marts on a half-finished extraction.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from genesys_finance.commands import extract, load_cdrs

HELP = "extract (incremental by default) + load CDR files + dbt build"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    extract.add_arguments(parser)
    parser.add_argument(
        "--cdrs",
        nargs="+",
        type=Path,
        default=[],
        metavar="PATH",
        help="carrier CDR file(s) to load before the build",
    )
    parser.add_argument(
        "--cdr-format",
        choices=load_cdrs.format_choices(),
        default="generic",
        help="format profile of the --cdrs files (default: generic)",
    )
    parser.add_argument(
        "--full-refresh", action="store_true", help="rebuild incremental models from scratch"
    )
    parser.add_argument(
        "--dbt-target-path", type=Path, help="dbt target directory (default: <project>/target)"
    )


def run(args: argparse.Namespace) -> int:
    from genesys_finance.dbt_runner import run_dbt
    from genesys_finance.settings import Settings

    status = extract.run(args)
    if status != 0:
        return status
    if args.cdrs:
        cdr_args = argparse.Namespace(
            paths=args.cdrs,
            format=args.cdr_format,
            format_file=None,
            carrier=None,
            target=args.target,
            pii_policy=args.pii_policy,
        )
        status = load_cdrs.run(cdr_args)
        if status != 0:
            return status
    settings = Settings.from_env().with_target(args.target)
    build_args = ["build", *(["--full-refresh"] if args.full_refresh else [])]
    result = run_dbt(
        settings, build_args, target_path=args.dbt_target_path, check=False, stream=True
    )
    print(f"dbt build {'passed' if result.ok else 'FAILED'} in {result.seconds:.0f} s")
    return 0 if result.ok else 1
