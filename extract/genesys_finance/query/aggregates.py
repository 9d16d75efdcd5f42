"""The aggregates route: queries `POST /api/v2/analytics/conversations/aggregates/query` answers
exactly, with one call per time span instead of detail jobs.

A query qualifies only when its meaning and the endpoint's attribution agree exactly
(docs/query-layer.md gives the rules and their sources):
- it reads `genesys.session_metrics`, alone or inner-joined to `genesys.sessions` on
  `session_id` (a metric belongs to the session that emitted it: its `mediaType`, `direction`);
- its WHERE is an AND of: an exact range on `conversation_start` (aggregates bucket a metric by
  its conversation's start, like the SQL predicate), `metric_name = / in` (required: the
  endpoint's `metrics`), and `media_type` / `direction` equalities (the endpoint's `filter`);
- it groups by `metric_name`, `media_type`, `direction` and at most one bucket of
  `conversation_start` (`date_trunc('day'|'hour', ...)`, `cast(... as date)`) whose unit every
  span is aligned to (the endpoint's `granularity`);
- its aggregates are `sum(metric_value)` (a count metric `n*`: the stats `count`), and for
  duration metrics `t*` also `count(*)`, `count(metric_value)`, `min(...)`, `max(...)`.
Anything else (other columns, subqueries, DISTINCT, windows, `o*` metrics) uses detail jobs.

The endpoint's cells land in an in-memory table, and the analyst's SQL runs over it with each
aggregate replaced by its roll-up (`sum(metric_value)` -> `sum(value_sum)`): so ORDER BY, HAVING,
aliases and expressions behave as on the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
from sqlglot import exp

from genesys_finance.api.jobs import format_timestamp, parse_timestamp
from genesys_finance.query.catalog import TIME_COLUMN
from genesys_finance.query.parse import ParsedQuery
from genesys_finance.query.pushdown import Scope, conjuncts
from genesys_finance.query.timerange import TimeRange, _time_operand

AGGREGATES_PATH = "/api/v2/analytics/conversations/aggregates/query"
_GRANULARITY = {"day": ("P1D", timedelta(days=1)), "hour": ("PT1H", timedelta(hours=1))}
_DIMENSIONS = {"media_type": "mediaType", "direction": "direction"}
CELLS = "aggregate_cells"


@dataclass
class AggregatePlan:
    metrics: list[str]
    group_by: list[str]
    predicates: list[dict[str, Any]]
    granularity: str | None
    spans: tuple[tuple[datetime, datetime], ...]
    rewritten: exp.Expr
    notes: list[str] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        bodies = []
        for start, end in self.spans:
            body: dict[str, Any] = {
                "interval": f"{format_timestamp(start)}/{format_timestamp(end)}",
                "metrics": list(self.metrics),
            }
            if self.group_by:
                body["groupBy"] = list(self.group_by)
            if self.granularity:
                body["granularity"] = self.granularity
            if self.predicates:
                body["filter"] = {"type": "and", "predicates": list(self.predicates)}
            bodies.append(body)
        return bodies


class _NotAggregable(Exception):
    pass


def plan_aggregates(
    parsed: ParsedQuery, scopes: list[Scope], time_range: TimeRange
) -> tuple[AggregatePlan | None, str]:
    """The aggregates plan, or None and the reason the query needs detail jobs."""
    try:
        return _plan(parsed, scopes, time_range), ""
    except _NotAggregable as exc:
        return None, str(exc)


def _plan(parsed: ParsedQuery, scopes: list[Scope], time_range: TimeRange) -> AggregatePlan:
    tree = parsed.tree
    if not isinstance(tree, exp.Select) or len(scopes) != 1 or scopes[0].select is not tree:
        raise _NotAggregable("not a single SELECT over the virtual tables")
    if parsed.marts or tree.args.get("with") or tree.args.get("distinct"):
        raise _NotAggregable("reads marts or CTEs, or uses DISTINCT")
    if any(isinstance(n, exp.Window | exp.Subquery) for n in tree.walk()):
        raise _NotAggregable("uses a window function or a subquery")
    scope = scopes[0]
    tables = sorted(scope.aliases.values())
    if tables not in (["session_metrics"], ["session_metrics", "sessions"]):
        raise _NotAggregable("aggregates answer only session_metrics (optionally with sessions)")
    if not time_range.exact:
        raise _NotAggregable("the time range is not an exact conversation_start range")
    if len(tables) == 2 and not _joined_on_session(tree):
        raise _NotAggregable("sessions must be inner-joined to session_metrics on session_id")

    metrics: list[str] = []
    predicates: list[dict[str, Any]] = []
    for term in conjuncts(tree.args.get("where")):
        if _is_time_term(term):
            continue
        column, values = _equalities(term)
        if column == "metric_name":
            if metrics:
                raise _NotAggregable("metric_name is restricted twice")
            metrics = values
        elif column in _DIMENSIONS:
            predicates += [
                {"type": "dimension", "dimension": _DIMENSIONS[column], "value": v} for v in values
            ]
            if len(values) > 1:  # an IN list: one OR clause, not ANDed predicates
                raise _NotAggregable("an IN list on a dimension (kept exact: detail jobs)")
        else:
            raise _NotAggregable(f"predicate {term.sql()} is not an aggregates filter")
    if not metrics:
        raise _NotAggregable("no metric_name = / IN predicate names the metrics")
    if any(m[:1] not in ("t", "n") for m in metrics):
        raise _NotAggregable("only t* (duration) and n* (count) metrics roll up exactly")

    group_by: list[str] = []
    unit: str | None = None
    for node in tree.find_all(exp.Column):
        name = node.name.lower()
        if name in ("metric_name", "metric_value") or node.find_ancestor(exp.Join):
            continue  # join conditions were checked above
        if name in _DIMENSIONS:
            if _DIMENSIONS[name] not in group_by:
                group_by.append(_DIMENSIONS[name])
            continue
        if name == TIME_COLUMN:
            bucket = _bucket_of(node)
            if bucket is None:
                if _inside_where(node, tree):
                    continue
                raise _NotAggregable("conversation_start used other than as a day/hour bucket")
            if unit not in (None, bucket):
                raise _NotAggregable("two different time buckets")
            unit = bucket
            continue
        raise _NotAggregable(f"column {name} has no aggregates counterpart")
    granularity = None
    if unit is not None:
        granularity, step = _GRANULARITY[unit]
        for start, end in time_range.spans:
            if not (_aligned(start, step) and _aligned(end, step)):
                raise _NotAggregable(f"the time range is not aligned to whole {unit}s")
    rewritten = _rewrite(tree, metrics)
    return AggregatePlan(
        metrics=sorted(set(metrics)),
        group_by=group_by,
        predicates=predicates,
        granularity=granularity,
        spans=time_range.spans,
        rewritten=rewritten,
    )


def _aligned(value: datetime, step: timedelta) -> bool:
    epoch = datetime(1970, 1, 1, tzinfo=value.tzinfo)
    return (value - epoch) % step == timedelta(0)


def _joined_on_session(select: exp.Select) -> bool:
    joins = select.args.get("joins") or []
    if len(joins) != 1:
        return False
    join = joins[0]
    if join.args.get("side") or join.args.get("kind") not in (None, "", "INNER"):
        return False
    using = [str(u.name).lower() for u in join.args.get("using") or ()]
    if using == ["session_id"]:
        return True
    on = conjuncts(join.args.get("on"))
    return len(on) == 1 and (
        isinstance(on[0], exp.EQ)
        and all(
            isinstance(s, exp.Column) and s.name.lower() == "session_id"
            for s in on[0].args.values()
        )
    )


def _is_time_term(term: exp.Expr) -> bool:
    columns = list(term.find_all(exp.Column))
    return bool(columns) and all(c.name.lower() == TIME_COLUMN for c in columns)


def _equalities(term: exp.Expr) -> tuple[str | None, list[str]]:
    if isinstance(term, exp.Paren):
        return _equalities(term.this)
    if isinstance(term, exp.EQ):
        for col, lit in ((term.left, term.right), (term.right, term.left)):
            if isinstance(col, exp.Column) and isinstance(lit, exp.Literal) and lit.is_string:
                return col.name.lower(), [str(lit.this)]
    if isinstance(term, exp.In) and isinstance(term.this, exp.Column) and term.expressions:
        values = term.expressions
        if all(isinstance(v, exp.Literal) and v.is_string for v in values):
            return term.this.name.lower(), [str(v.this) for v in values]
    return None, []


def _bucket_of(column: exp.Column) -> str | None:
    parent = column.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    if parent is None:
        return None
    ok, unit = _time_operand(parent, None)
    return unit if ok and unit in _GRANULARITY else None


def _inside_where(node: exp.Expr, select: exp.Select) -> bool:
    where = select.args.get("where")
    parent = node.parent
    while parent is not None:
        if parent is where:
            return True
        parent = parent.parent
    return False


def _rewrite(select: exp.Select, metrics: list[str]) -> exp.Expr:
    """The analyst's SELECT over the cells table: FROM, joins and WHERE replaced (the endpoint
    applied them), each aggregate replaced by its roll-up, columns unqualified."""
    tree = select.copy()
    tree.set("joins", None)
    tree.set("where", None)
    tree.set("from_", exp.From(this=exp.to_table(CELLS)))
    count_metrics = any(m.startswith("n") for m in metrics)

    def roll_up(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Sum | exp.Count | exp.Min | exp.Max):
            arg = node.this
            star = isinstance(arg, exp.Star)
            is_value = isinstance(arg, exp.Column) and arg.name.lower() == "metric_value"
            if (
                node.args.get("distinct")
                or isinstance(arg, exp.Distinct)
                or not (is_value or (star and isinstance(node, exp.Count)))
            ):
                raise _NotAggregable(f"aggregate {node.sql()} has no aggregates counterpart")
            if isinstance(node, exp.Sum):
                return exp.Sum(this=exp.column("value_sum"))
            if count_metrics:
                raise _NotAggregable("count/min/max of an n* metric: the endpoint sums counts")
            if isinstance(node, exp.Count):
                return exp.cast(exp.Sum(this=exp.column("value_count")), "bigint")
            column = "value_min" if isinstance(node, exp.Min) else "value_max"
            return type(node)(this=exp.column(column))
        if isinstance(node, exp.Column):
            name = node.name.lower()
            if name == "metric_value":
                raise _NotAggregable("metric_value outside sum/count/min/max")
            target = "bucket_start" if name == TIME_COLUMN else name
            return exp.column(target)
        return node

    return tree.transform(roll_up)


CELL_SCHEMA = pa.schema(
    [
        ("bucket_start", pa.timestamp("us", tz="UTC")),
        ("metric_name", pa.string()),
        ("media_type", pa.string()),
        ("direction", pa.string()),
        ("value_count", pa.int64()),
        ("value_sum", pa.int64()),
        ("value_min", pa.int64()),
        ("value_max", pa.int64()),
    ]
)


def cells_table(responses: list[dict[str, Any]]) -> pa.Table:
    """Rows of the endpoint's responses: one per group x bucket x metric."""
    rows: dict[str, list[Any]] = {name: [] for name in CELL_SCHEMA.names}
    for response in responses:
        for result in response.get("results") or ():
            group = result.get("group") or {}
            for bucket in result.get("data") or ():
                start = parse_timestamp(str(bucket["interval"]).split("/")[0])
                for metric in bucket.get("metrics") or ():
                    name, stats = metric["metric"], metric.get("stats") or {}
                    counted = name.startswith("n")
                    rows["bucket_start"].append(start)
                    rows["metric_name"].append(name)
                    rows["media_type"].append(group.get("mediaType"))
                    rows["direction"].append(group.get("direction"))
                    rows["value_count"].append(None if counted else stats.get("count"))
                    rows["value_sum"].append(stats.get("count") if counted else stats.get("sum"))
                    rows["value_min"].append(None if counted else stats.get("min"))
                    rows["value_max"].append(None if counted else stats.get("max"))
    return pa.table(rows, schema=CELL_SCHEMA)


def answer(plan: AggregatePlan, cells: pa.Table) -> pa.Table:
    """The analyst's SQL over the cells, in an in-memory DuckDB with no external access."""
    import duckdb

    conn = duckdb.connect(":memory:")
    try:
        conn.execute("set TimeZone = 'UTC'")
        conn.register(CELLS, cells)
        conn.execute("set enable_external_access = false")
        conn.execute("set lock_configuration = true")
        return conn.sql(plan.rewritten.sql(dialect="duckdb")).to_arrow_table()
    finally:
        conn.close()
