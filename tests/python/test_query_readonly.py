"""Defence in depth under the parser: the connection the query layer runs SQL on refuses
writes, DDL and (DuckDB) file access and setting changes by itself, on both targets. The parser
never lets these through (test_query_parse.py); here they are sent straight to the connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from genesys_finance import warehouse as wh
from genesys_finance.query.engine import QueryError, execute_read_only
from genesys_finance.settings import Settings


def _canary(settings: Settings) -> list[tuple[object, ...]]:
    return [tuple(r) for r in wh.query(settings, "select n from genesys_raw.canary order by n")]


def test_the_query_connection_only_reads(warehouse: Settings, tmp_path: Path) -> None:
    with wh.connect(warehouse) as conn:
        cur = conn.cursor()
        cur.execute("create schema if not exists genesys_raw")
        cur.execute("create table genesys_raw.canary (n integer)")
        cur.execute("insert into genesys_raw.canary values (1)")
        if warehouse.target == "postgres":
            conn.commit()
    assert execute_read_only(warehouse, "select n from genesys_raw.canary").num_rows == 1

    writes = [
        "insert into genesys_raw.canary values (2)",
        "update genesys_raw.canary set n = 3",
        "delete from genesys_raw.canary",
        "create table genesys_raw.other (n integer)",
        "drop table genesys_raw.canary",
    ]
    secret = tmp_path / "secret.csv"
    secret.write_text("a\nsecret\n")
    copied = tmp_path / "copied.csv"
    if warehouse.target == "duckdb":
        writes += [
            f"copy genesys_raw.canary to '{copied}'",
            f"select * from read_csv('{secret}')",
            f"attach '{tmp_path / 'other.duckdb'}' as other",
            "set enable_external_access = true",
        ]
    for sql in writes:
        with pytest.raises(QueryError, match="the warehouse refused the query"):
            execute_read_only(warehouse, sql)
    assert _canary(warehouse) == [(1,)]
    assert not copied.exists() and not (tmp_path / "other.duckdb").exists()
