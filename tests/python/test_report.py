"""`genesys-finance report` on both targets: the figures, the per-type discrepancy totals and the
top-discrepancy rows the page states equal what SQL written here reads from the `finance` marts;
the period is whole months; the page is self-contained; a missing mart says what to run.

The warehouse is built the product's way: the simulator over HTTP, `genesys-finance run` with
the simulated carriers' CDR files (extract, load, dbt build), once per target for the module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

import raw_loader
from conftest import HMAC_TEST_KEY, _admin_connect, _admin_pg, make_settings
from genesys_finance import cli
from genesys_finance.report.period import Period
from genesys_finance.settings import PostgresSettings, Settings
from report_pages import data_elements, figures

START, END = date(2024, 4, 1), date(2024, 6, 1)
NOW = datetime(2024, 7, 1, tzinfo=UTC)  # past the data lag: every simulated day is final


def settings_env(settings: Settings) -> dict[str, str]:
    pg = settings.postgres
    return {
        "GENESYS_FINANCE_TARGET": settings.target,
        "GENESYS_FINANCE_DUCKDB": str(settings.duckdb_path),
        "GENESYS_FINANCE_HMAC_KEY": HMAC_TEST_KEY,
        "GENESYS_FINANCE_DEMO_LOOKUPS": "true",
        "PGHOST": pg.host,
        "PGPORT": str(pg.port),
        "PGUSER": pg.user,
        "PGPASSWORD": pg.password,
        "PGDATABASE": pg.database,
    }


def build_with_run(settings: Settings, work: Path, months: tuple[date, date]) -> None:
    """Simulator on loopback + its carriers' CDR files, then `genesys-finance run`."""
    from genesys_sim.carrier import write_cdr_files
    from genesys_sim.server import SimulatorConfig, start_simulator

    start, end = months
    config = SimulatorConfig(
        seed=7,  # the demo seed: the demo client contracts name its queue ids
        start=start,
        end=end,
        conversations_per_day=12,
        now=NOW,
        job_delay_s=0.2,
        client_id="sim-client",
        client_secret="sim-secret",
    )
    with pytest.MonkeyPatch.context() as mp:
        for key, value in settings_env(settings).items():
            mp.setenv(key, value)
        with start_simulator(config, "127.0.0.1", 0) as sim:
            mp.setenv("GENESYS_API_URL", sim.base_url)
            mp.setenv("GENESYS_LOGIN_URL", sim.base_url)
            mp.setenv("GENESYS_CLIENT_ID", "sim-client")
            mp.setenv("GENESYS_CLIENT_SECRET", "sim-secret")
            files = write_cdr_files(sim.generator, start, end, work / "cdrs", seed=7)
            status = cli.main(
                [
                    "run",
                    "--start",
                    start.isoformat(),
                    "--end",
                    end.isoformat(),
                    "--quiet",
                    "--cdrs",
                    *map(str, files.cdr_paths),
                    "--dbt-target-path",
                    str(work / "target"),
                ]
            )
    assert status == 0, "genesys-finance run failed"


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    target = str(request.param)
    work = tmp_path_factory.mktemp(f"report_{target}")
    pg_name = None
    pg: PostgresSettings | None = None
    if target == "postgres":
        pg_name = f"gf_test_report_{work.name[-8:].replace('-', '_')}"
        conn = _admin_connect()
        conn.cursor().execute(f'drop database if exists "{pg_name}"')
        conn.cursor().execute(f'create database "{pg_name}"')
        conn.close()
        admin = _admin_pg()
        pg = PostgresSettings(admin.host, admin.port, admin.user, admin.password, pg_name)
    settings = make_settings(target, work, pg)
    try:
        build_with_run(settings, work, (START, END))
        yield settings
    finally:
        if pg_name:
            conn = _admin_connect()
            conn.cursor().execute(f'drop database if exists "{pg_name}" with (force)')
            conn.close()


def write_report(settings: Settings, out: Path, *extra: str) -> tuple[int, str]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in settings_env(settings).items():
            mp.setenv(key, value)
        status = cli.main(["report", "--out", str(out), "--target", settings.target, *extra])
    return status, out.read_text(encoding="utf-8") if out.exists() else ""


def one(settings: Settings, sql: str) -> tuple[Any, ...]:
    return raw_loader.fetch(settings, sql)[0]


def money(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)


def test_figures_equal_the_marts(built: Settings, tmp_path: Path) -> None:
    status, page = write_report(built, tmp_path / "report.html")
    assert status == 0
    shown = figures(page)
    # Without --start/--end the report covers every month: sums over whole marts.
    legs = one(built, "select sum(expected_cost), count(*) from finance.fct_voice_leg_costs")
    recon = one(
        built,
        "select sum(billed_amount), sum(variance_amount) from finance.fct_billing_reconciliation",
    )
    revenue = one(built, "select sum(revenue), sum(margin) from finance.fct_revenue_attribution")
    assert legs[1] > 0, "the build produced no legs: the test would prove nothing"
    assert shown == {
        "true_cost": money(legs[0]),
        "billed": money(recon[0]),
        "variance": money(recon[1]),
        "revenue": money(revenue[0]),
        "margin": money(revenue[1]),
    }
    assert shown["true_cost"] > 0 and shown["billed"] > 0


