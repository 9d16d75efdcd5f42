"""`genesys-finance extract`: conversation-detail jobs into genesys_raw (resumable, masked)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING

from genesys_finance.argtypes import iso_date, positive_int

if TYPE_CHECKING:
    from genesys_finance.extraction import ExtractOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start", type=iso_date, help="first day (UTC), YYYY-MM-DD")
    parser.add_argument(
        "--end",
        type=iso_date,
        help="day after the last one (exclusive). Without dates: incremental from the ledger",
    )
    parser.add_argument(
        "--target", choices=("duckdb", "postgres"), help="override GENESYS_FINANCE_TARGET"
    )
    tuning = parser.add_argument_group("tuning")
    tuning.add_argument("--max-parallel-jobs", type=positive_int, default=4, metavar="N")
    tuning.add_argument(
        "--requests-per-minute",
        type=float,
        default=300,
        metavar="N",
        help="request budget shared by all threads (default 300, the API's per-token limit)",
    )
    tuning.add_argument(
        "--lookback-days",
        type=float,
        default=2,
        metavar="DAYS",
        help="incremental runs re-extract this much before the last complete interval (default 2)",
    )
    tuning.add_argument(
        "--chunk-days",
        type=positive_int,
        metavar="DAYS",
        help="job interval length in days (at most 31; default: calendar months)",
    )
    tuning.add_argument("--page-size", type=positive_int, default=1000, metavar="N")
    tuning.add_argument(
        "--max-attempts",
        type=positive_int,
        default=3,
        metavar="N",
        help="jobs per interval before giving up (failed/expired jobs are resubmitted)",
    )
    tuning.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="first job status poll delay; it backs off to 15 s",
    )
    tuning.add_argument(
        "--commit-every",
        type=positive_int,
        default=20_000,  # ExtractOptions.commit_every (the runner is imported lazily)
        metavar="N",
        help="conversations per warehouse commit at most (default 20000): a crash re-fetches "
        "at most this many",
    )
    tuning.add_argument(
        "--spool-mb",
        type=positive_int,
        default=1024,
        metavar="MB",
        help="disk (in $TMPDIR) for masked pages fetched but not yet loaded (default 1024); "
        "fetching pauses when it is full",
    )
    parser.add_argument(
        "--initial-start",
        type=iso_date,
        default=os.environ.get("GENESYS_FINANCE_INITIAL_START") or None,
        help="start of the first incremental run when the ledger is empty "
        "(default: GENESYS_FINANCE_INITIAL_START)",
    )
    parser.add_argument("--skip-dimensions", action="store_true", help="do not refresh dimensions")
    parser.add_argument(
        "--pii-policy",
        metavar="PATH",
        help="PII policy YAML merged over the default (overrides GENESYS_FINANCE_PII_POLICY)",
    )
    add_lock_wait(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def add_lock_wait(parser: argparse.ArgumentParser) -> None:
    """`--lock-wait`, for every command that takes the warehouse's run lock."""
    parser.add_argument(
        "--lock-wait",
        type=float,
        default=60.0,  # runlock.DEFAULT_WAIT_S (imported lazily)
        metavar="SECONDS",
        help="wait this long for another run on the same warehouse before giving up (default 60)",
    )


def options_from(args: argparse.Namespace) -> ExtractOptions:
    """`ExtractOptions` from this command's arguments (`run` has them too)."""
    from genesys_finance.extraction import ExtractOptions

    initial_start = args.initial_start
    if isinstance(initial_start, str):  # the env default is not passed through `type`
        initial_start = iso_date(initial_start)
    return ExtractOptions(
        max_parallel_jobs=args.max_parallel_jobs,
        requests_per_minute=args.requests_per_minute,
        lookback_days=args.lookback_days,
        chunk_days=args.chunk_days,
        page_size=args.page_size,
        max_attempts=args.max_attempts,
        poll_initial_s=args.poll_interval,
        commit_every=args.commit_every,
        spool_max_bytes=args.spool_mb << 20,
        initial_start=initial_start,
        skip_dimensions=args.skip_dimensions,
        quiet=args.quiet,
        pii_policy=args.pii_policy,
        lock_wait_s=args.lock_wait,
    )


def failed(command: str, exc: Exception) -> int:
    """One clear line for a failed extraction step, never a traceback (-v shows the details);
    configuration errors go to the CLI front (exit 2)."""
    from genesys_finance.api.errors import ApiError
    from genesys_finance.extraction import ExtractError
    from genesys_finance.planner import PlanError
    from genesys_finance.runlock import RunLockBusy
    from genesys_finance.settings import ConfigError

    if isinstance(exc, ConfigError):
        raise exc
    if isinstance(exc, (ExtractError, ApiError, PlanError, RunLockBusy)):
        print(f"genesys-finance {command}: {exc}", file=sys.stderr)
        return 1
    logging.getLogger(__name__).debug("%s failed", command, exc_info=exc)
    first_line = (str(exc).strip().splitlines() or [""])[0][:300]
    print(f"genesys-finance {command}: {type(exc).__name__}: {first_line}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    from genesys_finance.runner import run_extract
    from genesys_finance.settings import Settings

    settings = Settings.from_env().with_target(args.target)
    try:
        summary = run_extract(settings, args.start, args.end, options_from(args))
    except Exception as exc:
        return failed("extract", exc)
    print(summary.line())
    return 0
