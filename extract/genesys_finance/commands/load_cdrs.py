"""`genesys-finance load-cdrs PATH...`: carrier CDR files into carrier_raw (masked)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genesys_finance.commands import extract

HELP = "load carrier CDR CSV files into carrier_raw (numbers and Call-IDs masked)"
MAX_REASONS = 5  # per file on the terminal; all of them are in carrier_raw.cdr_rejects


def format_choices() -> tuple[str, ...]:
    from genesys_finance.cdr.profile import builtin_names

    return builtin_names()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="CDR CSV file(s)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--format",
        choices=format_choices(),
        default="generic",
        help="a built-in format profile (default: generic; see docs/cdr-formats.md)",
    )
    which.add_argument(
        "--format-file",
        type=Path,
        metavar="PROFILE.yml",
        help="a format profile of your own (YAML, the keys of docs/cdr-formats.md)",
    )
    parser.add_argument(
        "--carrier",
        metavar="NAME",
        help="carrier of the files, for a profile without a carrier column "
        "(default: the profile's own, e.g. telnyx)",
    )
    parser.add_argument(
        "--target", choices=("duckdb", "postgres"), help="override GENESYS_FINANCE_TARGET"
    )
    parser.add_argument(
        "--pii-policy",
        metavar="PATH",
        help="PII policy YAML merged over the default (overrides GENESYS_FINANCE_PII_POLICY)",
    )
    extract.add_lock_wait(parser)


def run(args: argparse.Namespace) -> int:
    from genesys_finance.cdr import load_cdr_files, resolve
    from genesys_finance.runlock import RunLockBusy
    from genesys_finance.settings import Settings
    from genesys_finance.warehouse import warehouse_for

    settings = Settings.from_env().with_target(args.target)
    profile = resolve(args.format, getattr(args, "format_file", None))
    # The run lock: a build between two parts of a load (or two loads) could see a later load's
    # lines before an earlier one's, and an incremental model's watermark would pass over them.
    try:
        with warehouse_for(settings).run_lock(args.lock_wait):
            reports = load_cdr_files(
                settings,
                args.paths,
                profile,
                policy_path=args.pii_policy,
                carrier=getattr(args, "carrier", None),
            )
    except RunLockBusy as exc:
        print(f"genesys-finance load-cdrs: {exc}", file=sys.stderr)
        return 1
    for report in reports:
        print(report.summary())
        for reason in report.reasons[:MAX_REASONS]:
            print(f"  rejected: {reason}")
        if len(report.reasons) > MAX_REASONS:
            print(f"  ... {len(report.reasons) - MAX_REASONS} more in carrier_raw.cdr_rejects")
        notes = report.duplicate_notes()
        for note in notes[:MAX_REASONS]:
            print(f"  loaded twice: {note}")
        if len(notes) > MAX_REASONS:
            print(f"  ... {len(notes) - MAX_REASONS} more repeated lines")
    ok = [r for r in reports if r.error is None]
    print(
        f"total: {sum(r.rows_read for r in ok)} rows read, {sum(r.loaded or 0 for r in ok)} "
        f"loaded, {sum(r.rejected or 0 for r in ok)} rejected, "
        f"{len(reports) - len(ok)} file(s) failed"
    )
    return 0 if all(report.consistent for report in reports) else 1
