"""`genesys-finance report`: the finance report (one HTML file) from the `finance` marts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genesys_finance.argtypes import iso_date

HELP = "write the finance report (one self-contained HTML file) from the finance marts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start", type=iso_date, help="first day, YYYY-MM-DD (default: first month in the marts)"
    )
    parser.add_argument(
        "--end",
        type=iso_date,
        help="day after the last, YYYY-MM-DD, exclusive (default: last month in the marts)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("finance-report.html"),
        help="HTML file to write (default: finance-report.html)",
    )
    parser.add_argument(
        "--target", choices=("duckdb", "postgres"), help="override GENESYS_FINANCE_TARGET"
    )


def run(args: argparse.Namespace) -> int:
    from genesys_finance.report import ReportError, summary, write_report
    from genesys_finance.settings import Settings

    settings = Settings.from_env().with_target(args.target)
    if args.start and args.end and args.end <= args.start:
        print(
            f"genesys-finance report: --end ({args.end}) must be after --start ({args.start})",
            file=sys.stderr,
        )
        return 2
    try:
        written = write_report(settings, args.out, args.start, args.end)
    except ReportError as exc:
        print(f"genesys-finance report: {exc}", file=sys.stderr)
        return 1
    print(summary(written.data))
    print(f"\nReport: {written.path.resolve()}")
    return 0
