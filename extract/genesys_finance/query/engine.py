"""Plan and answer one analyst query: which API calls (if any), then the SQL on the warehouse.

Planning reads only the SQL and the job ledger; it calls nothing (so `--explain` can print it).
Answering: the aggregates route calls the aggregates endpoint once per time span; the detail
route fetches the month chunks the ledger does not hold complete (with the pushed-down filters),
refreshes the flattened models it needs with dbt, and runs the rewritten SQL on the warehouse.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from genesys_finance.ledger import DOWNLOADED
from genesys_finance.ledger import TABLE as LEDGER_TABLE
from genesys_finance.planner import Interval, floor_to_second, split_interval
from genesys_finance.query import aggregates as agg
from genesys_finance.query import marts
from genesys_finance.query.catalog import TIME_COLUMN, VIRTUAL_TABLES
from genesys_finance.query.fetch import job_body
from genesys_finance.query.parse import (
    ParsedQuery,
    QueryRefused,
    parse_query,
    rewrite_for_warehouse,
)
from genesys_finance.query.pushdown import (
    Pushdown,
    PushedFilters,
    Scope,
    plan_pushdown,
    scopes,
)
from genesys_finance.query.timerange import TimeRange, time_range, union
from genesys_finance.settings import Settings

log = logging.getLogger("genesys_finance.query")

ROUTES = ("auto", "detail", "aggregates")
POLLS_PER_JOB = 3
"""Estimated status polls per detail job (the simulator's and production's jobs take seconds)."""


@dataclass(frozen=True)
class QueryOptions:
    offline: bool = False
    route: str = "auto"
    """`detail` / `aggregates` force a route (tests answer the same SQL both ways)."""
    poll_initial_s: float = 1.0
    dbt_target_path: str | None = None
    page_size: int = 1000


@dataclass
class QueryPlan:
    parsed: ParsedQuery
    scopes: list[Scope]
    time_range: TimeRange
    pushdown: Pushdown
    aggregate: agg.AggregatePlan | None
    aggregate_reason: str
    chunks: list[Interval]
    complete: list[Interval]
    models: list[str]
    target: str
    mart_range: TimeRange | None = None
    """The `conversation_start` range asked of the marts, when their SELECTs give one."""
    mart_missing: list[Interval] = field(default_factory=list)
    """Chunks of `mart_range` never extracted in full: the marts cannot hold them."""

    @property
    def route(self) -> str:
        return "aggregates" if self.aggregate is not None else "detail"

    @property
    def to_fetch(self) -> list[Interval]:
        return [c for c in self.chunks if c not in self.complete]

    def detail_bodies(self) -> list[dict[str, Any]]:
        return [job_body(chunk, self.pushdown.filters) for chunk in self.to_fetch]

    def estimated_calls(self, conversations_per_day: float | None, page_size: int) -> str:
        if self.aggregate is not None:
            spans = len(self.aggregate.spans)
            return f"{spans + 2} (token, availability, {spans} aggregates call(s))"
        if not self.to_fetch:
            return "0 (every chunk is complete in the warehouse)"
        jobs = len(self.to_fetch)
        pages = jobs
        if conversations_per_day:
            days = sum((c.end - c.start) / timedelta(days=1) for c in self.to_fetch)
            pages = max(jobs, int(-(-conversations_per_day * days // page_size)))
        total = 4 + jobs * (1 + POLLS_PER_JOB) + pages
        return (
            f"~{total} (token, availability, the org's DID pools and DIDs for masking, "
            f"{jobs} job submission(s), ~{jobs * POLLS_PER_JOB} status polls, "
            f"~{pages} result page(s) of {page_size})"
        )


@dataclass
class QueryResult:
    table: pa.Table
    plan: QueryPlan
    notes: list[str] = field(default_factory=list)
    route: str = "detail"
    api_requests: int = 0
    jobs_submitted: int = 0
    seconds: float = 0.0


class QueryError(RuntimeError):
    """The query could not be answered (the API or the warehouse failed)."""


# ---------------------------------------------------------------------------- planning


def plan_query(settings: Settings, sql: str, options: QueryOptions | None = None) -> QueryPlan:
    options = options or QueryOptions()
    if options.route not in ROUTES:
        raise ValueError(f"route must be one of {ROUTES}")
    parsed = parse_query(sql)
    found = scopes(parsed.tree)
    if found:
        ranges = [time_range(s.select.args.get("where"), set(s.aliases)) for s in found]
        rng = union(ranges)
    else:  # marts only: nothing to fetch
        rng = TimeRange((), True)
    pushdown = plan_pushdown(found)
    aggregate, reason = (None, "the query reads no virtual table")
    if found and options.route != "detail":
        aggregate, reason = agg.plan_aggregates(parsed, found, rng)
    if options.route == "aggregates" and aggregate is None:
        raise QueryRefused(f"the aggregates route cannot answer this query: {reason}")
    if options.route == "detail" and found:
        reason = "detail route forced"
    chunks = fetch_chunks_for(rng)
    complete = _complete_chunks(settings, chunks, pushdown) if found else []
    if aggregate is not None and options.route == "auto" and chunks and complete == chunks:
        # No call at all is cheaper than one per span; the tests prove both give one answer.
        aggregate = None
        reason = (
            "the warehouse holds the whole range complete: answered from it with no API call "
            "(the aggregates endpoint would answer the same)"
        )
    # Every staging virtual table at once (one dbt run keeps them all current, so a later query
    # on another table needs none); the intermediate one only when read.
    models: list[str] = []
    for virtual in VIRTUAL_TABLES.values():
        wanted = virtual.schema == "staging" or virtual.name in parsed.virtual_tables
        if wanted and virtual.model not in models:
            models.append(virtual.model)
    mart_range = marts.mart_range(parsed.tree) if parsed.marts else None
    return QueryPlan(
        parsed=parsed,
        scopes=found,
        time_range=rng,
        pushdown=pushdown,
        aggregate=aggregate,
        aggregate_reason=reason,
        chunks=chunks,
        complete=complete,
        models=models,
        target=settings.target,
        mart_range=mart_range,
        mart_missing=_never_extracted(settings, mart_range),
    )


def fetch_chunks_for(rng: TimeRange, limit: datetime | None = None) -> list[Interval]:
    """Whole UTC days around each span, merged, cut into calendar months (the extractor's
    planner), and capped at `limit` (the availability watermark)."""
    days: list[tuple[datetime, datetime]] = []
    for start, end in rng.spans:
        first = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        last = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if last < end:
            last += timedelta(days=1)
        if days and days[-1][1] >= first:
            days[-1] = (days[-1][0], max(days[-1][1], last))
        else:
            days.append((first, last))
    chunks: list[Interval] = []
    for start, end in days:
        if limit is not None:
            end = min(end, limit)
        chunks += split_interval(start, end)
    return chunks


def _ledger_rows(settings: Settings) -> list[tuple[Any, ...]]:
    """Downloaded jobs: (start, end, filter_key, conversations); empty if there is no ledger."""
    from genesys_finance import warehouse as wh

    exists = wh.query(
        settings,
        "select count(*) from information_schema.columns where table_schema = 'genesys_raw' "
        "and table_name = 'extract_jobs' and column_name = 'filter_key'",
    )
    if not exists or not exists[0][0]:
        old = wh.query(
            settings,
            "select count(*) from information_schema.tables where table_schema = 'genesys_raw' "
            "and table_name = 'extract_jobs'",
        )
        if not old or not old[0][0]:
            return []
        sql = (
            f"select interval_start, interval_end, null, conversations from {LEDGER_TABLE} "
            f"where state = '{DOWNLOADED}'"
        )
    else:
        sql = (
            f"select interval_start, interval_end, filter_key, conversations from {LEDGER_TABLE} "
            f"where state = '{DOWNLOADED}'"
        )
    return wh.query(settings, sql)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _complete_chunks(
    settings: Settings, chunks: list[Interval], pushdown: Pushdown
) -> list[Interval]:
    """Chunks some downloaded job covers, unfiltered or with exactly these filters (a job's
    overlap semantics return every conversation that started inside its interval)."""
    if not chunks:
        return []
    key = pushdown.filters.key
    jobs = [
        (_utc(start), _utc(end))
        for start, end, job_key, _ in _ledger_rows(settings)
        if job_key is None or job_key == key
    ]
    return [c for c in chunks if any(s <= c.start and c.end <= e for s, e in jobs)]


def _never_extracted(settings: Settings, rng: TimeRange | None) -> list[Interval]:
    """Chunks of `rng` no unfiltered job covers (the marts are built from every extracted
    conversation, so only a plain extraction fills a chunk of theirs)."""
    if rng is None:
        return []
    chunks = fetch_chunks_for(rng)
    held = _complete_chunks(settings, chunks, Pushdown(PushedFilters()))
    return [c for c in chunks if c not in held]


def conversations_per_day(settings: Settings) -> float | None:
    """From unfiltered downloaded jobs, for the estimate of result pages."""
    try:
        rows = [r for r in _ledger_rows(settings) if r[2] is None]
    except Exception:
        return None
    days = sum((_utc(e) - _utc(s)) / timedelta(days=1) for s, e, _, _ in rows)
    return sum(int(r[3]) for r in rows) / days if days else None


# ---------------------------------------------------------------------------- explain


def explain(settings: Settings, plan: QueryPlan, options: QueryOptions | None = None) -> str:
    options = options or QueryOptions()
    lines = [f"time range (conversation_start): {plan.time_range.label()}"]
    lines.append(
        "availability watermark: not checked (--explain calls nothing); chunks past the API's "
        "dataAvailabilityDate are cut at it when the query runs"
    )
    if plan.aggregate is not None:
        lines.append(
            f"route: aggregates ({len(plan.aggregate.spans)} call(s) to POST "
            f"{agg.AGGREGATES_PATH});"
            " a 403 (no analytics:conversationAggregate:view) falls back to detail jobs"
        )
        for body in plan.aggregate.bodies():
            lines.append(f"  POST {agg.AGGREGATES_PATH} {json.dumps(body)}")
    else:
        lines.append(f"route: detail jobs ({plan.aggregate_reason or 'not aggregable'})")
        lines.append(
            "chunks complete in the warehouse: "
            + (", ".join(c.label for c in plan.complete) or "none")
        )
        bodies = plan.detail_bodies()
        lines.append(f"chunks to fetch: {len(bodies)}")
        for body in bodies:
            lines.append(f"  POST /api/v2/analytics/conversations/details/jobs {json.dumps(body)}")
        lines.append(f"dbt models refreshed if anything is fetched: {', '.join(plan.models)}")
    pd = plan.pushdown
    if plan.aggregate is not None:
        terms = "; ".join(pd.pushed + pd.local) or "none"
        lines.append(f"applied by the aggregates endpoint (interval, metrics, filter): {terms}")
        lines.append("evaluated locally: grouping, ordering and expressions over its cells")
    else:
        lines.append(
            "pushed down to the API (and re-checked locally): " + ("; ".join(pd.pushed) or "none")
        )
        if pd.reason:
            lines.append(f"  nothing pushed: {pd.reason}")
        lines.append("evaluated locally: " + ("; ".join(pd.local) or "none"))
    if plan.parsed.marts:
        lines.append(marts.READ_AS_BUILT.format(names=", ".join(sorted(plan.parsed.marts))))
        if plan.mart_missing:
            lines.append(
                "  never extracted, so not in the marts: "
                + ", ".join(c.label for c in plan.mart_missing)
            )
    per_day = None if plan.aggregate is not None else conversations_per_day(settings)
    lines.append(f"estimated API calls: {plan.estimated_calls(per_day, options.page_size)}")
    sql = (
        plan.aggregate.rewritten.sql(dialect="duckdb")
        if plan.aggregate is not None
        else rewrite_for_warehouse(plan.parsed, plan.target)
    )
    lines.append(
        f"SQL that runs ({'over the aggregates cells' if plan.aggregate else plan.target}):"
    )
    lines.append(f"  {sql}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- answering


def run_query(settings: Settings, sql: str, options: QueryOptions | None = None) -> QueryResult:
    options = options or QueryOptions()
    started = time.monotonic()
    plan = plan_query(settings, sql, options)
    if options.offline:
        result = _offline(settings, plan)
    elif plan.aggregate is not None:
        result = _aggregates_or_fallback(settings, plan, options)
    else:
        result = _detail(settings, plan, options, [])
    if plan.parsed.marts:
        result.notes += _mart_notes(settings, plan)
    result.seconds = time.monotonic() - started
    for note in result.notes:
        log.info("%s", note)
    metadata = {b"genesys_finance.notes": json.dumps(result.notes).encode()}
    result.table = result.table.replace_schema_metadata(metadata)
    return result


def _offline(settings: Settings, plan: QueryPlan) -> QueryResult:
    notes = ["offline: answered from the warehouse only"]
    missing = plan.to_fetch
    if missing:
        notes.append(
            "the warehouse does not hold these parts of the range complete: "
            + ", ".join(c.label for c in missing)
            + (f" (with filters {plan.pushdown.filters.key})" if plan.pushdown.filters else "")
        )
    from genesys_finance.dbt_runner import DbtError

    try:
        table = _run_sql(settings, plan, refresh_if_missing=True)
    except DbtError as exc:
        raise QueryError(
            "offline: the warehouse holds no flattened conversations to answer from "
            f"(dbt could not build {', '.join(plan.models)}); run the query online or "
            f"`genesys-finance extract` first. dbt said: {str(exc).splitlines()[0]}"
        ) from None
    return QueryResult(table, plan, notes, route="offline")


def _client(settings: Settings) -> Any:
    from genesys_finance.api.http import ApiClient

    api_url, login_url, client_id, client_secret = settings.require_api()
    return ApiClient(api_url, login_url, client_id, client_secret)


def _aggregates_or_fallback(
    settings: Settings, plan: QueryPlan, options: QueryOptions
) -> QueryResult:
    from genesys_finance.api.errors import ApiError
    from genesys_finance.api.jobs import DetailJobs

    assert plan.aggregate is not None
    client = _client(settings)
    notes: list[str] = []
    try:
        availability = floor_to_second(DetailJobs(client).data_availability_date())
        capped = plan.time_range.capped(availability)
        if capped.end < plan.time_range.end:
            notes.append(_watermark_note(availability))
        aggregate, reason = agg.plan_aggregates(plan.parsed, plan.scopes, capped)
        if aggregate is None:
            notes.append(f"aggregates route dropped after the watermark cut: {reason}")
            plan.aggregate = None
            return _detail(settings, plan, options, notes, client_requests=client.stats.requests)
        responses = []
        try:
            for body in aggregate.bodies():
                responses.append(client.post(agg.AGGREGATES_PATH, body))
        except ApiError as exc:
            if exc.status != 403:
                raise QueryError(f"aggregates query failed: {exc}") from exc
            notes.append(
                "the aggregates endpoint answered 403 (the OAuth client lacks "
                "analytics:conversationAggregate:view): answered from detail jobs instead"
            )
            plan.aggregate = None
            plan.aggregate_reason = "aggregates refused (403)"
            return _detail(settings, plan, options, notes, client_requests=client.stats.requests)
        notes.append(
            f"answered by the aggregates endpoint: {len(responses)} call(s), no detail jobs"
        )
        table = agg.answer(aggregate, agg.cells_table(responses))
        return QueryResult(
            table, plan, notes, route="aggregates", api_requests=client.stats.requests
        )
    finally:
        client.close()


def _mart_notes(settings: Settings, plan: QueryPlan) -> list[str]:
    """What the answer's marts hold: read as built, the range never extracted, staleness."""
    notes = [marts.READ_AS_BUILT.format(names=", ".join(sorted(plan.parsed.marts)))]
    plan.mart_missing = _never_extracted(settings, plan.mart_range)  # this query may have fetched
    if plan.mart_missing:
        notes.append(
            "the warehouse never extracted these parts of the range asked of the marts, so "
            "the marts hold nothing for them: "
            + ", ".join(c.label for c in plan.mart_missing)
            + " (`genesys-finance extract --start ... --end ...`, then `genesys-finance build`)"
        )
    stale = marts.stale_conversations(settings)
    if stale is not None and stale[0]:
        notes.append(marts.stale_note(*stale))
    return notes


