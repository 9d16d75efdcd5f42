"""The query layer against the simulator over HTTP and real warehouses: every query of the table
answered online on a fresh warehouse equals the same SQL run verbatim by DuckDB on a fully
loaded warehouse (and the offline answer there); the
ledger's filter bookkeeping (no job calls on a repeat, new jobs for another filter); the 403
fallback; the availability watermark; offline answers; the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from conftest import make_settings
from genesys_finance import cli
from genesys_finance import warehouse as wh
from genesys_finance.dbt_runner import run_dbt
from genesys_finance.ledger import Ledger
from genesys_finance.query.catalog import VIRTUAL_TABLES
from genesys_finance.query.engine import QueryOptions, QueryResult, run_query
from genesys_finance.runner import ExtractOptions, run_extract
from genesys_finance.settings import Settings
from query_cases import CASES
from sim_fixtures import StartSimulator, accepted_jobs, request_log
from test_extract_support import cli_env

START, END = date(2024, 5, 1), date(2024, 5, 8)
AGGREGATES_PATH = "/api/v2/analytics/conversations/aggregates/query"
ALL_MODELS = sorted({t.model for t in VIRTUAL_TABLES.values()})
TALK_PER_DAY = (
    "select metric_name, date_trunc('day', conversation_start) as day, sum(metric_value) as total,"
    " count(*) as n, max(metric_value) as hi from genesys.session_metrics "
    "where conversation_start >= '2024-05-01' and conversation_start < '2024-05-04' "
    "and metric_name in ('tTalk', 'tHandle') group by 1, 2 order by 1, 2"
)


def _with_api(settings: Settings, base_url: str) -> Settings:
    return replace(settings, api_url=base_url, login_url=base_url)


def _normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | Decimal | float):
        # An average is a double on DuckDB and a numeric on Postgres: compare to 1e-6.
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        return number if number == number.to_integral() else number.quantize(Decimal("1e-6"))
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """Rows with engine-neutral values (ints and decimals compare as decimals), sorted."""
    found = [tuple(_normal(v) for v in row.values()) for row in table.to_pylist()]
    return sorted(found, key=repr)


def _online(settings: Settings, sql: str, tmp_path: Path, **options: Any) -> QueryResult:
    return run_query(
        settings,
        sql,
        QueryOptions(poll_initial_s=0.1, dbt_target_path=str(tmp_path / "dbt-online"), **options),
    )


def _load_everything(settings: Settings, tmp_path: Path) -> None:
    """The fully loaded warehouse: the whole simulated range extracted and flattened, and the
    virtual tables created as real views in a schema `genesys` (written here, by hand), so the
    analyst's SQL can run there verbatim, without the query layer's rewrite."""
    run_extract(
        settings,
        START,
        END,
        ExtractOptions(poll_initial_s=0.1, quiet=True, skip_dimensions=True),
    )
    run_dbt(settings, ["run", "--select", *ALL_MODELS], target_path=tmp_path / "dbt-loaded")
    conversations = "staging.stg_genesys__conversations"
    views = {
        "conversations": f"select * from {conversations}",
        **{
            # the conversation's start, joined: the models' own copy must equal it
            name: f"select v.* exclude (conversation_start), c.conversation_start "
            f"from {relation} v join {conversations} c on c.conversation_id = v.conversation_id"
            for name, relation in (
                ("participants", "staging.stg_genesys__participants"),
                ("sessions", "staging.stg_genesys__sessions"),
                ("segments", "staging.stg_genesys__segments"),
                ("session_metrics", "staging.stg_genesys__session_metrics"),
                ("session_metrics_pivoted", "intermediate.int_session_metrics_pivoted"),
            )
        },
    }
    assert set(views) == set(VIRTUAL_TABLES)
    with wh.connect(settings) as conn:
        conn.execute("create schema genesys")
        for name, sql in views.items():
            conn.execute(f"create view genesys.{name} as {sql}")


def _verbatim(settings: Settings, sql: str) -> pa.Table:
    """The analyst's SQL, unchanged, on the fully loaded DuckDB warehouse's views."""
    import duckdb

    conn = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        conn.execute("set TimeZone = 'UTC'")
        return conn.sql(sql).to_arrow_table()
    finally:
        conn.close()


@pytest.mark.parametrize("online_target", ["duckdb", "postgres"])
def test_every_query_equals_the_fully_loaded_warehouse(
    online_target: str,
    simulator: StartSimulator,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    sim = simulator(start=START, end=END, conversations_per_day=12)
    loaded = _with_api(make_settings("duckdb", tmp_path / "loaded"), sim.base_url)
    _load_everything(loaded, tmp_path)
    if online_target == "postgres":
        pg = request.getfixturevalue("postgres_database")
        online = make_settings("postgres", tmp_path / "online", pg, api_url=sim.base_url)
    else:
        online = make_settings("duckdb", tmp_path / "online", api_url=sim.base_url)
    # The aggregates cases first: once the detail cases have loaded their range, the warehouse
    # answers an aggregable query itself (test_aggregates_and_detail_routes_agree).
    cases = sorted(CASES, key=lambda c: c.route != "aggregates")

    for case in cases:
        before = len(accepted_jobs(sim))
        expected = _verbatim(loaded, case.sql)
        offline = run_query(loaded, case.sql, QueryOptions(offline=True))
        assert rows(offline.table) == rows(expected), case.name
        got = _online(online, case.sql, tmp_path)
        assert got.route == case.route, case.name
        assert rows(got.table) == rows(expected), case.name
        assert expected.num_rows > 0, f"{case.name}: the table should find rows"
        if case.route == "aggregates":
            assert len(accepted_jobs(sim)) == before, f"{case.name} submitted detail jobs"


def test_aggregates_and_detail_routes_agree(simulator: StartSimulator, tmp_path: Path) -> None:
    sim = simulator(start=START, end=END, conversations_per_day=12)
    settings = make_settings("duckdb", tmp_path, api_url=sim.base_url)
    by_aggregates = _online(settings, TALK_PER_DAY, tmp_path)
    assert by_aggregates.route == "aggregates" and not accepted_jobs(sim)
    calls = [e for e in request_log(sim) if e["path"] == AGGREGATES_PATH]
    assert len(calls) == 1
    by_detail = _online(settings, TALK_PER_DAY, tmp_path, route="detail")
    assert by_detail.route == "detail" and accepted_jobs(sim)
    assert rows(by_detail.table) == rows(by_aggregates.table)
    assert by_detail.table.num_rows == 6  # two metrics x three days

    # The warehouse now holds the range complete: no call at all beats one per span.
    calls = len(request_log(sim))
    from_warehouse = _online(settings, TALK_PER_DAY, tmp_path)
    assert (
        from_warehouse.route == "detail" and "no API call" in from_warehouse.plan.aggregate_reason
    )
    assert len(request_log(sim)) == calls
    assert rows(from_warehouse.table) == rows(by_aggregates.table)


def test_403_falls_back_to_detail_jobs_and_says_so(
    simulator: StartSimulator, tmp_path: Path
) -> None:
    sim = simulator(start=START, end=END, conversations_per_day=12, aggregates_permission=False)
    settings = make_settings("duckdb", tmp_path, api_url=sim.base_url)
    result = _online(settings, TALK_PER_DAY, tmp_path)
    assert result.route == "detail"
    assert any("403" in n and "conversationAggregate:view" in n for n in result.notes)
    assert [e["status"] for e in request_log(sim) if e["path"] == AGGREGATES_PATH] == [403]
    assert accepted_jobs(sim)
    allowed = simulator(start=START, end=END, conversations_per_day=12)
    other = make_settings("duckdb", tmp_path / "allowed", api_url=allowed.base_url)
    assert rows(_online(other, TALK_PER_DAY, tmp_path).table) == rows(result.table)


@pytest.mark.parametrize(
    "target",
    [
        "duckdb",
        "postgres",
    ],
)
def test_repeat_makes_no_job_calls_and_another_filter_does(
    simulator: StartSimulator, warehouse: Settings, tmp_path: Path
) -> None:
    sim = simulator(start=START, end=END, conversations_per_day=10)
    settings = _with_api(warehouse, sim.base_url)
    voice = (
        "select count(*) as n from genesys.sessions where conversation_start >= '2024-05-01' "
        "and conversation_start < '2024-05-03' and media_type = 'voice'"
    )
    first = _online(settings, voice, tmp_path)
    jobs = accepted_jobs(sim)
    assert first.jobs_submitted == len(jobs) == 1
    assert json.loads(str(first.plan.pushdown.filters.key))["segmentFilters"]

    again = _online(settings, voice, tmp_path)
    assert accepted_jobs(sim) == jobs, "a repeat must not submit jobs"
    assert again.api_requests == 0
    assert rows(again.table) == rows(first.table)

    inbound = voice.replace("media_type = 'voice'", "direction = 'inbound'")
    _online(settings, inbound, tmp_path)
    assert len(accepted_jobs(sim)) == 2, "another filter on the same range needs its own job"

    # Filtered chunks never count as complete for `extract`.
    with wh.connect(settings) as conn:
        ledger = Ledger(conn, "qmark" if settings.target == "duckdb" else "format")
        assert ledger.last_complete_end() is None
        assert ledger.unfinished_jobs() == []
        keys = {job.filter_key for job in ledger.all_jobs()}
    assert len(keys) == 2 and None not in keys

    # An unfiltered query then fetches the range once, and filtered queries reuse it.
    plain = voice.replace(" and media_type = 'voice'", "")
    _online(settings, plain, tmp_path)
    assert len(accepted_jobs(sim)) == 3
    _online(settings, voice.replace("'voice'", "'email'"), tmp_path)
    assert len(accepted_jobs(sim)) == 3


def test_watermark_cuts_the_range_and_says_so(simulator: StartSimulator, tmp_path: Path) -> None:
    now = datetime(2024, 5, 3, 12, 0, tzinfo=UTC)
    sim = simulator(start=START, end=END, conversations_per_day=12, now=now, data_lag_s=7200)
    settings = make_settings("duckdb", tmp_path, api_url=sim.base_url)
    sql = (
        "select max(conversation_start) as last, count(*) as n from genesys.conversations "
        "where conversation_start >= '2024-05-01' and conversation_start < '2024-05-06'"
    )
    result = _online(settings, sql, tmp_path)
    assert any("dataAvailabilityDate" in n for n in result.notes)
    (row,) = result.table.to_pylist()
    assert row["n"] > 0
    assert row["last"] < datetime(2024, 5, 3, 10, 0, tzinfo=UTC)
    intervals = [interval for interval, _ in accepted_jobs(sim)]
    assert intervals == ["2024-05-01T00:00:00.000Z/2024-05-03T10:00:00.000Z"]


def test_offline_answers_from_the_warehouse_and_names_what_it_lacks(
    simulator: StartSimulator, tmp_path: Path
) -> None:
    sim = simulator(start=START, end=END, conversations_per_day=10)
    settings = make_settings("duckdb", tmp_path, api_url=sim.base_url)
    day = (
        "select count(*) as n from genesys.conversations "
        "where conversation_start >= '2024-05-01' and conversation_start < '2024-05-02'"
    )
    online = _online(settings, day, tmp_path)
    log_size = len(request_log(sim))
    wider = day.replace("'2024-05-02'", "'2024-05-04'")
    offline = _online(settings, wider, tmp_path, offline=True)
    assert len(request_log(sim)) == log_size, "offline must not call the API"
    assert rows(offline.table) == rows(online.table)
    missing = [n for n in offline.notes if "does not hold" in n]
    assert missing and "2024-05-01/2024-05-04" in missing[0]


def test_cli_explain_calls_nothing_and_query_prints_csv(
    simulator: StartSimulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim = simulator(start=START, end=END, conversations_per_day=8)
    settings = make_settings("duckdb", tmp_path, api_url=sim.base_url)
    for name, value in cli_env(settings).items():
        monkeypatch.setenv(name, value)
    sql = (
        "select media_type, count(*) as n from genesys.sessions "
        "where conversation_start >= '2024-05-01' and conversation_start < '2024-05-02' "
        "and media_type = 'voice' group by 1"
    )
    assert cli.main(["query", "--explain", sql]) == 0
    out = capsys.readouterr().out
    assert request_log(sim) == []
    assert '"interval": "2024-05-01T00:00:00.000Z/2024-05-02T00:00:00.000Z"' in out
    assert '"dimension": "mediaType"' in out and "estimated API calls" in out

    status = cli.main(
        [
            "query",
            "--format",
            "csv",
            "--poll-interval",
            "0.1",
            "--dbt-target-path",
            str(tmp_path / "dbt"),
            sql,
        ]
    )
    captured = capsys.readouterr()
    assert status == 0
    lines = captured.out.strip().splitlines()
    assert lines[0] == "media_type,n" and lines[1].startswith("voice,")
    assert "fetched 1 chunk" in captured.err

    assert cli.main(["query", "delete from genesys.conversations"]) == 2
    assert "refused" in capsys.readouterr().err


def test_python_api_returns_arrow_with_notes(simulator: StartSimulator, tmp_path: Path) -> None:
    import genesys_finance

    sim = simulator(start=START, end=END, conversations_per_day=8)
    settings = make_settings("duckdb", tmp_path, api_url=sim.base_url)
    table = genesys_finance.query(TALK_PER_DAY, settings=settings)
    assert isinstance(table, pa.Table) and table.num_rows == 6
    notes = json.loads(table.schema.metadata[b"genesys_finance.notes"])
    assert any("aggregates endpoint" in n for n in notes)


def test_watermark_cuts_an_aggregates_query_and_says_so(
    simulator: StartSimulator, tmp_path: Path
) -> None:
    now = datetime(2024, 5, 3, 12, 0, tzinfo=UTC)
    sim = simulator(start=START, end=END, conversations_per_day=12, now=now, data_lag_s=7200)
    sql = (
        "select sum(metric_value) as t, count(*) as n from genesys.session_metrics "
        "where conversation_start >= '2024-05-01' and conversation_start < '2024-05-06' "
        "and metric_name = 'tHandle'"
    )
    by_aggregates = _online(make_settings("duckdb", tmp_path, api_url=sim.base_url), sql, tmp_path)
    assert by_aggregates.route == "aggregates" and not accepted_jobs(sim)
    assert any("dataAvailabilityDate" in n for n in by_aggregates.notes)
    by_detail = _online(
        make_settings("duckdb", tmp_path / "detail", api_url=sim.base_url),
        sql,
        tmp_path,
        route="detail",
    )
    assert [interval for interval, _ in accepted_jobs(sim)] == [
        "2024-05-01T00:00:00.000Z/2024-05-03T10:00:00.000Z"
    ]
    assert rows(by_aggregates.table) == rows(by_detail.table)
    assert by_aggregates.table.to_pylist()[0]["n"] > 0

    # A day bucket no longer aligns once the range is cut mid-day: detail jobs answer instead.
    per_day = sql.replace("select ", "select date_trunc('day', conversation_start) as d, ")
    per_day += " group by 1"
    cut = _online(
        make_settings("duckdb", tmp_path / "per-day", api_url=sim.base_url), per_day, tmp_path
    )
    assert cut.route == "detail"
    assert any("dropped after the watermark cut" in n for n in cut.notes)
    assert len([n for n in cut.notes if "dataAvailabilityDate" in n]) == 1
