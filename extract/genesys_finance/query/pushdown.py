"""Which predicates the API filters (`conversationFilters` / `segmentFilters`) and which run
locally.

A pushed predicate makes the API return fewer conversations, so it must never drop a row the
SQL would keep. Predicates are pushed only when that holds by construction:
- the query has one SELECT reading virtual tables (another scope could need the dropped rows);
- that SELECT reads only virtual tables, joined on `conversation_id` (a row then belongs to a
  conversation that satisfies the predicate);
- the predicate is a top-level AND term of its WHERE: `col = 'v'`, `col in ('v', ...)`, an OR
  of equalities on one column, or `col is not null`, on a column of `catalog.PUSHABLE`.
The API then returns a superset (e.g. a conversation with at least one matching segment), and
every predicate, pushed or not, still runs locally on the fetched rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from genesys_finance.query.catalog import PUSHABLE, TIME_COLUMN, VIRTUAL_SCHEMA, VIRTUAL_TABLES


@dataclass(frozen=True)
class PushedFilters:
    conversation: tuple[dict[str, Any], ...] = ()
    segment: tuple[dict[str, Any], ...] = ()

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.conversation:
            body["conversationFilters"] = [dict(f) for f in self.conversation]
        if self.segment:
            body["segmentFilters"] = [dict(f) for f in self.segment]
        return body

    @property
    def key(self) -> str | None:
        """Canonical JSON of the filters (the ledger's `filter_key`), None when unfiltered."""
        body = self.body()
        return json.dumps(body, sort_keys=True, separators=(",", ":")) if body else None

    def __bool__(self) -> bool:
        return bool(self.conversation or self.segment)


@dataclass
class Scope:
    """One SELECT that reads virtual tables directly."""

    select: exp.Select
    aliases: dict[str, str]
    """alias -> virtual table name"""
    only_virtual: bool
    joined_on_conversation: bool


@dataclass
class Pushdown:
    filters: PushedFilters
    pushed: list[str] = field(default_factory=list)
    local: list[str] = field(default_factory=list)
    reason: str = ""
    """Why nothing was pushed, when that is the case."""


def conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    if node is None:
        return []
    if isinstance(node, exp.Paren | exp.Where):
        return conjuncts(node.this)
    if isinstance(node, exp.And):
        return conjuncts(node.left) + conjuncts(node.right)
    return [node]


def _sources(select: exp.Select) -> list[exp.Expr]:
    found: list[exp.Expr] = []
    from_ = select.args.get("from_")
    if from_ is not None:
        found.append(from_.this)
    found += [join.this for join in select.args.get("joins") or ()]
    return found


def _is_virtual(node: exp.Expr) -> bool:
    return (
        isinstance(node, exp.Table)
        and node.db.lower() == VIRTUAL_SCHEMA
        and node.name.lower() in VIRTUAL_TABLES
    )


def _joins_on_conversation(select: exp.Select) -> bool:
    for join in select.args.get("joins") or ():
        using = [str(u.name).lower() for u in join.args.get("using") or ()]
        if "conversation_id" in using:
            continue
        on = join.args.get("on")
        if on is None or not any(
            isinstance(eq, exp.EQ)
            and isinstance(eq.left, exp.Column)
            and isinstance(eq.right, exp.Column)
            and eq.left.name.lower() == eq.right.name.lower() == "conversation_id"
            for eq in conjuncts(on)
        ):
            return False
    return True


def scopes(tree: exp.Expr) -> list[Scope]:
    found = []
    for select in tree.find_all(exp.Select):
        sources = _sources(select)
        virtual = [s for s in sources if _is_virtual(s)]
        if not virtual:
            continue
        aliases = {str(t.alias_or_name).lower(): t.name.lower() for t in virtual}
        found.append(
            Scope(
                select=select,
                aliases=aliases,
                only_virtual=len(virtual) == len(sources),
                joined_on_conversation=_joins_on_conversation(select),
            )
        )
    return found


def _string(node: exp.Expr) -> str | None:
    return str(node.this) if isinstance(node, exp.Literal) and node.is_string else None


def _column(node: exp.Expr, scope: Scope) -> str | None:
    if not isinstance(node, exp.Column) or node.name.lower() not in PUSHABLE:
        return None
    if node.table and node.table.lower() not in scope.aliases:
        return None
    return node.name.lower()


def _matches(dimension: str, values: list[str]) -> dict[str, Any]:
    predicates = [
        {"type": "dimension", "dimension": dimension, "operator": "matches", "value": v}
        for v in sorted(set(values))
    ]
    return {"type": "or" if len(predicates) > 1 else "and", "predicates": predicates}


def _pushable(term: exp.Expr, scope: Scope) -> tuple[str, dict[str, Any]] | None:
    """(column, filter) for a term the API can filter exactly or as a superset."""
    if isinstance(term, exp.Paren):
        return _pushable(term.this, scope)
    if isinstance(term, exp.EQ):
        for col, lit in ((term.left, term.right), (term.right, term.left)):
            name, value = _column(col, scope), _string(lit)
            if name and value is not None:
                return name, _matches(PUSHABLE[name].dimension, [value])
        return None
    if isinstance(term, exp.In) and term.args.get("query") is None:
        name = _column(term.this, scope)
        values = [_string(v) for v in term.expressions]
        if name and values and all(v is not None for v in values):
            return name, _matches(PUSHABLE[name].dimension, [v for v in values if v is not None])
        return None
    if isinstance(term, exp.Or):
        parts = [_pushable(t, scope) for t in (term.left, term.right)]
        if all(p is not None for p in parts):
            names = {p[0] for p in parts if p is not None}
            if len(names) == 1:
                (name,) = names
                values = [
                    pred["value"] for p in parts if p is not None for pred in p[1]["predicates"]
                ]
                strings = [v for v in values if isinstance(v, str)]
                if len(strings) == len(values):
                    return name, _matches(PUSHABLE[name].dimension, strings)
        return None
    if isinstance(term, exp.Not) and isinstance(term.this, exp.Is):
        inner = term.this
        name = _column(inner.this, scope)
        if name and isinstance(inner.expression, exp.Null):
            dimension = PUSHABLE[name].dimension
            return name, {
                "type": "and",
                "predicates": [{"type": "dimension", "dimension": dimension, "operator": "exists"}],
            }
    return None


def _mentions_time(term: exp.Expr) -> bool:
    return any(
        isinstance(c, exp.Column) and c.name.lower() == TIME_COLUMN
        for c in term.find_all(exp.Column)
    )


def plan_pushdown(all_scopes: list[Scope]) -> Pushdown:
    """What to push into the job bodies, and the text of every predicate either way."""
    if not all_scopes:
        return Pushdown(PushedFilters(), reason="no virtual table is read")
    local = [t.sql() for s in all_scopes for t in conjuncts(s.select.args.get("where"))]
    if len(all_scopes) > 1:
        return Pushdown(
            PushedFilters(),
            local=local,
            reason="several SELECTs read virtual tables: one's filter could drop rows another "
            "needs",
        )
    scope = all_scopes[0]
    if not scope.only_virtual:
        return Pushdown(
            PushedFilters(),
            local=local,
            reason="the SELECT also reads a CTE, subquery or mart",
        )
    if not scope.joined_on_conversation:
        return Pushdown(
            PushedFilters(),
            local=local,
            reason="virtual tables are joined on something other than conversation_id",
        )
    conversation: list[dict[str, Any]] = []
    segment: list[dict[str, Any]] = []
    result = Pushdown(PushedFilters())
    for term in conjuncts(scope.select.args.get("where")):
        found = None if _mentions_time(term) else _pushable(term, scope)
        if found is None:
            result.local.append(term.sql())
            continue
        name, spec = found
        (conversation if PUSHABLE[name].filter == "conversation" else segment).append(spec)
        result.pushed.append(term.sql())
    canonical = sorted(conversation, key=json.dumps), sorted(segment, key=json.dumps)
    result.filters = PushedFilters(tuple(canonical[0]), tuple(canonical[1]))
    return result
