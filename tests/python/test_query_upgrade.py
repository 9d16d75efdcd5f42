"""A warehouse built before the child models carried `conversation_start` (README, migration
note): a query on such a model says what to run instead of only naming the missing column."""

from __future__ import annotations

import pytest

from genesys_finance import warehouse as wh
from genesys_finance.query.engine import QueryError, QueryOptions, run_query
from genesys_finance.settings import Settings

SQL = (
    "select media_type, count(*) as n from genesys.sessions "
    "where conversation_start >= '2024-05-01' and conversation_start < '2024-05-02' group by 1"
)


def _execute(settings: Settings, sql: str) -> None:
    with wh.connect(settings) as conn:
        conn.cursor().execute(sql)
        if settings.target == "postgres":
            conn.commit()


def test_a_model_built_before_the_column_asks_for_a_full_refresh(warehouse: Settings) -> None:
    _execute(warehouse, "create schema if not exists staging")
    _execute(
        warehouse,
        "create table staging.stg_genesys__sessions (conversation_id text, media_type text)",
    )
    with pytest.raises(QueryError) as refused:
        run_query(warehouse, SQL, QueryOptions(offline=True))
    message = str(refused.value)
    assert "conversation_start" in message
    assert "predates `conversation_start` on stg_genesys__sessions" in message
    assert "genesys-finance build --full-refresh" in message

    # after the refresh (here: the column added by hand) the same query answers
    _execute(
        warehouse,
        "alter table staging.stg_genesys__sessions add column conversation_start timestamptz",
    )
    _execute(
        warehouse,
        "insert into staging.stg_genesys__sessions "
        "values ('c1', 'voice', timestamptz '2024-05-01 10:00:00+00')",
    )
    table = run_query(warehouse, SQL, QueryOptions(offline=True)).table
    assert table.to_pylist() == [{"media_type": "voice", "n": 1}]


def test_another_error_gets_no_upgrade_hint(warehouse: Settings) -> None:
    _execute(warehouse, "create schema if not exists staging")
    _execute(
        warehouse,
        "create table staging.stg_genesys__sessions "
        "(conversation_id text, media_type text, conversation_start timestamptz)",
    )
    with pytest.raises(QueryError) as refused:
        run_query(
            warehouse, SQL.replace("media_type,", "no_such_column,"), QueryOptions(offline=True)
        )
    assert "full-refresh" not in str(refused.value)