def _watermark_note(availability: datetime) -> str:
    return (
        f"the API holds complete data up to {availability.isoformat()} (dataAvailabilityDate): "
        "the answer covers the range up to it"
    )


def _detail(
    settings: Settings,
    plan: QueryPlan,
    options: QueryOptions,
    notes: list[str],
    client_requests: int = 0,
) -> QueryResult:
    from genesys_finance.api.jobs import DetailJobs
    from genesys_finance.query.fetch import fetch_chunks

    requests = client_requests
    jobs_submitted = 0
    if plan.chunks and plan.to_fetch:
        client = _client(settings)
        try:
            availability = floor_to_second(DetailJobs(client).data_availability_date())
        finally:
            requests += client.stats.requests
            client.close()
        capped = fetch_chunks_for(plan.time_range, availability)
        cut = not capped or capped[-1].end < plan.chunks[-1].end
        if cut and _watermark_note(availability) not in notes:  # a fallback may have said it
            notes.append(_watermark_note(availability))
        plan.chunks = capped
        plan.complete = _complete_chunks(settings, capped, plan.pushdown)
    fetched = False
    if plan.to_fetch:
        summary = fetch_chunks(
            settings, plan.to_fetch, plan.pushdown.filters, poll_initial_s=options.poll_initial_s
        )
        requests += summary.requests
        jobs_submitted = summary.jobs_submitted
        fetched = True
        notes.append(
            f"fetched {len(plan.to_fetch)} chunk(s) with detail jobs "
            f"({summary.conversations} conversations"
            + (f", filters {plan.pushdown.filters.key}" if plan.pushdown.filters else "")
            + ")"
        )
    elif plan.chunks:
        notes.append("every chunk was complete in the warehouse: no API call")
    if fetched:
        _refresh(settings, plan, options)
    table = _run_sql(settings, plan, refresh_if_missing=True, options=options)
    return QueryResult(
        table, plan, notes, route="detail", api_requests=requests, jobs_submitted=jobs_submitted
    )


