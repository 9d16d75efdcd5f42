"""The report as ONE self-contained HTML file: inline CSS and inline SVG charts, no script, no
link to anything outside the file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from genesys_finance.report.charts import Chart
from genesys_finance.report.queries import ReportData

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Figure:
    key: str
    name: str
    value: Decimal
    text: str
    negative: bool


def money(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value.quantize(CENT, ROUND_HALF_UP):,}"


def rate(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value.quantize(Decimal('0.0001'), ROUND_HALF_UP):,}"


def number(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value.quantize(Decimal('0.1'), ROUND_HALF_UP):,}"


def short_id(value: str | None, keep: int = 12) -> str:
    if not value:
        return "—"
    return value if len(value) <= keep else value[:keep] + "…"


def figures(data: ReportData) -> list[Figure]:
    h = data.headline
    items = (
        ("true_cost", "True cost (rated legs)", h.true_cost),
        ("billed", "Billed by carriers", h.billed),
        ("variance", "Variance (billed - expected)", h.variance),
        ("revenue", "Revenue (client contracts)", h.revenue),
        ("margin", "Margin (revenue - true cost)", h.margin),
    )
    return [Figure(key, name, value, money(value), value < 0) for key, name, value in items]


def render(data: ReportData, charts: list[Chart], target: str) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("genesys_finance.report", "."),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, rate=rate, number=number, short_id=short_id)
    context: dict[str, Any] = {
        "period": data.period,
        "target": target,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "figures": figures(data),
        "headline": data.headline,
        "discrepancy_totals": data.discrepancy_totals,
        "charts": charts,
        "queues": data.cost_per_minute_by_queue,
        "top": data.top_discrepancies,
    }
    return env.get_template("template.html.j2").render(context)
