"""Refusals and time ranges of the query layer's parser, and a fuzz of statements (#16): nothing
but one read-only SELECT over the virtual tables and the finance marts ever reaches a warehouse."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from genesys_finance.query.catalog import MARTS, VIRTUAL_TABLES
from genesys_finance.query.parse import QueryRefused, parse_query, rewrite_for_warehouse
from genesys_finance.query.timerange import MissingTimeRange, time_range

RANGE = "conversation_start >= '2024-05-01' and conversation_start < '2024-05-02'"
OK = f"select * from genesys.conversations where {RANGE}"

REFUSED = {
    "insert": ("insert into genesys.conversations values (1)", "not INSERT"),
    "update": ("update genesys.conversations set external_tag = 'x'", "not UPDATE"),
    "delete": ("delete from genesys.conversations", "not DELETE"),
    "create table": ("create table genesys.x as select 1", "not CREATE"),
    "drop": ("drop table genesys.conversations", "not DROP"),
    "alter": ("alter table genesys.conversations add column x int", "not ALTER"),
    "truncate": ("truncate genesys.conversations", "only a read-only SELECT"),
    "copy": ("copy genesys.conversations to '/tmp/x.csv'", "only a read-only SELECT"),
    "attach": ("attach '/tmp/other.duckdb' as other", "only a read-only SELECT"),
    "pragma": ("pragma database_list", "only a read-only SELECT"),
    "set": ("set enable_external_access = true", "only a read-only SELECT"),
    "two statements": (f"{OK}; select 1", "2 statements"),
    "statement after a comment": (f"{OK}; -- x\ndrop table t", "statements: only one"),
    "select into": (f"select * into t2 from genesys.conversations where {RANGE}", "INTO"),
    "for update": (f"{OK} for update", "FOR UPDATE"),
    "raw schema": ("select * from genesys_raw.conversations", "not readable here"),
    "staging schema": ("select * from staging.stg_genesys__conversations", "not readable here"),
    "unknown virtual table": ("select * from genesys.users", "not readable here"),
    "unqualified table": ("select * from conversations", "did you mean genesys.conversations"),
    "catalog-qualified": ("select * from other.genesys.conversations", "names a database"),
    "information schema": ("select * from information_schema.tables", "not readable here"),
    "pg catalog": ("select * from pg_catalog.pg_user", "not readable here"),
    "read_csv table function": ("select * from read_csv('/etc/passwd')", "read_csv"),
    "read_parquet": ("select * from read_parquet('/tmp/x.parquet')", "read_parquet"),
    "file as a table": ("select * from '/etc/passwd'", "unknown table"),
    "pg_read_file": (
        f"select pg_read_file('/etc/passwd') from genesys.conversations where {RANGE}",
        "pg_read_file",
    ),
    "read_text in where": (f"{OK} and external_tag = read_text('/etc/passwd')", "read_text"),
    "glob": ("select * from glob('/*')", "glob"),
    "getenv": (f"select getenv('HOME') from genesys.conversations where {RANGE}", "getenv"),
    "current_setting": (
        f"select current_setting('x') from genesys.conversations where {RANGE}",
        "current_setting",
    ),
    "nextval": (f"select nextval('s') from genesys.conversations where {RANGE}", "nextval"),
    "injection through an identifier": (
        'select * from genesys."conversations; drop table genesys_raw.conversations"',
        "not readable here",
    ),
    "mart-looking unknown": ("select * from finance.secrets", "not readable here"),
    "empty": ("   ", "empty query"),
    "garbage": ("select (1 from genesys.conversations", "does not parse"),
    "not a statement": ("selec * frm x", "not a SELECT"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_with_a_clear_message(name: str) -> None:
    sql, fragment = REFUSED[name]
    with pytest.raises(QueryRefused) as caught:
        parse_query(sql)
    assert fragment.lower() in str(caught.value).lower()


def test_injection_through_a_literal_stays_a_literal() -> None:
    parsed = parse_query(f"{OK} and external_tag = 'x''; drop table t; --'")
    for dialect in ("duckdb", "postgres"):
        statements = sqlglot.parse(rewrite_for_warehouse(parsed, dialect), read=dialect)
        assert len(statements) == 1 and isinstance(statements[0], exp.Select)
        literals = [lit.this for lit in statements[0].find_all(exp.Literal)]
        assert "x'; drop table t; --" in literals


def test_injection_through_a_quoted_identifier_stays_an_identifier() -> None:
    evil = 'x"; drop table genesys_raw.conversations; --'
    quoted = evil.replace('"', '""')
    parsed = parse_query(f'select "{quoted}" from genesys.conversations as "c"" ;" where {RANGE}')
    for dialect in ("duckdb", "postgres"):
        generated = rewrite_for_warehouse(parsed, dialect)
        statements = sqlglot.parse(generated, read=dialect)
        assert len(statements) == 1 and isinstance(statements[0], exp.Select), generated
        assert evil in [c.name for c in statements[0].find_all(exp.Column)]
        if dialect == "duckdb":
            assert [s.type for s in duckdb.extract_statements(generated)] == [
                duckdb.StatementType.SELECT
            ]


JOINED = (
    "select {select} from genesys.participants p join genesys.sessions s "
    "on s.conversation_id = p.conversation_id {using}where p.conversation_start >= '2024-05-01' "
    "and p.conversation_start < '2024-05-02'"
)


@pytest.mark.parametrize(
    ("select", "using"),
    [
        ("p.purpose, s.media_type", ""),
        ("s.conversation_start", ""),
        ("s.*", ""),
        ("*", ""),
        ("s", ""),
        ("count(*)", "and s.session_id is not null "),
    ],
)
def test_each_virtual_table_is_its_model_alone(select: str, using: str) -> None:
    """Every model carries `conversation_start`: the time range filters the table it is written
    on, with no join of the conversations model, whatever the query reads."""
    parsed = parse_query(JOINED.format(select=select, using=using))
    generated = sqlglot.parse_one(rewrite_for_warehouse(parsed, "duckdb"), read="duckdb")
    relations = {t.alias_or_name: f"{t.db}.{t.name}" for t in generated.find_all(exp.Table)}
    assert relations == {
        "p": "staging.stg_genesys__participants",
        "s": "staging.stg_genesys__sessions",
    }
    assert not list(generated.find_all(exp.Subquery))


def test_marts_are_readable() -> None:
    parsed = parse_query("select * from finance.fct_conversation_costs")
    assert parsed.marts == {"fct_conversation_costs"}
    assert "finance.fct_conversation_costs" in rewrite_for_warehouse(parsed, "postgres")


def _range(where: str) -> list[tuple[str, str]]:
    parsed = parse_query(f"select * from genesys.conversations where {where}")
    found = time_range(parsed.tree.args.get("where"))
    return [(s.isoformat(), e.isoformat()) for s, e in found.spans]


D = "2024-05-0{}T00:00:00+00:00"


@pytest.mark.parametrize(
    ("where", "spans"),
    [
        (RANGE, [(D.format(1), D.format(2))]),
        (
            "conversation_start = timestamp '2024-05-01 10:00:00'",
            [("2024-05-01T10:00:00+00:00", "2024-05-01T10:00:00.001000+00:00")],
        ),
        (
            "conversation_start between '2024-05-01' and '2024-05-03'",
            [(D.format(1), "2024-05-03T00:00:00.001000+00:00")],
        ),
        (
            "conversation_start in (timestamp '2024-05-01', timestamp '2024-05-03')",
            [
                (D.format(1), "2024-05-01T00:00:00.001000+00:00"),
                (D.format(3), "2024-05-03T00:00:00.001000+00:00"),
            ],
        ),
        ("cast(conversation_start as date) = '2024-05-04'", [(D.format(4), D.format(5))]),
        (
            "date_trunc('month', conversation_start) = date '2024-05-01'",
            [(D.format(1), "2024-06-01T00:00:00+00:00")],
        ),
        (
            f"({RANGE}) or (conversation_start >= '2024-05-01 12:00' and "
            "conversation_start < '2024-05-03')",
            [(D.format(1), D.format(3))],
        ),
        (
            "conversation_start > '2024-05-01' and conversation_start <= '2024-05-02' "
            "and media_type = 'voice'",
            [("2024-05-01T00:00:00.001000+00:00", "2024-05-02T00:00:00.001000+00:00")],
        ),
        (
            "'2024-05-02' > conversation_start and '2024-05-01' <= conversation_start",
            [(D.format(1), D.format(2))],
        ),
        (
            "conversation_start >= date '2024-05-01' + interval 1 day and "
            "conversation_start < date_trunc('month', timestamp '2024-05-20') + interval 5 day",
            [(D.format(2), D.format(6))],
        ),
        (
            "conversation_start >= '2024-05-01T02:00:00+02:00' "
            "and conversation_start < '2024-05-02'",
            [(D.format(1), D.format(2))],
        ),
        (f"{RANGE} and conversation_start >= '2024-05-03'", []),
    ],
)
def test_time_range(where: str, spans: list[tuple[str, str]]) -> None:
    assert _range(where) == spans


@pytest.mark.parametrize(
    ("where", "side"),
    [
        ("conversation_start >= '2024-05-01'", "no upper bound"),
        ("conversation_start < '2024-05-01'", "no lower bound"),
        ("media_type = 'voice'", "no bounds"),
        (f"({RANGE}) or media_type = 'voice'", "no bounds"),
        (f"not ({RANGE})", "no bounds"),
        ("conversation_end >= '2024-05-01' and conversation_end < '2024-05-02'", "no bounds"),
    ],
)
def test_a_query_without_a_bounded_range_is_refused_with_an_example(where: str, side: str) -> None:
    with pytest.raises(MissingTimeRange) as caught:
        _range(where)
    message = str(caught.value)
    assert side in message
    assert "where conversation_start >= timestamp '2024-05-01'" in message


# ---------------------------------------------------------------------------- fuzz (#16)

ALLOWED = (
    {("staging", t.model) for t in VIRTUAL_TABLES.values() if t.schema == "staging"}
    | {("intermediate", t.model) for t in VIRTUAL_TABLES.values() if t.schema == "intermediate"}
    | {("finance", m) for m in MARTS}
)

_tables = st.sampled_from(
    [f"genesys.{t}" for t in VIRTUAL_TABLES]
    + [f"finance.{m}" for m in sorted(MARTS)]
    + [
        "genesys_raw.conversations",
        "read_csv('/etc/passwd')",
        "'/etc/passwd'",
        "x",
        "pg_catalog.pg_shadow",
        '"genesys"."sessions"',
        "genesys.sessions; drop table x",
    ]
)
_exprs = st.sampled_from(
    [
        "1",
        "*",
        "count(*)",
        "conversation_id",
        "pg_read_file('/etc/passwd')",
        "read_text('x')",
        "'a''b'",
        "(select 1)",
        "now()",
        "getenv('HOME')",
        "current_database()",
        "version()",
        "lower(media_type)",
        "sum(metric_value)",
    ]
)
_clauses = st.sampled_from(
    [
        "",
        f" where {RANGE}",
        " where 1=1",
        f" where {RANGE} and media_type = 'voice'",
        " where conversation_id in (select conversation_id from genesys_raw.conversations)",
        "; drop table t",
        " into t2",
        " for update",
        " union select * from genesys_raw.x",
        f" where {RANGE}; delete from t",
        " limit 1",
    ]
)
_prefix = st.sampled_from(
    [
        "select",
        "SELECT",
        "with c as (select 1) select",
        "insert into t select",
        "create table t as select",
        "explain select",
        "copy (select",
        "/* x */ select",
    ]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_prefix, _exprs, _tables, _clauses)
def test_fuzz_only_read_only_selects_over_allowed_relations(
    prefix: str, expr: str, table: str, clause: str
) -> None:
    sql = f"{prefix} {expr} from {table}{clause}"
    try:
        parsed = parse_query(sql)
    except QueryRefused:
        return
    for dialect in ("duckdb", "postgres"):
        generated = rewrite_for_warehouse(parsed, dialect)
        if dialect == "duckdb":  # DuckDB's own parser agrees: one SELECT
            (statement,) = duckdb.extract_statements(generated)
            assert statement.type == duckdb.StatementType.SELECT, generated
        statements = sqlglot.parse(generated, read=dialect)
        assert len(statements) == 1, generated
        tree = statements[0]
        assert isinstance(tree, exp.Query), generated
        for node in tree.walk():
            assert not isinstance(node, exp.DDL | exp.DML | exp.Command | exp.Into | exp.Lock)
            assert not isinstance(node, exp.ReadCSV | exp.ReadParquet)
            if isinstance(node, exp.Anonymous):
                assert node.name.lower() in {
                    "epoch_ms",
                    "epoch",
                    "make_date",
                    "make_timestamp",
                    "now",
                    "today",
                }, generated
        ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
        for t in tree.find_all(exp.Table):
            assert isinstance(t.this, exp.Identifier)
            assert (t.db, t.name) in ALLOWED or (not t.db and t.name in ctes), generated


def test_fuzz_never_passes_the_clock_to_a_file() -> None:
    # A sanity check that the fuzz reaches accepted statements at all.
    parsed = parse_query(f"select count(*) from genesys.sessions where {RANGE}")
    assert parsed.virtual_tables == {"sessions"}
    assert datetime(2024, 5, 1, tzinfo=UTC) == time_range(parsed.tree.args["where"]).start
