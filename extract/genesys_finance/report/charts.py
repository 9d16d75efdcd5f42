"""The report's charts: Vega-Altair specs rendered offline to SVG by vl-convert (no browser, no
network). Amounts become floats here only to place marks on an axis; the report's figures and
tables print the marts' decimals."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from genesys_finance.report.queries import ReportData

WIDTH = 560
HEIGHT = 260


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    svg: str | None
    """None when the period has no rows for this chart (the page says so instead)."""


def _plain(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()} for row in rows]


def monthly_cost_vs_billed(data: ReportData) -> Any:
    """One line per carrier and measure: solid true cost, dashed billed."""
    import altair as alt

    long = [
        {"month": r["month"], "carrier": r["carrier"], "measure": measure, "amount": r[key]}
        for r in data.monthly_by_carrier
        for measure, key in (("true cost", "true_cost"), ("billed", "billed"))
    ]
    if not long:
        return None
    return (
        alt.Chart(alt.Data(values=_plain(long)))
        .mark_line(point=True)
        .encode(
            x=alt.X("month:O", title="month"),
            y=alt.Y("amount:Q", title="amount"),
            color=alt.Color("carrier:N", title="carrier"),
            strokeDash=alt.StrokeDash("measure:N", title="measure"),
            tooltip=["month:O", "carrier:N", "measure:N", "amount:Q"],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )


def discrepancies_by_month(data: ReportData) -> Any:
    import altair as alt

    if not data.discrepancies_by_month:
        return None
    return (
        alt.Chart(alt.Data(values=_plain(data.discrepancies_by_month)))
        .mark_bar()
        .encode(
            x=alt.X("month:O", title="month"),
            y=alt.Y("rows:Q", title="discrepancies", stack=True),
            color=alt.Color("discrepancy_type:N", title="type"),
            tooltip=["month:O", "discrepancy_type:N", "rows:Q", "variance:Q"],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )


def cost_per_minute_by_queue(data: ReportData) -> Any:
    import altair as alt

    rows = [r for r in data.cost_per_minute_by_queue if r["cost_per_minute"] is not None]
    if not rows:
        return None
    return (
        alt.Chart(alt.Data(values=_plain(rows)))
        .mark_bar()
        .encode(
            x=alt.X(
                "cost_per_minute:Q",
                title="cost per billable minute",
                axis=alt.Axis(format=".3f", tickCount=6),
            ),
            y=alt.Y("queue:N", title=None, sort="-x", axis=alt.Axis(labelLimit=240)),
            tooltip=["queue:N", "cost_per_minute:Q", "minutes:Q", "cost:Q"],
        )
        .properties(width=WIDTH, height=max(HEIGHT // 2, 18 * len(rows)))
    )


def margin_by_client(data: ReportData) -> Any:
    import altair as alt

    if not data.margin_by_client:
        return None
    return (
        alt.Chart(alt.Data(values=_plain(data.margin_by_client)))
        .mark_bar()
        .encode(
            x=alt.X("margin:Q", title="margin (revenue - true cost)"),
            y=alt.Y("client:N", title=None, sort="-x", axis=alt.Axis(labelLimit=240)),
            color=alt.condition("datum.margin < 0", alt.value("#c0392b"), alt.value("#2e86c1")),
            tooltip=["client:N", "revenue:Q", "true_cost:Q", "margin:Q"],
        )
        .properties(width=WIDTH, height=max(HEIGHT // 2, 22 * len(data.margin_by_client)))
    )


CHARTS: tuple[tuple[str, str, Callable[[ReportData], Any]], ...] = (
    (
        "monthly_cost_vs_billed",
        "True cost and billed, per carrier and month",
        monthly_cost_vs_billed,
    ),
    ("discrepancies_by_month", "Discrepancies by type and month", discrepancies_by_month),
    ("cost_per_minute_by_queue", "Cost per billable minute, by queue", cost_per_minute_by_queue),
    ("margin_by_client", "Margin by client", margin_by_client),
)


def render(data: ReportData) -> list[Chart]:
    """Every chart of the report as inline SVG."""
    import vl_convert

    charts = []
    for name, title, build in CHARTS:
        spec = build(data)
        svg = None if spec is None else str(vl_convert.vegalite_to_svg(spec.to_dict()))
        charts.append(Chart(name, title, svg))
    return charts
