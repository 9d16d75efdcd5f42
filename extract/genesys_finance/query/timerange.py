"""The time range a query needs, from its predicates on `conversation_start`.

Each WHERE is read as a boolean tree: a comparison of `conversation_start` (or of its
truncation to a day, hour or month) with a constant gives a set of half-open UTC intervals; AND
intersects, OR unites; anything else (NOT, other columns, a comparison with a column) leaves the
range unbounded. The result may be wider than the predicate (a `date_trunc` bound, a NOT): it
only decides what to fetch, and the SQL predicate itself still runs on the fetched rows.

Constants are evaluated by an in-memory DuckDB with external access off, so `date '2024-05-01'
+ interval 7 day`, `date_trunc('month', timestamp '...')` and the like all work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlglot import exp

from genesys_finance.query.catalog import TIME_COLUMN
from genesys_finance.query.parse import QueryRefused

MS = timedelta(milliseconds=1)
Bound = datetime | None
Span = tuple[Bound, Bound]
"""[start, end): None is minus or plus infinity."""
ALL: list[Span] = [(None, None)]

EXAMPLE = (
    "where conversation_start >= timestamp '2024-05-01' "
    "and conversation_start < timestamp '2024-06-01'"
)


class MissingTimeRange(QueryRefused):
    pass


@dataclass(frozen=True)
class TimeRange:
    spans: tuple[tuple[datetime, datetime], ...]
    """Disjoint, sorted, bounded [start, end) intervals."""
    exact: bool
    """Every bound came from a plain comparison of conversation_start with a constant at
    millisecond precision: the spans are exactly the rows the predicate keeps."""

    @property
    def start(self) -> datetime:
        return self.spans[0][0]

    @property
    def end(self) -> datetime:
        return self.spans[-1][1]

    def label(self) -> str:
        return ", ".join(f"[{_iso(s)}, {_iso(e)})" for s, e in self.spans) or "(empty)"

    def capped(self, limit: datetime) -> TimeRange:
        spans = tuple((s, min(e, limit)) for s, e in self.spans if s < limit)
        return TimeRange(spans, self.exact)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ----------------------------------------------------------------- interval-set algebra


def _lo(b: Bound) -> tuple[int, Any]:
    return (0, None) if b is None else (1, b)


def _hi(b: Bound) -> tuple[int, Any]:
    return (2, None) if b is None else (1, b)


def _union(spans: list[Span]) -> list[Span]:
    ordered = sorted(spans, key=lambda s: _lo(s[0]))
    merged: list[Span] = []
    for start, end in ordered:
        if merged and _hi(merged[-1][1]) >= _lo(start):
            if _hi(end) > _hi(merged[-1][1]):
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _intersect(a: list[Span], b: list[Span]) -> list[Span]:
    out: list[Span] = []
    for s1, e1 in a:
        for s2, e2 in b:
            start = s1 if _lo(s1) >= _lo(s2) else s2
            end = e1 if _hi(e1) <= _hi(e2) else e2
            if start is None or end is None or start < end:
                out.append((start, end))
    return _union(out)


# ----------------------------------------------------------------- constants


class _Constants:
    """Evaluates constant expressions to UTC instants (lazily opens one in-memory DuckDB)."""

    def __init__(self) -> None:
        self._conn: Any = None

    def instant(self, node: exp.Expr) -> datetime | None:
        if any(isinstance(n, exp.Column | exp.Query | exp.Star) for n in node.walk()):
            return None
        if self._conn is None:
            import duckdb

            self._conn = duckdb.connect(":memory:")
            self._conn.execute("set TimeZone = 'UTC'")
            self._conn.execute("set enable_external_access = false")
            self._conn.execute("set lock_configuration = true")
        text = node.sql(dialect="duckdb")
        try:
            row = self._conn.execute(
                f"select epoch_us(cast(cast(({text}) as timestamptz) as timestamp))"
            ).fetchone()
        except Exception as exc:
            raise QueryRefused(
                f"cannot read {node.sql()[:120]} as a time for conversation_start: "
                f"{str(exc).splitlines()[0][:200]}"
            ) from None
        if row is None or row[0] is None:
            return None
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(row[0]))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


# ----------------------------------------------------------------- predicates

_UNITS = {"day": "day", "hour": "hour", "month": "month"}


def _next_unit(value: datetime, unit: str) -> datetime:
    """The start of the unit after the one holding `value`."""
    if unit == "hour":
        return value.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    day = value.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day + timedelta(days=1)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def _time_operand(node: exp.Expr, aliases: set[str] | None) -> tuple[bool, str | None]:
    """(is conversation_start or a truncation of it, truncation unit or None)."""
    if isinstance(node, exp.Paren):
        return _time_operand(node.this, aliases)
    if isinstance(node, exp.Column):
        ok = node.name.lower() == TIME_COLUMN and (
            not node.table or aliases is None or node.table.lower() in aliases
        )
        return ok, None
    if isinstance(node, exp.Cast | exp.TryCast) and node.to.is_type(exp.DataType.Type.DATE):
        ok, unit = _time_operand(node.this, aliases)
        return ok and unit is None, "day"
    if isinstance(node, exp.Date | exp.TsOrDsToDate) and node.this is not None:
        ok, unit = _time_operand(node.this, aliases)
        return ok and unit is None, "day"
    if isinstance(node, exp.TimestampTrunc | exp.DateTrunc):
        unit_node = node.args.get("unit")
        unit = _UNITS.get(str(unit_node.name if unit_node is not None else "").lower())
        ok, inner = _time_operand(node.this, aliases)
        return ok and inner is None and unit is not None, unit
    return False, None


class RangeReader:
    def __init__(self) -> None:
        self.constants = _Constants()
        self.exact = True

    def spans(self, node: exp.Expr | None, aliases: set[str] | None) -> list[Span]:
        if node is None:
            return ALL
        if isinstance(node, exp.Paren | exp.Where):
            return self.spans(node.this, aliases)
        if isinstance(node, exp.And):
            return _intersect(self.spans(node.left, aliases), self.spans(node.right, aliases))
        if isinstance(node, exp.Or):
            return _union(self.spans(node.left, aliases) + self.spans(node.right, aliases))
        result = self._predicate(node, aliases)
        return ALL if result is None else result

    def _point(self, value: datetime, unit: str | None) -> Span:
        end = value + MS if unit is None else _next_unit(value, unit)
        return (value, end)

    def _predicate(self, node: exp.Expr, aliases: set[str] | None) -> list[Span] | None:
        if isinstance(node, exp.Between):
            ok, unit = _time_operand(node.this, aliases)
            low = self._value(node.args["low"]) if ok else None
            high = self._value(node.args["high"]) if ok else None
            if low is None or high is None:
                return None
            self._note(unit, low, high)
            return [(low, self._point(high, unit)[1])] if low <= high else []
        if isinstance(node, exp.In):
            ok, unit = _time_operand(node.this, aliases)
            if not ok or node.args.get("query") is not None:
                return None
            values = [self._value(e) for e in node.expressions]
            if any(v is None for v in values):
                return None
            self._note(unit, *[v for v in values if v is not None])
            return _union([self._point(v, unit) for v in values if v is not None])
        comparisons = (exp.EQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
        if not isinstance(node, comparisons):
            return None
        left_ok, left_unit = _time_operand(node.left, aliases)
        right_ok, right_unit = _time_operand(node.right, aliases)
        if left_ok == right_ok:
            return None
        op: Any = type(node)
        if right_ok:  # constant <op> column: mirror it
            mirror = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE}
            op = mirror.get(op, op)
            value, unit = self._value(node.left), right_unit
        else:
            value, unit = self._value(node.right), left_unit
        if value is None:
            return None
        self._note(unit, value)
        if op is exp.EQ:
            return [self._point(value, unit)]
        if op is exp.GTE or op is exp.GT:
            # trunc(t) >= v  =>  t >= v (trunc(t) <= t); `>` at ms precision: from v + 1 ms
            return [(value + MS if op is exp.GT and unit is None else value, None)]
        # t < v, t <= v; trunc(t) < v or <= v  =>  t < the start of the unit after v
        if unit is None:
            return [(None, value if op is exp.LT else value + MS)]
        return [(None, _next_unit(value, unit))]

    def _note(self, unit: str | None, *values: datetime) -> None:
        if unit is not None or any(v.microsecond % 1000 for v in values):
            self.exact = False

    def _value(self, node: exp.Expr) -> datetime | None:
        return self.constants.instant(node)


def time_range(where: exp.Expr | None, aliases: set[str] | None = None) -> TimeRange:
    """The bounded range of one WHERE, or MissingTimeRange saying how to add one."""
    reader = RangeReader()
    try:
        spans = reader.spans(where, aliases)
    finally:
        reader.constants.close()
    if any(s is None or e is None for s, e in spans):
        side = (
            "no bounds"
            if spans == ALL
            else "no lower bound"
            if any(s is None for s, _ in spans)
            else "no upper bound"
        )
        raise MissingTimeRange(
            f"the query's time range has {side} on conversation_start: every query must say "
            f"which conversations it reads, e.g. `{EXAMPLE}` (ranges, BETWEEN, IN, and AND/OR "
            "of them are understood)"
        )
    bounded = tuple((s, e) for s, e in spans if s is not None and e is not None)
    return TimeRange(bounded, reader.exact)


def union(ranges: list[TimeRange]) -> TimeRange:
    spans = _union([span for r in ranges for span in r.spans])
    bounded = tuple((s, e) for s, e in spans if s is not None and e is not None)
    return TimeRange(bounded, all(r.exact for r in ranges))
