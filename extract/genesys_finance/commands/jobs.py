"""`genesys-finance jobs`: the extract job ledger as a table.

The `filters` column tells the query layer's filtered jobs (pushed-down predicates, recorded in
the ledger's `filter_key`) from plain extraction jobs (`-`): a filtered job holds only part of
its interval.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

HEADERS = (
    "job_id",
    "interval",
    "state",
    "attempt",
    "pages",
    "conversations",
    "filters",
    "updated",
    "error",
)
UNFILTERED = "-"


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
            describe_filter_key(job.filter_key),
            job.updated_at.strftime("%Y-%m-%d %H:%M:%SZ"),
            (job.error or "")[:60],
        )
        for job in jobs
    ]
    print(format_table(HEADERS, rows))
    print(f"{len(rows)} jobs")
    return 0


def describe_filter_key(key: str | None) -> str:
    """`segment mediaType=voice|email; conversation originatingDirection=inbound` for the
    canonical JSON of a job's filters; `-` for a plain extraction job. A key this code cannot
    read is shown as it is (never dropped: it is what tells the job apart)."""
    if key is None:
        return UNFILTERED
    try:
        body = json.loads(key)
        parts = [
            f"{kind} {_describe_filter(spec)}"
            for field, kind in (
                ("conversationFilters", "conversation"),
                ("segmentFilters", "segment"),
            )
            for spec in body.get(field) or ()
        ]
    except (ValueError, TypeError, KeyError, AttributeError):
        return key
    return "; ".join(parts) or key


def _describe_filter(spec: dict[str, Any]) -> str:
    """One filter: `mediaType=voice|email` for an OR of one dimension's values, else its
    predicates joined by ` and ` / ` or `."""
    predicates = spec["predicates"]
    words = [
        f"{p['dimension']} exists" if p.get("operator") == "exists" else None for p in predicates
    ]
    dimensions = {p["dimension"] for p in predicates}
    if spec.get("type") == "or" and len(dimensions) == 1 and not any(words):
        return f"{predicates[0]['dimension']}=" + "|".join(str(p["value"]) for p in predicates)
    return f" {spec.get('type', 'and')} ".join(
        word or f"{p['dimension']}={p['value']}" for word, p in zip(words, predicates, strict=True)
    )


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)
