"""What the report shows, read from the `finance` marts only (all the finance reader role reads).

Every figure is a plain aggregate of one mart over the report's period, so a reader can repeat it in
SQL. Money comes back as `Decimal` (DuckDB and psycopg2 both return fixed-point decimals); nothing
here computes a cost, it only sums the marts' own columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from genesys_finance.report.period import Period

# The marts' columns the report reads (DESIGN.md "Public marts"), named once here.
LEGS = "finance.fct_voice_leg_costs"
RECON = "finance.fct_billing_reconciliation"
PER_MINUTE = "finance.fct_billing_per_minute"
REVENUE = "finance.fct_revenue_attribution"
# The instant that places a reconciliation row (a leg's billing start, else the CDR's start)
# and a leg in a month.
RECON_TIME = "billing_start_at"
LEG_TIME = "billing_start_at"
MONTH = "month"

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
    # Dates are `date` objects (argparse-checked), so their ISO text is safe to inline; inlining
    # keeps one SQL text for both drivers (DuckDB's `?`, psycopg2's `%s`).
    return (
        f"{column} >= cast('{period.start.isoformat()}' as date) "
        f"and {column} < cast('{period.end.isoformat()}' as date)"
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
    """First and last month with legs or CDRs in the marts, or None when they are empty."""
    row = _rows(conn, f"select min({RECON_TIME}), max({RECON_TIME}) from {RECON}")[0]
    if row[0] is None:
        return None
    first, last = row
    return first.date() if hasattr(first, "date") else first, (
        last.date() if hasattr(last, "date") else last
    )


def headline(conn: Any, period: Period) -> Headline:
    legs = _rows(
        conn,
        f"select sum(expected_cost), count(*), "
        f"count(case when rating_status = 'rated' then 1 end) "
        f"from {LEGS} where {_between(LEG_TIME, period)}",
    )[0]
    recon = _rows(
        conn,
        f"select sum(billed_amount), sum(variance) from {RECON} "
        f"where {_between(RECON_TIME, period)}",
    )[0]
    revenue = _rows(
        conn, f"select sum(revenue), sum(margin) from {REVENUE} where {_between(MONTH, period)}"
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
        f"select discrepancy_type, count(*), sum(expected_cost), sum(billed_amount), sum(variance) "
        f"from {RECON} where {_between(RECON_TIME, period)} and discrepancy_type <> 'none' "
        f"group by discrepancy_type order by discrepancy_type",
    )
    return [
        DiscrepancyTotal(str(kind), int(n), _zero(expected), _zero(billed), _zero(variance))
        for kind, n, expected, billed, variance in rows
    ]


def monthly_by_carrier(conn: Any, period: Period) -> list[dict[str, Any]]:
    month = _month_trunc(conn, RECON_TIME)
    rows = _rows(
        conn,
        f"select {month} as month, coalesce(carrier, '(unresolved)'), "
        f"sum(expected_cost), sum(billed_amount) from {RECON} "
        f"where {_between(RECON_TIME, period)} group by 1, 2 order by 1, 2",
    )
    return [
        {"month": _month(m), "carrier": c, "true_cost": _zero(e), "billed": _zero(b)}
        for m, c, e, b in rows
    ]


def discrepancies_by_month(conn: Any, period: Period) -> list[dict[str, Any]]:
    month = _month_trunc(conn, RECON_TIME)
    rows = _rows(
        conn,
        f"select {month} as month, discrepancy_type, count(*), sum(variance) from {RECON} "
        f"where {_between(RECON_TIME, period)} and discrepancy_type <> 'none' "
        f"group by 1, 2 order by 1, 2",
    )
    return [
        {"month": _month(m), "discrepancy_type": t, "rows": int(n), "variance": _zero(v)}
        for m, t, n, v in rows
    ]


def cost_per_minute_by_queue(conn: Any, period: Period) -> list[dict[str, Any]]:
    """Cost per billable minute of each queue over the period: the sum of its cost over the sum
    of its minutes (a ratio of sums, not an average of the monthly ratios)."""
    rows = _rows(
        conn,
        f"select coalesce(queue_name, queue_id, '(no queue)'), sum(cost), sum(billable_minutes) "
        f"from {PER_MINUTE} where {_between(MONTH, period)} group by 1",
    )
    result = [
        {
            "queue": q,
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
        f"from {REVENUE} where {_between(MONTH, period)} group by 1 order by 4 desc, 1",
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
        f"select leg_id, cdr_id, carrier, invoice_id, expected_cost, billed_amount, variance, "
        f"discrepancy_type from {RECON} "
        f"where {_between(RECON_TIME, period)} and discrepancy_type <> 'none' "
        f"order by abs(coalesce(variance, 0)) desc, leg_id, cdr_id limit {int(limit)}",
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


def _month_trunc(conn: Any, column: str) -> str:
    # `date_trunc('month', x)` is spelled alike on DuckDB and Postgres; cast to date so both
    # drivers return a `date`.
    return f"cast(date_trunc('month', {column}) as date)"


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
