"""Parse an analyst's SQL with sqlglot and refuse anything but one read-only SELECT over the
virtual tables (`genesys.*`) and the finance marts (`finance.*`).

The statement that finally runs is generated from the checked syntax tree, never from the text:
a literal stays a literal and an identifier an identifier, whatever they contain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from genesys_finance.query.catalog import (
    MART_SCHEMA,
    MARTS,
    VIRTUAL_SCHEMA,
    VIRTUAL_TABLES,
)

READ_DIALECT = "duckdb"
"""Analysts write DuckDB/Postgres-style SQL; sqlglot writes it out for the target."""

HOW_TO = (
    "write one SELECT over genesys.conversations, genesys.participants, genesys.sessions, "
    "genesys.segments, genesys.session_metrics, genesys.session_metrics_pivoted or the finance "
    "marts (finance.fct_...)"
)

# Functions that read or write outside the query's tables, or change the session. sqlglot parses
# an unknown function as `Anonymous`: those are refused too (see `_check_functions`).
_FORBIDDEN_FUNCTIONS = (exp.ReadCSV, exp.ReadParquet)
_FORBIDDEN_NODES: tuple[type[exp.Expr], ...] = (
    exp.DDL,
    exp.DML,
    exp.Command,
    exp.Into,
    exp.Lock,
    exp.ToFile,
)
_ALLOWED_UNKNOWN_FUNCTIONS = frozenset(
    {"epoch_ms", "epoch", "make_date", "make_timestamp", "now", "today"}
)
"""Functions sqlglot does not model but that only compute on their arguments."""


class QueryRefused(ValueError):
    """The SQL is not something the query layer runs; the message says why and what to write."""


@dataclass
class TableRef:
    """One reference to a virtual table in the query."""

    node: exp.Table
    table: str
    alias: str


@dataclass
class ParsedQuery:
    sql: str
    tree: exp.Query
    virtual_refs: list[TableRef] = field(default_factory=list)
    marts: set[str] = field(default_factory=set)

    @property
    def virtual_tables(self) -> set[str]:
        return {ref.table for ref in self.virtual_refs}


def parse_query(sql: str) -> ParsedQuery:
    """The checked syntax tree of `sql`, or QueryRefused naming the first problem."""
    if not sql or not sql.strip():
        raise QueryRefused(f"empty query: {HOW_TO}")
    try:
        statements = [s for s in sqlglot.parse(sql, read=READ_DIALECT) if s is not None]
    except ParseError as exc:
        first = str(exc).splitlines()[0][:300]
        raise QueryRefused(f"the SQL does not parse: {first}") from None
    if len(statements) != 1:
        raise QueryRefused(
            f"{len(statements)} statements: only one SELECT runs per query ({HOW_TO})"
        )
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        first_word = sql.split()[0].upper()[:30]
        raise QueryRefused(
            f"only a read-only SELECT runs, not {first_word} (this is not a SELECT): {HOW_TO}"
        )
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            kind = "SELECT ... INTO" if isinstance(node, exp.Into) else type(node).__name__.upper()
            if isinstance(node, exp.Lock):
                kind = "FOR UPDATE/SHARE"
            raise QueryRefused(f"{kind} is not allowed: the query layer only reads")
    _check_functions(tree)
    parsed = ParsedQuery(sql=sql, tree=tree)
    _check_tables(tree, parsed)
    if not parsed.virtual_refs and not parsed.marts:
        raise QueryRefused(f"the query reads no table: {HOW_TO}")
    return parsed


def _check_functions(tree: exp.Expr) -> None:
    for func in tree.find_all(exp.Func):
        if isinstance(func, _FORBIDDEN_FUNCTIONS):
            raise QueryRefused(
                f"function {func.sql_name().lower()}() reads files: only the virtual tables "
                "and finance marts can be read"
            )
        if isinstance(func, exp.Anonymous):
            name = str(func.name).lower()
            if name not in _ALLOWED_UNKNOWN_FUNCTIONS:
                raise QueryRefused(
                    f"function {name}() is not allowed: only standard SQL functions run "
                    "(functions that read files, settings or sequences are refused)"
                )


def _cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def _check_tables(tree: exp.Expr, parsed: ParsedQuery) -> None:
    ctes = _cte_names(tree)
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise QueryRefused(f"table function {table.this.sql()[:80]} is not allowed: {HOW_TO}")
        name, schema, catalog = table.name.lower(), table.db.lower(), table.catalog
        if catalog:
            raise QueryRefused(f"{table.sql()} names a database: {HOW_TO}")
        if not schema:
            if name in ctes:
                continue
            hint = f" (did you mean genesys.{name}?)" if name in VIRTUAL_TABLES else ""
            raise QueryRefused(f"unknown table {table.name!r}{hint}: {HOW_TO}")
        if schema == VIRTUAL_SCHEMA and name in VIRTUAL_TABLES:
            parsed.virtual_refs.append(TableRef(table, name, table.alias_or_name))
        elif schema == MART_SCHEMA and name in MARTS:
            parsed.marts.add(name)
        else:
            raise QueryRefused(f"{table.sql()} is not readable here: {HOW_TO}")


def rewrite_for_warehouse(parsed: ParsedQuery, dialect: str) -> str:
    """The SQL with each virtual table replaced by the model holding its rows. Every model has
    `conversation_start` itself, so a time range filters the table it is written on: no join
    with the conversations model (one cost about a second per table at 1M conversations)."""
    tree = parsed.tree.copy()
    refs = {id(ref.node): ref for ref in parsed.virtual_refs}
    originals = list(parsed.tree.find_all(exp.Table))
    copies = list(tree.find_all(exp.Table))
    for original, copy in zip(originals, copies, strict=True):
        ref = refs.get(id(original))
        if ref is not None:
            virtual = VIRTUAL_TABLES[ref.table]
            # Names from the catalog only (constants), never from the analyst's text.
            copy.replace(exp.table_(virtual.model, db=virtual.schema).as_(ref.alias))
    return tree.sql(dialect=dialect)
