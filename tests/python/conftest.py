"""Shared fixtures: real warehouses (a DuckDB file, a fresh PostgreSQL database) and the simulator.

Postgres tests fail instead of skipping when GENESYS_FINANCE_REQUIRE_POSTGRES or CI is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from genesys_finance.settings import PostgresSettings, Settings

HMAC_TEST_KEY = "test-hmac-key-not-a-secret"
# The tests' data comes from the simulator: every dbt run (the CLI's included) rates it with the
# demo's invented lookups (seeds/demo/). test_dbt_lookups.py proves a real build needs the org's.
os.environ.setdefault("GENESYS_FINANCE_DEMO_LOOKUPS", "true")
# Copies of shared/reference/example-*.json (synthetic), so tests need nothing outside the repo.
REFERENCE_DIR = Path(__file__).parent / "fixtures" / "reference"

# Fixture modules owned by each area (one file each, so areas do not edit each other's fixtures).
pytest_plugins = ["sim_fixtures"]


def _postgres_required() -> bool:
    return bool(os.environ.get("GENESYS_FINANCE_REQUIRE_POSTGRES") or os.environ.get("CI"))


def _admin_pg() -> PostgresSettings:
    base = PostgresSettings.from_env(dict(os.environ))
    return PostgresSettings(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=base.port,
        user=os.environ.get("PGUSER", "postgres"),
        password=base.password,
        database=os.environ.get("PGDATABASE", "postgres"),
    )


def _admin_connect():  # type: ignore[no-untyped-def]
    import psycopg2

    try:
        conn = psycopg2.connect(_admin_pg().dsn(), connect_timeout=5)
    except psycopg2.OperationalError as exc:
        message = f"PostgreSQL is not reachable ({exc}); start it: see README"
        if _postgres_required():
            pytest.fail(message)
        pytest.skip(message)
    conn.autocommit = True
    return conn


@contextmanager
def fresh_postgres_database() -> Iterator[PostgresSettings]:
    """A new, empty PostgreSQL database, dropped on exit (for tests that need several, e.g. one
    per hypothesis example)."""
    name = f"gf_test_{uuid.uuid4().hex[:12]}"
    conn = _admin_connect()
    conn.cursor().execute(f'create database "{name}"')
    admin = _admin_pg()
    try:
        yield PostgresSettings(
            host=admin.host,
            port=admin.port,
            user=admin.user,
            password=admin.password,
            database=name,
        )
    finally:
        cur = conn.cursor()
        cur.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where datname = %s and pid <> pg_backend_pid()",
            (name,),
        )
        cur.execute(f'drop database if exists "{name}"')
        conn.close()


@pytest.fixture
def postgres_database() -> Iterator[PostgresSettings]:
    """A new, empty PostgreSQL database, dropped after the test."""
    with fresh_postgres_database() as pg:
        yield pg


def make_settings(
    target: str,
    tmp_path: Path,
    pg: PostgresSettings | None = None,
    api_url: str | None = None,
    client_id: str = "sim-client",
    client_secret: str = "sim-secret",
) -> Settings:
    return Settings(
        api_url=api_url,
        login_url=api_url,
        client_id=client_id,
        client_secret=client_secret,
        target=target,
        duckdb_path=tmp_path / "warehouse.duckdb",
        hmac_key=HMAC_TEST_KEY.encode(),
        postgres=pg or PostgresSettings(),
    )


@pytest.fixture(params=["duckdb", "postgres"])
def target(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over both warehouse targets."""
    return str(request.param)


@pytest.fixture
def warehouse(target: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings pointing at an empty warehouse of the parametrized target."""
    if target == "postgres":
        pg = request.getfixturevalue("postgres_database")
        return make_settings("postgres", tmp_path, pg)
    return make_settings("duckdb", tmp_path)
