"""Connections to the warehouse (DuckDB file or PostgreSQL) for dlt and for plain SQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from genesys_finance.settings import Settings


def dlt_destination(settings: Settings, postgres_options: str = "") -> Any:
    """The dlt destination object for the configured target (a DuckDB file, or Postgres with
    optional libpq session options, see `postgres_payload_options`)."""
    import dlt

    if settings.target == "duckdb":
        settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(str(settings.duckdb_path))
    pg = settings.postgres
    query = f"?options={quote(postgres_options)}" if postgres_options else ""
    return dlt.destinations.postgres(
        f"postgresql://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{pg.database}{query}"
    )


@contextmanager
def connect(settings: Settings) -> Iterator[Any]:
    """A DB-API connection in autocommit mode: each statement commits at once.

    Used for the job ledger, where a job id must be durable the moment it is written.
    """
    if settings.target == "duckdb":
        import duckdb

        settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(str(settings.duckdb_path))
        try:
            yield conn
        finally:
            conn.close()
    else:
        import psycopg2

        conn = psycopg2.connect(settings.postgres.dsn())
        conn.autocommit = True
        try:
            yield conn
        finally:
            conn.close()


def prepare_duckdb_for_payload_loads(conn: Any, memory_limit: str) -> None:
    """Settings for a DuckDB connection that lands masked payloads (the extractor's).

    DuckDB sizes its buffer pool from the machine's RAM; with a fixed pool (`memory_limit`,
    `Settings.duckdb_load_memory`) merges spill to disk instead. The pool must still hold one
    vector (2,048 rows) of payloads in one piece: dlt's merge ranks the rows of a load with a
    window function, which failed at 128 MB for payloads averaging 25 KB and passed at 256 MB
    (bench/RESULTS.md). One thread leaves the other core to the job workers: loads ran faster
    so. And each load's checkpoint compressed the payloads with DuckDB's default string codecs
    (FSST, dictionary) at ~2 s per 20,000 conversations, where zstd takes a third of that and
    stores them in a third of the space. These settings last for the connection.
    """
    conn.execute(f"set memory_limit = '{memory_limit}'")
    conn.execute("set threads = 1")
    conn.execute("set force_compression = 'zstd'")


LZ4_SESSION_OPTION = "-c default_toast_compression=lz4"


def postgres_payload_options(conn: Any) -> str:
    """Session options for connections that write JSON payloads, given an open connection.

    A masked payload (~5 KB) is stored TOASTed; Postgres compresses it with pglz by default,
    which made a COPY of 10,000 payloads into jsonb take 2.8 s against 1.7 s with lz4
    (measured here). lz4 is used only where the server was built with it.
    """
    cur = conn.cursor()
    cur.execute(
        "select 1 from pg_settings where name = 'default_toast_compression'"
        " and 'lz4' = any(enumvals)"
    )
    return LZ4_SESSION_OPTION if cur.fetchone() else ""


def query(settings: Settings, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one statement and return all rows (empty for statements without a result)."""
    with connect(settings) as conn:
        cur = conn.cursor()
        # No parameter list at all when there are none, so a literal % needs no escaping.
        if params:
            cur.execute(sql, list(params))
        else:
            cur.execute(sql)
        if cur.description is None:
            return []
        return [tuple(row) for row in cur.fetchall()]


def placeholder(settings: Settings) -> str:
    """The DB-API parameter marker of the target's driver."""
    return "?" if settings.target == "duckdb" else "%s"