def test_discrepancies_equal_the_marts(built: Settings, tmp_path: Path) -> None:
    status, page = write_report(built, tmp_path / "report.html")
    assert status == 0
    by_type = raw_loader.fetch(
        built,
        "select discrepancy_type, count(*), sum(variance_amount) "
        "from finance.fct_billing_reconciliation where discrepancy_type <> 'none' group by 1",
    )
    assert by_type, "the simulator injects discrepancies: none reached the mart"
    shown = {
        a["data-type"]: (int(a["data-rows"]), Decimal(a["data-variance"]))
        for _, a in data_elements(page)
        if "data-type" in a
    }
    assert shown == {kind: (int(n), money(v)) for kind, n, v in by_type}

    # The table of top discrepancies: the largest absolute variances, each as the mart has it.
    rows = [a for tag, a in data_elements(page) if tag == "tr" and "data-leg" in a]
    assert rows
    variances = [abs(Decimal(r["data-variance"] or 0)) for r in rows]
    assert variances == sorted(variances, reverse=True)
    largest = one(
        built,
        "select max(abs(coalesce(variance_amount, 0))) from finance.fct_billing_reconciliation "
        "where discrepancy_type <> 'none'",
    )[0]
    assert variances[0] == money(largest)
    for row in rows[:5]:
        key, column = (
            ("leg_id", row["data-leg"]) if row["data-leg"] else ("cdr_id", row["data-cdr"])
        )
        mart = raw_loader.fetch(
            built,
            "select variance_amount from finance.fct_billing_reconciliation "
            f"where {key} = '{column}'",
        )
        assert money(row["data-variance"] or None) in [money(v) for (v,) in mart]


def test_period_is_whole_months(built: Settings, tmp_path: Path) -> None:
    status, page = write_report(
        built, tmp_path / "may.html", "--start", "2024-05-10", "--end", "2024-05-20"
    )
    assert status == 0
    assert "2024-05-01 to 2024-06-01" in page
    revenue = one(
        built,
        "select sum(revenue) from finance.fct_revenue_attribution "
        "where month >= cast('2024-05-01' as date) and month < cast('2024-06-01' as date)",
    )
    april = one(
        built,
        "select sum(revenue) from finance.fct_revenue_attribution "
        "where month < cast('2024-05-01' as date)",
    )
    assert money(april[0]) > 0, "April has revenue: leaving it out must change the figure"
    billed = one(
        built,
        "select sum(billed_amount) from finance.fct_billing_reconciliation "
        "where billing_period = cast('2024-05-01' as date)",
    )
    shown = figures(page)
    assert shown["revenue"] == money(revenue[0])
    assert shown["billed"] == money(billed[0])


def test_page_is_self_contained(built: Settings, tmp_path: Path) -> None:
    status, page = write_report(built, tmp_path / "report.html")
    assert status == 0
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "links outside the file"
    assert page.count("<svg") >= 4


def test_empty_warehouse_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings("duckdb", tmp_path)
    status, _ = write_report(settings, tmp_path / "report.html")
    assert status == 1
    assert "genesys-finance build" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2024, 5, 10), date(2024, 5, 20), (date(2024, 5, 1), date(2024, 6, 1))),
        (date(2024, 1, 1), date(2024, 3, 1), (date(2024, 1, 1), date(2024, 3, 1))),
        (date(2023, 12, 31), date(2024, 1, 2), (date(2023, 12, 1), date(2024, 2, 1))),
    ],
)
def test_period_covering(start: date, end: date, expected: tuple[date, date]) -> None:
    period = Period.covering(start, end)
    assert (period.start, period.end) == expected


def test_period_rejects_an_empty_range() -> None:
    with pytest.raises(ValueError, match="must be after"):
        Period.covering(date(2024, 5, 1), date(2024, 5, 1))


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_help_has_an_example(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out
    example = out.split("examples:", 1)[1]
    assert f"genesys-finance {name}" in example


def test_summary_names_the_costliest_queues(
    built: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = write_report(built, tmp_path / "report.html")
    assert status == 0
    out = capsys.readouterr().out
    per_queue = raw_loader.fetch(
        built,
        "select queue_id, sum(true_cost), sum(rated_minutes) from finance.fct_billing_per_minute "
        "group by queue_id having sum(rated_minutes) > 0",
    )
    ratios = sorted((money(cost) / money(minutes) for _, cost, minutes in per_queue), reverse=True)
    assert len(ratios) >= 5
    printed = [
        Decimal(m.group(1)) for m in re.finditer(r"^\s{4}.+?\s([\d,.]+) / min", out, re.MULTILINE)
    ]
    assert printed == [r.quantize(Decimal("0.0001"), ROUND_HALF_UP) for r in ratios[:5]]
    assert "Finance summary" in out and "Report: " in out
