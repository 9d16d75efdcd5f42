"""The finance reader role (Postgres): it reads every finance mart and nothing else.

The build creates the role when it is missing and grants it the finance schema (dbt `grants` on
the marts, USAGE on the schema: macros/finance/grants.sql). The test then logs in as that role
and proves both halves: every mart is readable; every other table and view (raw, the job ledger,
staging, intermediate, seeds) is refused, and nothing can be created in the finance schema.
Roles are cluster-wide: the role name is unique to the test and dropped at the end.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest

import raw_loader
from conftest import _admin_connect, make_settings
from genesys_finance.dbt_runner import run_dbt
from genesys_finance.settings import PostgresSettings
from genesys_sim.generator import ConversationGenerator

FINANCE_MARTS = {
    "fct_voice_leg_costs",
    "fct_billing_reconciliation",
    "fct_conversation_costs",
    "fct_billing_per_minute",
    "fct_revenue_attribution",
}


def _connect(pg: PostgresSettings, user: str):  # type: ignore[no-untyped-def]
    conn = psycopg2.connect(
        host=pg.host, port=pg.port, user=user, password=pg.password, dbname=pg.database
    )
    conn.autocommit = True
    return conn


def test_finance_reader_reads_the_finance_schema_and_nothing_else(
    postgres_database: PostgresSettings, tmp_path: Path
) -> None:
    role = f"gf_finance_reader_{uuid.uuid4().hex[:10]}"
    settings = make_settings("postgres", tmp_path, postgres_database)
    gen = ConversationGenerator(
        seed=7, start=date(2024, 5, 1), end=date(2024, 5, 2), conversations_per_day=20,
        now=datetime(2024, 6, 1, tzinfo=UTC),
    )  # fmt: skip
    raw_loader.load_conversations(settings, gen.conversations_for_day(date(2024, 5, 1)))
    raw_loader.load_dimensions(settings, {"queues": gen.queues(), "divisions": gen.divisions()})
    try:
        run_dbt(
            settings,
            ["build"],
            target_path=tmp_path / "target",
            extra_env={"GENESYS_FINANCE_READER_ROLE": role},
        )
        admin = _connect(postgres_database, postgres_database.user)
        cur = admin.cursor()
        cur.execute("select rolcanlogin from pg_roles where rolname = %s", (role,))
        assert cur.fetchall() == [(False,)]  # created by the build, as a group role
        cur.execute(f'alter role "{role}" login')  # so the test can log in as it
        cur.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema not in ('pg_catalog', 'information_schema')"
        )
        relations = cur.fetchall()
        finance = {(s, t) for s, t in relations if t in FINANCE_MARTS}
        assert {t for _, t in finance} == FINANCE_MARTS
        others = [(s, t) for s, t in relations if (s, t) not in finance]
        schemas = {s for s, _ in others}
        assert {"genesys_raw", "carrier_raw"} <= schemas
        assert any("staging" in s for s in schemas) and any("intermediate" in s for s in schemas)
        assert any("seeds" in s for s in schemas)
        assert ("genesys_raw", "extract_jobs") in others

        reader = _connect(postgres_database, role)
        rcur = reader.cursor()
        for schema, table in sorted(finance):
            rcur.execute(f'select count(*) from "{schema}"."{table}"')
            assert rcur.fetchone() is not None
        (finance_schema,) = {s for s, _ in finance}
        refused = 0
        for schema, table in others:
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                rcur.execute(f'select 1 from "{schema}"."{table}" limit 1')
            refused += 1
        assert refused == len(others) > 20
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            rcur.execute(f'create table "{finance_schema}".intruder (x int)')
        reader.close()
        admin.close()
    finally:
        cleanup = _connect(postgres_database, postgres_database.user)
        cleanup.cursor().execute(
            f"do $$ begin if exists (select 1 from pg_roles where rolname = '{role}') then "
            f"execute 'drop owned by \"{role}\"'; end if; end $$"
        )
        cleanup.close()
        server = _admin_connect()
        server.cursor().execute(f'drop role if exists "{role}"')
        server.close()
