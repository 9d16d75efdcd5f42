"""Postgres: the query layer's SQL runs as a role that may only read the query layer's schemas.

The warehouse connection logs in with the product's credentials, often a superuser's: such a
session could call `pg_read_file` or `lo_import` if the parser (which refuses every function it
does not know) ever let one through. Under the parser, the query's transaction is read-only and
runs after `SET ROLE` to a NOLOGIN role (env `GENESYS_FINANCE_QUERY_ROLE`, default
`genesys_query_reader`) holding USAGE on `staging`, `intermediate` and `finance` and SELECT on
their tables, nothing else: no raw schema, no ledger, no superuser-only function. The role is
created and granted here, by the connection that runs the query, only where it lacks something
(a few catalog reads otherwise): tables a build adds later get their grant on the next query.

What it does not close: the session user is still the login role, so a statement able to call
`set_config('role', ...)` could switch back; the parser refuses that function too, and a
statement's function permissions are checked before it runs.
"""

from __future__ import annotations

import os
from typing import Any

from genesys_finance.query.catalog import MART_SCHEMA, VIRTUAL_TABLES

DEFAULT_ROLE = "genesys_query_reader"
READABLE_SCHEMAS = tuple(sorted({t.schema for t in VIRTUAL_TABLES.values()} | {MART_SCHEMA}))


def query_role() -> str:
    return os.environ.get("GENESYS_FINANCE_QUERY_ROLE", DEFAULT_ROLE)


def grant_query_role(conn: Any) -> str:
    """Create the role and grant what it lacks, in a transaction of its own; its name."""
    import psycopg2

    role = query_role()
    for attempt in (1, 2):
        try:
            _grant_missing(conn, role)
            conn.commit()
            break
        except (psycopg2.errors.DuplicateObject, psycopg2.IntegrityError, psycopg2.InternalError):
            # Another query created or granted at the same moment ("tuple concurrently
            # updated"): once more sees its work done.
            conn.rollback()
            if attempt == 2:
                raise
    return role


def set_role_sql(role: str) -> Any:
    from psycopg2 import sql

    return sql.SQL("set role {}").format(sql.Identifier(role))


def _grant_missing(conn: Any, role: str) -> None:
    from psycopg2 import sql

    cur = conn.cursor()
    cur.execute("select 1 from pg_roles where rolname = %s", (role,))
    if cur.fetchone() is None:
        cur.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
    schemas = list(READABLE_SCHEMAS)
    cur.execute(
        "select nspname from pg_namespace "
        "where nspname = any(%s) and not has_schema_privilege(%s, oid, 'USAGE')",
        (schemas, role),
    )
    for (schema,) in cur.fetchall():
        cur.execute(
            sql.SQL("grant usage on schema {} to {}").format(
                sql.Identifier(schema), sql.Identifier(role)
            )
        )
    cur.execute(
        "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = any(%s) and c.relkind in ('r', 'v', 'm', 'p', 'f') "
        "and not has_table_privilege(%s, c.oid, 'SELECT')",
        (schemas, role),
    )
    for schema, table in cur.fetchall():
        cur.execute(
            sql.SQL("grant select on {} to {}").format(
                sql.Identifier(schema, table), sql.Identifier(role)
            )
        )
