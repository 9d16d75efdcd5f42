"""`genesys-finance report`: one self-contained HTML file from the `finance` marts.

`write_report` reads the marts through the warehouse connection (`queries`), draws the charts
offline (`charts`: Vega-Altair + vl-convert) and fills one HTML template (`html`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from genesys_finance.report.period import Period

if TYPE_CHECKING:
    from genesys_finance.report.queries import ReportData
    from genesys_finance.settings import Settings

__all__ = ["Period", "ReportError", "WrittenReport", "read_report_data", "summary", "write_report"]


class ReportError(RuntimeError):
    """The marts cannot answer (missing or empty): the message says what to run first."""


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    data: ReportData


def read_report_data(settings: Settings, start: date | None, end: date | None) -> ReportData:
    """The report's figures over whole months; without dates, every month the marts hold."""
    from genesys_finance.report import queries
    from genesys_finance.warehouse import connect

    with connect(settings) as conn:
        try:
            bounds = queries.data_months(conn)
        except Exception as exc:  # the driver's own "table does not exist" error
            raise ReportError(
                f"cannot read {queries.RECON} on the {settings.target} target ({exc}). "
                "Build the marts first: genesys-finance build (or genesys-finance run)."
            ) from exc
        if bounds is None and (start is None or end is None):
            raise ReportError(
                f"{queries.RECON} is empty on the {settings.target} target: load data first "
                "(genesys-finance run, or genesys-finance demo for simulated data), "
                "or pass --start and --end."
            )
        if bounds is not None:
            first, last = bounds
            start = start or first
            end = end or date.fromordinal(last.toordinal() + 1)
        assert start is not None and end is not None
        return queries.read(conn, Period.covering(start, end))


def write_report(
    settings: Settings, out: Path, start: date | None = None, end: date | None = None
) -> WrittenReport:
    from genesys_finance.report import charts, html

    data = read_report_data(settings, start, end)
    page = html.render(data, charts.render(data), settings.target)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return WrittenReport(out, data)


def summary(data: ReportData, queues: int = 5) -> str:
    """A few lines for a terminal: the headline figures and the costliest queues per minute."""
    from genesys_finance.report.html import money, rate

    h = data.headline
    lines = [
        f"Finance summary, {data.period.label}",
        f"  true cost   {money(h.true_cost):>16}   ({h.rated_legs:,} rated legs of {h.legs:,})",
        f"  billed      {money(h.billed):>16}",
        f"  variance    {money(h.variance):>16}   (billed - expected)",
        f"  revenue     {money(h.revenue):>16}",
        f"  margin      {money(h.margin):>16}",
    ]
    if data.discrepancy_totals:
        lines.append("  discrepancies:")
        for d in data.discrepancy_totals:
            lines.append(
                f"    {d.discrepancy_type:22} {d.rows:>7,} rows   variance {money(d.variance):>12}"
            )
    top = [q for q in data.cost_per_minute_by_queue if q["cost_per_minute"] is not None][:queues]
    if top:
        lines.append(f"  {len(top)} queues with the highest cost per billable minute:")
        for q in top:
            lines.append(
                f"    {q['queue']:30} {rate(q['cost_per_minute']):>10} / min"
                f"   over {q['minutes']:,.0f} min"
            )
    return "\n".join(lines)
