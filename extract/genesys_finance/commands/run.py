"""`genesys-finance run`: extract, load carrier CDRs, then `dbt build`: the scheduled job.

The steps are `orchestration.run_steps`, the same as `demo`'s; a failed step stops the run with
its exit code, so a scheduler never builds marts on a half-finished extraction.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from genesys_finance.commands import extract, load_cdrs
from genesys_finance.dbt_runner import WITHOUT_UNIT_TESTS


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
    from genesys_finance.orchestration import CdrFiles, RunSteps, run_steps
    from genesys_finance.settings import Settings

    settings = Settings.from_env().with_target(args.target)
    steps = RunSteps(
        start=args.start,
        end=args.end,
        extract=extract.options_from(args),
        cdrs=CdrFiles(args.cdrs, args.cdr_format) if args.cdrs else None,
        build_args=[
            "build",
            *WITHOUT_UNIT_TESTS,
            *(["--full-refresh"] if args.full_refresh else []),
        ],
        dbt_target_path=args.dbt_target_path,
    )
    try:
        return run_steps(settings, steps)
    except Exception as exc:
        return extract.failed("run", exc)