def _refresh(settings: Settings, plan: QueryPlan, options: QueryOptions | None = None) -> None:
    from genesys_finance.dbt_runner import run_dbt

    target_path = options.dbt_target_path if options else None
    run_dbt(settings, ["run", "--select", *plan.models], target_path=target_path)


def _missing_models(settings: Settings, plan: QueryPlan) -> bool:
    from genesys_finance import warehouse as wh

    wanted = {
        (VIRTUAL_TABLES[t].schema, VIRTUAL_TABLES[t].model) for t in plan.parsed.virtual_tables
    }
    if not wanted:
        return False
    rows = wh.query(
        settings,
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('staging', 'intermediate')",
    )
    return not wanted <= {(str(s), str(n)) for s, n in rows}


def _run_sql(
    settings: Settings,
    plan: QueryPlan,
    *,
    refresh_if_missing: bool,
    options: QueryOptions | None = None,
) -> pa.Table:
    if plan.parsed.marts:
        missing = marts.unbuilt(settings, plan.parsed.marts)
        if missing:
            raise QueryError(marts.not_built_message(missing))
    if refresh_if_missing and _missing_models(settings, plan):
        _refresh(settings, plan, options)
    sql = rewrite_for_warehouse(plan.parsed, settings.target)
    try:
        return execute_read_only(settings, sql)
    except QueryError as exc:
        stale = _models_without_time_column(settings, plan)
        if not stale:
            raise
        raise QueryError(
            f"{exc}. The warehouse predates `{TIME_COLUMN}` on {', '.join(stale)}: run "
            "`genesys-finance build --full-refresh` once (README, migration notes)"
        ) from None


