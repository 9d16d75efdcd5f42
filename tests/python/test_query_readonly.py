"""Defence in depth under the parser: the connection the query layer runs SQL on refuses
writes, DDL and (DuckDB) file access and setting changes by itself, on both targets. The parser
never lets these through (test_query_parse.py); here they are sent straight to the connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_settings
from genesys_finance import warehouse as wh
from genesys_finance.query.engine import QueryError, execute_read_only
from genesys_finance.settings import PostgresSettings, Settings


def _canary(settings: Settings) -> list[tuple[object, ...]]:
    return [tuple(r) for r in wh.query(settings, "select n from staging.canary order by n")]


def test_the_query_connection_only_reads(warehouse: Settings, tmp_path: Path) -> None:
    with wh.connect(warehouse) as conn:
        cur = conn.cursor()
        cur.execute("create schema if not exists staging")
        cur.execute("create table staging.canary (n integer)")
        cur.execute("insert into staging.canary values (1)")
        if warehouse.target == "postgres":
            conn.commit()
    assert execute_read_only(warehouse, "select n from staging.canary").num_rows == 1

    writes = [
        "insert into staging.canary values (2)",
        "update staging.canary set n = 3",
        "delete from staging.canary",
        "create table staging.other (n integer)",
        "drop table staging.canary",
    ]
    secret = tmp_path / "secret.csv"
    secret.write_text("a\nsecret\n")
    copied = tmp_path / "copied.csv"
    if warehouse.target == "duckdb":
        writes += [
            f"copy staging.canary to '{copied}'",
            f"select * from read_csv('{secret}')",
            f"attach '{tmp_path / 'other.duckdb'}' as other",
            "set enable_external_access = true",
        ]
    for sql in writes:
        with pytest.raises(QueryError, match="the warehouse refused the query"):
            execute_read_only(warehouse, sql)
    assert _canary(warehouse) == [(1,)]
    assert not copied.exists() and not (tmp_path / "other.duckdb").exists()


def test_postgres_runs_the_query_as_a_role_that_only_reads_its_schemas(
    postgres_database: PostgresSettings, tmp_path: Path
) -> None:
    """Past the parser, on Postgres: the SQL runs as the query role (not the superuser the
    warehouse connection logs in as), which reads the query layer's schemas and nothing else."""
    postgres_settings = make_settings("postgres", tmp_path, postgres_database)
    with wh.connect(postgres_settings) as conn:
        cur = conn.cursor()
        for schema in ("staging", "finance", "genesys_raw"):
            cur.execute(f"create schema if not exists {schema}")
            cur.execute(f"create table {schema}.canary (n integer)")
            cur.execute(f"insert into {schema}.canary values (1)")
        cur.execute("select rolsuper from pg_roles where rolname = current_user")
        assert cur.fetchone() == (True,)  # what the parser alone guarded until now
        conn.commit()
    who = execute_read_only(postgres_settings, "select current_user as who").to_pylist()
    assert who == [{"who": "genesys_query_reader"}]
    for schema in ("staging", "finance"):
        assert execute_read_only(postgres_settings, f"select n from {schema}.canary").num_rows == 1
    secret = tmp_path / "secret.txt"
    secret.write_text("secret\n")
    for sql in (
        "select n from genesys_raw.canary",
        f"select pg_read_file('{secret}')",
        "select pg_ls_dir('.')",
        "select lo_import('/etc/hostname')",
    ):
        with pytest.raises(QueryError, match="permission denied for"):
            execute_read_only(postgres_settings, sql)
    # a table a later build adds is granted on the next query
    with wh.connect(postgres_settings) as conn:
        conn.cursor().execute("create table staging.later (n integer)")
        conn.commit()
    assert execute_read_only(postgres_settings, "select count(*) from staging.later").num_rows == 1
