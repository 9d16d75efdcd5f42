"""The finance marts in a query: read as `genesys-finance build` last built them, never fetched.

A query never calls the API for a mart and never rebuilds one (a mart needs the CDR files, the
lookups and every upstream model: that is `build`'s job). What the answer says instead:
- a mart that was never built is an error naming `build`;
- the range of a mart's `conversation_start` predicates (when it has any) is checked against the
  job ledger, and the parts never extracted are named;
- conversations the warehouse holds (`genesys_raw`) that the marts do not (`fct_conversation_costs`
  has one row per conversation) mean the marts are stale: the answer says how many and from when.
  A conversation re-extracted with new content since the build is not detected (same id).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlglot import exp

from genesys_finance.query.catalog import MART_SCHEMA, MARTS
from genesys_finance.query.timerange import MissingTimeRange, TimeRange, time_range, union
from genesys_finance.settings import Settings

PER_CONVERSATION_MART = "fct_conversation_costs"
"""One row per conversation of the warehouse when it was built (with or without carrier legs)."""


def _is_mart(node: exp.Expr) -> bool:
    return (
        isinstance(node, exp.Table)
        and node.db.lower() == MART_SCHEMA
        and node.name.lower() in MARTS
    )


def mart_range(tree: exp.Expr) -> TimeRange | None:
    """The `conversation_start` range the SELECTs reading marts ask for, None if one of them
    gives no bounded range (a mart needs none: it is read whole). In a SELECT joining a mart
    with virtual tables, their `conversation_start` bounds count too."""
    ranges = []
    for select in tree.find_all(exp.Select):
        sources = [select.args["from_"].this] if select.args.get("from_") else []
        sources += [join.this for join in select.args.get("joins") or ()]
        if not any(_is_mart(t) for t in sources):
            continue
        aliases = {str(t.alias_or_name).lower() for t in sources if isinstance(t, exp.Table)}
        try:
            ranges.append(time_range(select.args.get("where"), aliases))
        except MissingTimeRange:
            return None
    return union(ranges) if ranges else None


def unbuilt(settings: Settings, marts: set[str]) -> list[str]:
    """The marts of `marts` that do not exist in the warehouse."""
    from genesys_finance import warehouse as wh

    rows = wh.query(
        settings,
        f"select table_name from information_schema.tables where table_schema = '{MART_SCHEMA}'",
    )
    built = {str(name).lower() for (name,) in rows}
    return sorted(m for m in marts if m not in built)


def not_built_message(missing: list[str]) -> str:
    names = ", ".join(f"{MART_SCHEMA}.{m}" for m in missing)
    return (
        f"{names} not built in this warehouse: the finance marts are built by "
        "`genesys-finance build` (or `run`) from extracted conversations and loaded CDRs; "
        "the query layer reads them, it never fetches or builds them"
    )


def stale_conversations(settings: Settings) -> tuple[int, Any, Any] | None:
    """(count, first start, last start) of conversations in genesys_raw that the marts lack;
    None when either table is missing (nothing extracted, or the marts not built)."""
    from genesys_finance import warehouse as wh

    present = wh.query(
        settings,
        "select count(*) from information_schema.tables where "
        f"(table_schema = 'genesys_raw' and table_name = 'conversations') or "
        f"(table_schema = '{MART_SCHEMA}' and table_name = '{PER_CONVERSATION_MART}')",
    )
    if int(present[0][0]) < 2:
        return None
    rows = wh.query(
        settings,
        "select count(*), min(r.conversation_start), max(r.conversation_start) "
        "from genesys_raw.conversations as r where not exists (select 1 from "
        f"{MART_SCHEMA}.{PER_CONVERSATION_MART} as m where m.conversation_id = r.conversation_id)",
    )
    count, first, last = rows[0]
    return int(count), first, last


def _day(value: Any) -> str:
    return value.date().isoformat() if isinstance(value, datetime) else str(value)


def stale_note(count: int, first: Any, last: Any) -> str:
    return (
        f"the finance marts are stale: {count} conversation(s) in the warehouse (started "
        f"{_day(first)} to {_day(last)}) are not in them yet; `genesys-finance build` includes them"
    )


READ_AS_BUILT = (
    "finance marts ({names}) are read as `genesys-finance build` last built them: a query never "
    "fetches data for them nor rebuilds them"
)
