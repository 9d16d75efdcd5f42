"""`genesys-finance jobs`: the extract job ledger as a table."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

HEADERS = ("job_id", "interval", "state", "attempt", "pages", "conversations", "updated", "error")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target", choices=("duckdb", "postgres"), help="override GENESYS_FINANCE_TARGET"
    )


def run(args: argparse.Namespace) -> int:
    from genesys_finance.ledger import Ledger
    from genesys_finance.settings import Settings
    from genesys_finance.warehouse import warehouse_for

    warehouse = warehouse_for(Settings.from_env().with_target(args.target))
    with warehouse.connect() as conn:
        ledger = Ledger(conn, warehouse.paramstyle)
        ledger.ensure_table()
        jobs = ledger.all_jobs()
    rows = [
        (
            job.job_id,
            job.interval.label,
            job.state + ("" if job.run_completed_at else " (unfinished run)"),
            str(job.attempt),
            str(job.pages),
            str(job.conversations),
            job.updated_at.strftime("%Y-%m-%d %H:%M:%SZ"),
            (job.error or "")[:60],
        )
        for job in jobs
    ]
    print(format_table(HEADERS, rows))
    print(f"{len(rows)} jobs")
    return 0


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)
