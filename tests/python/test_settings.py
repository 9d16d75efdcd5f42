"""Environment settings that are not about the API: the DuckDB load pool."""

from __future__ import annotations

import pytest

from genesys_finance import warehouse as wh
from genesys_finance.settings import DEFAULT_DUCKDB_LOAD_MEMORY, ConfigError, Settings


def test_duckdb_load_memory_defaults_and_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).duckdb_load_memory == DEFAULT_DUCKDB_LOAD_MEMORY == "256MB"
    env = {"GENESYS_FINANCE_DUCKDB_LOAD_MEMORY": " 1.5GB "}
    assert Settings.from_env(env).duckdb_load_memory == "1.5GB"


@pytest.mark.parametrize("value", ["lots", "256", "-1GB", "256MB; drop table x"])
def test_a_bad_duckdb_load_memory_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="GENESYS_FINANCE_DUCKDB_LOAD_MEMORY must be a size"):
        Settings.from_env({"GENESYS_FINANCE_DUCKDB_LOAD_MEMORY": value})


def test_the_load_connection_gets_the_pool_one_thread_and_zstd(tmp_path) -> None:
    settings = Settings(duckdb_path=tmp_path / "w.duckdb", duckdb_load_memory="300MB")
    with wh.connect(settings) as conn:
        wh.DuckDBWarehouse(settings).payload_destination(conn)
        values = dict(
            conn.execute(
                "select name, value from duckdb_settings() "
                "where name in ('memory_limit', 'threads', 'force_compression')"
            ).fetchall()
        )
    assert values["threads"] == "1"
    assert values["force_compression"].lower() == "zstd"
    assert values["memory_limit"].startswith("286.1 MiB")  # 300 MB in DuckDB's units
