"""`genesys-finance audit-pii`: clear-text PII in the warehouse, dbt artifacts and logs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = (
    "scan the warehouse, dbt target/ and logs for clear-text PII (phone numbers that are not "
    "the org's, e-mail addresses, listed names); exits 1 on any hit"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target", choices=("duckdb", "postgres"), help="override GENESYS_FINANCE_TARGET"
    )
    parser.add_argument(
        "--names-file",
        type=Path,
        help="names (or other terms) to look for, one per line, matched as whole words",
    )
    parser.add_argument(
        "--dbt-target",
        type=Path,
        action="append",
        help="dbt artifact folder to scan (repeatable; default: the project's target/)",
    )
    parser.add_argument(
        "--log",
        type=Path,
        action="append",
        default=[],
        help="another log file or folder to scan (repeatable; the project's logs/ always is)",
    )
    parser.add_argument("--no-warehouse", action="store_true", help="scan files only")
    parser.add_argument(
        "--pii-policy", help="PII policy YAML whose org_numbers are the org's too (as extract)"
    )


def run(args: argparse.Namespace) -> int:
    import os

    from genesys_finance.audit_pii import audit, read_names
    from genesys_finance.masking import load_policy, resolve_policy_path
    from genesys_finance.settings import PROJECT_ROOT, ConfigError, Settings
    from genesys_finance.warehouse import connect

    settings = Settings.from_env().with_target(args.target)
    names: list[str] = []
    if args.names_file is not None:
        try:
            names = read_names(args.names_file)
        except OSError as exc:
            raise ConfigError(
                f"--names-file {args.names_file}: cannot read ({exc.strerror})"
            ) from exc
    policy = load_policy(resolve_policy_path(args.pii_policy, os.environ))
    paths = [*(args.dbt_target or [PROJECT_ROOT / "target"]), PROJECT_ROOT / "logs", *args.log]
    report = audit(
        names=names,
        policy_org_numbers=policy.org_numbers,
        connect=None if args.no_warehouse else (lambda: connect(settings)),
        target=settings.target,
        paths=paths,
        root=PROJECT_ROOT,
        on_hit=lambda hit: print(hit),
    )
    where = "" if args.no_warehouse else f"{report.tables} tables/views ({settings.target}), "
    summary = f"audit-pii: {where}{report.files} files scanned, {len(report.hits)} hits"
    print(summary, file=sys.stderr if report.hits else sys.stdout)
    return 1 if report.hits else 0
