"""`genesys-finance query "SQL"`: answer SQL over the virtual tables (API or warehouse)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

HELP = "answer a SELECT over genesys.* (virtual tables) and finance.* with the cheapest API calls"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sql", help="one SELECT, with a range on conversation_start")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print the plan (request bodies, complete chunks, pushed-down and local "
        "predicates, estimated API calls) without calling anything",
    )
    parser.add_argument(
        "--offline", action="store_true", help="answer from the warehouse only, no API call"
    )
    parser.add_argument(
        "--target", choices=("duckdb", "postgres"), help="override GENESYS_FINANCE_TARGET"
    )
    parser.add_argument("--dbt-target-path", help="dbt's target folder (default: the project's)")
    parser.add_argument("--poll-interval", type=float, default=1.0, metavar="SECONDS")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _print_table(rows: list[dict[str, Any]], names: list[str]) -> None:
    cells = [[_cell(row[n]) for n in names] for row in rows]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    print(" | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for r in cells:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")


def _write(table: Any, fmt: str) -> None:
    names = list(table.column_names)
    rows = table.to_pylist()
    if fmt == "json":
        print(json.dumps(rows, default=_cell, indent=None))
    elif fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow([_cell(row[n]) for n in names])
    else:
        _print_table(rows, names)


def run(args: argparse.Namespace) -> int:
    from genesys_finance.api.errors import ApiError
    from genesys_finance.query.engine import (
        QueryError,
        QueryOptions,
        explain,
        plan_query,
        run_query,
    )
    from genesys_finance.query.parse import QueryRefused
    from genesys_finance.settings import Settings

    settings = Settings.from_env().with_target(args.target)
    options = QueryOptions(
        offline=args.offline,
        poll_initial_s=args.poll_interval,
        dbt_target_path=args.dbt_target_path,
    )
    try:
        if args.explain:
            print(explain(settings, plan_query(settings, args.sql, options), options))
            return 0
        result = run_query(settings, args.sql, options)
    except QueryRefused as exc:
        print(f"genesys-finance query: refused: {exc}", file=sys.stderr)
        return 2
    except (QueryError, ApiError) as exc:
        print(f"genesys-finance query: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # one clear line, not a traceback (-v shows the details)
        logging.getLogger(__name__).debug("query failed", exc_info=True)
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"genesys-finance query: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1
    for note in result.notes:
        print(f"-- {note}", file=sys.stderr)
    _write(result.table, args.format)
    return 0
