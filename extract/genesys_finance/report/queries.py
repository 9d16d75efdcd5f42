"""What the report shows, read from the `finance` marts only (all the finance reader role reads).

Every figure is a plain aggregate of one mart over the report's period, so a reader can repeat it in
SQL. Money comes back as `Decimal` (DuckDB and psycopg2 both return fixed-point decimals); nothing
here computes a cost, it only sums the marts' own columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from genesys_finance.report.period import Period

# The marts the report reads (DESIGN.md "Public marts"), named once here.
LEGS = "finance.fct_voice_leg_costs"
RECON = "finance.fct_billing_reconciliation"
PER_MINUTE = "finance.fct_billing_per_minute"
REVENUE = "finance.fct_revenue_attribution"
QUEUE_NAMES = "staging.stg_genesys__queues"

TOP_DISCREPANCIES = 25


@dataclass(frozen=True)
class Headline:
    true_cost: Decimal
    billed: Decimal
    variance: Decimal
    revenue: Decimal
    margin: Decimal
    legs: int
    rated_legs: int
    unpriced_legs: int
    """Legs whose `rating_status` is not `rated`: their cost is unknown, never counted as zero."""


@dataclass(frozen=True)
class DiscrepancyTotal:
    discrepancy_type: str
    rows: int
    expected: Decimal
    billed: Decimal
    variance: Decimal


@dataclass(frozen=True)
class Discrepancy:
    leg_id: str | None
    cdr_id: str | None
    carrier: str | None
    invoice_id: str | None
    expected: Decimal | None
    billed: Decimal | None
    variance: Decimal | None
    discrepancy_type: str


@dataclass(frozen=True)
class ReportData:
    period: Period
    headline: Headline
    discrepancy_totals: list[DiscrepancyTotal]
    monthly_by_carrier: list[dict[str, Any]]
    discrepancies_by_month: list[dict[str, Any]]
    cost_per_minute_by_queue: list[dict[str, Any]]
    margin_by_client: list[dict[str, Any]]
    top_discrepancies: list[Discrepancy] = field(default_factory=list)


def _between(column: str, period: Period) -> str:
    """A date column (a month or a carrier's billing period) inside the period.

    Dates are `date` objects (argparse-checked), so their ISO text is safe to inline; inlining
    keeps one SQL text for both drivers (DuckDB's `?`, psycopg2's `%s`)."""
    return (
        f"{column} >= cast('{period.start.isoformat()}' as date) "
        f"and {column} < cast('{period.end.isoformat()}' as date)"
    )


def _between_instants(column: str, period: Period) -> str:
    """A timestamptz column inside the period's UTC days (an explicit +00 offset, so Postgres
    does not read the bounds in the session's time zone)."""
    return (
        f"{column} >= cast('{period.start.isoformat()} 00:00:00+00' as timestamptz) "
        f"and {column} < cast('{period.end.isoformat()} 00:00:00+00' as timestamptz)"
    )


def _rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        cur.close()


def _zero(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)


def _month(value: Any) -> str:
    return value.strftime("%Y-%m") if hasattr(value, "strftime") else str(value)[:7]


def data_months(conn: Any) -> tuple[date, date] | None:
    """First and last billing period (a month) in the reconciliation, or None when it is empty."""
    row = _rows(conn, f"select min(billing_period), max(billing_period) from {RECON}")[0]
    if row[0] is None:
        return None
    return _as_date(row[0]), _as_date(row[1])


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def headline(conn: Any, period: Period) -> Headline:
    """True cost from the legs (by the UTC month of their billing start), billed and variance from
    the reconciliation (by the carrier's billing period), revenue and margin from the revenue
    attribution (by UTC month): each figure as its own mart states it."""
    legs = _rows(
        conn,
        f"select sum(expected_cost), count(*), "
        f"count(case when rating_status = 'rated' then 1 end) "
        f"from {LEGS} where {_between_instants('billing_start', period)}",
    )[0]
    recon = _rows(
        conn,
        f"select sum(billed_amount), sum(variance_amount) from {RECON} "
        f"where {_between('billing_period', period)}",
    )[0]
    revenue = _rows(
        conn,
        f"select sum(revenue), sum(margin) from {REVENUE} where {_between('month', period)}",
    )[0]
    return Headline(
        true_cost=_zero(legs[0]),
        billed=_zero(recon[0]),
        variance=_zero(recon[1]),
        revenue=_zero(revenue[0]),
        margin=_zero(revenue[1]),
        legs=int(legs[1]),
        rated_legs=int(legs[2]),
        unpriced_legs=int(legs[1]) - int(legs[2]),
    )


def discrepancy_totals(conn: Any, period: Period) -> list[DiscrepancyTotal]:
    rows = _rows(
        conn,
        f"select discrepancy_type, count(*), sum(expected_amount), sum(billed_amount), "
        f"sum(variance_amount) from {RECON} "
        f"where {_between('billing_period', period)} and discrepancy_type <> 'none' "
        f"group by discrepancy_type order by discrepancy_type",
    )
    return [
        DiscrepancyTotal(str(kind), int(n), _zero(expected), _zero(billed), _zero(variance))
        for kind, n, expected, billed, variance in rows
    ]


def monthly_by_carrier(conn: Any, period: Period) -> list[dict[str, Any]]:
    rows = _rows(
        conn,
        f"select billing_period, coalesce(carrier, '(unresolved)'), sum(true_cost), "
        f"sum(billed_amount) from {PER_MINUTE} where {_between('billing_period', period)} "
        f"group by 1, 2 order by 1, 2",
    )
    return [
        {"month": _month(m), "carrier": c, "true_cost": _zero(e), "billed": _zero(b)}
        for m, c, e, b in rows
    ]


def discrepancies_by_month(conn: Any, period: Period) -> list[dict[str, Any]]:
    rows = _rows(
        conn,
        f"select billing_period, discrepancy_type, count(*), sum(variance_amount) from {RECON} "
        f"where {_between('billing_period', period)} and discrepancy_type <> 'none' "
        f"group by 1, 2 order by 1, 2",
    )
    return [
        {"month": _month(m), "discrepancy_type": t, "rows": int(n), "variance": _zero(v)}
        for m, t, n, v in rows
    ]


def queue_names(conn: Any) -> dict[str, str]:
    """Queue names from staging, when this connection may read it (the finance reader role may
    not: then the report shows queue ids)."""
    try:
        return {
            str(q): str(n)
            for q, n in _rows(conn, f"select queue_id, queue_name from {QUEUE_NAMES}")
            if n
        }
    except Exception:  # no such table, or no privilege: ids will do
        return {}


def cost_per_minute_by_queue(conn: Any, period: Period) -> list[dict[str, Any]]:
    """Cost per billable (rated) minute of each queue over the period: the sum of its cost over
    the sum of its minutes (a ratio of sums, not an average of the monthly ratios)."""
    names = queue_names(conn)
    rows = _rows(
        conn,
        f"select queue_id, sum(true_cost), sum(rated_minutes) from {PER_MINUTE} "
        f"where {_between('billing_period', period)} group by 1",
    )
    result = [
        {
            "queue": names.get(str(q), str(q)) if q is not None else "(no queue)",
            "queue_id": q,
            "cost": _zero(cost),
            "minutes": _zero(minutes),
            "cost_per_minute": _zero(cost) / _zero(minutes) if minutes else None,
        }
        for q, cost, minutes in rows
    ]
    return sorted(
        result,
        key=lambda r: (r["cost_per_minute"] is None, -(r["cost_per_minute"] or 0), r["queue"]),
    )


def margin_by_client(conn: Any, period: Period) -> list[dict[str, Any]]:
    rows = _rows(
        conn,
        f"select coalesce(client, '(no client)'), sum(revenue), sum(true_cost), sum(margin) "
        f"from {REVENUE} where {_between('month', period)} group by 1 order by 4 desc, 1",
    )
    return [
        {"client": c, "revenue": _zero(r), "true_cost": _zero(t), "margin": _zero(m)}
        for c, r, t, m in rows
    ]


def top_discrepancies(
    conn: Any, period: Period, limit: int = TOP_DISCREPANCIES
) -> list[Discrepancy]:
    rows = _rows(
        conn,
        f"select leg_id, cdr_id, carrier, invoice_id, expected_amount, billed_amount, "
        f"variance_amount, discrepancy_type from {RECON} "
        f"where {_between('billing_period', period)} and discrepancy_type <> 'none' "
        f"order by abs(coalesce(variance_amount, 0)) desc, reconciliation_id "
        f"limit {int(limit)}",
    )
    return [
        Discrepancy(
            leg_id=None if leg is None else str(leg),
            cdr_id=None if cdr is None else str(cdr),
            carrier=carrier,
            invoice_id=invoice,
            expected=None if expected is None else Decimal(expected),
            billed=None if billed is None else Decimal(billed),
            variance=None if variance is None else Decimal(variance),
            discrepancy_type=str(kind),
        )
        for leg, cdr, carrier, invoice, expected, billed, variance, kind in rows
    ]


def read(conn: Any, period: Period) -> ReportData:
    return ReportData(
        period=period,
        headline=headline(conn, period),
        discrepancy_totals=discrepancy_totals(conn, period),
        monthly_by_carrier=monthly_by_carrier(conn, period),
        discrepancies_by_month=discrepancies_by_month(conn, period),
        cost_per_minute_by_queue=cost_per_minute_by_queue(conn, period),
        margin_by_client=margin_by_client(conn, period),
        top_discrepancies=top_discrepancies(conn, period),
    )