def _models_without_time_column(settings: Settings, plan: QueryPlan) -> list[str]:
    """The query's models built before they carried `conversation_start` (asked only once a
    query failed: a warehouse that is not fully refreshed since the upgrade)."""
    from genesys_finance import warehouse as wh

    timed = {
        (str(s), str(n))
        for s, n in wh.query(
            settings,
            "select table_schema, table_name from information_schema.columns "
            f"where column_name = '{TIME_COLUMN}'",
        )
    }
    models = sorted(
        {(VIRTUAL_TABLES[t].schema, VIRTUAL_TABLES[t].model) for t in plan.parsed.virtual_tables}
    )
    return [m for s, m in models if (s, m) not in timed]


def execute_read_only(settings: Settings, sql: str) -> pa.Table:
    """Run one generated SELECT on a read-only connection, in UTC, without file access (DuckDB)
    or as a role that may only read the query layer's schemas (Postgres, `pgrole.py`)."""
    if settings.target == "duckdb":
        import duckdb

        conn = duckdb.connect(str(settings.duckdb_path), read_only=True)
        try:
            conn.execute("set TimeZone = 'UTC'")
            conn.execute("set enable_external_access = false")
            conn.execute("set lock_configuration = true")
            return conn.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise QueryError(f"the warehouse refused the query: {exc}") from None
        finally:
            conn.close()
    import psycopg2

    from genesys_finance.query.pgrole import grant_query_role, set_role_sql

    conn = psycopg2.connect(settings.postgres.dsn())
    try:
        role = grant_query_role(conn)
        conn.set_session(readonly=True)
        cur = conn.cursor()
        cur.execute(set_role_sql(role))  # SELECT on the query layer's schemas, nothing else
        cur.execute("set time zone 'UTC'")
        try:
            cur.execute(sql)
        except psycopg2.Error as exc:
            raise QueryError(
                f"the warehouse refused the query: {str(exc).strip().splitlines()[0]}"
            ) from None
        names = [d[0] for d in cur.description or ()]
        rows = cur.fetchall()
        conn.rollback()
    finally:
        conn.close()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.Table.from_arrays([pa.array(list(c)) for c in columns], names=names)
