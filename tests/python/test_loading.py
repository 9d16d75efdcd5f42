"""The shared loading room (`loading.load_tables`) and the warehouse interface, on both targets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from genesys_finance.loadfiles import LoadFileWriter, arrow_batches, arrow_hints
from genesys_finance.loading import TableLoad, load_tables
from genesys_finance.settings import Settings
from genesys_finance.warehouse import (
    DuckDBWarehouse,
    PostgresWarehouse,
    query,
    warehouse_for,
)

SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        ("amount", pa.decimal128(18, 6)),
        ("seen_at", pa.timestamp("us", tz="UTC")),
        ("n", pa.int64()),
    ]
)
AT = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _rows(ids: range) -> list[dict[str, object]]:
    return [{"id": f"r{i}", "amount": Decimal(i) / 1000, "seen_at": AT, "n": i} for i in ids]


def test_warehouse_for_picks_the_target_class(warehouse: Settings) -> None:
    chosen = warehouse_for(warehouse)
    expected = DuckDBWarehouse if warehouse.target == "duckdb" else PostgresWarehouse
    assert type(chosen) is expected
    mark = chosen.placeholder
    assert query(warehouse, f"select {mark} || 'x'", ["a"]) == [("ax",)]


def test_connection_is_autocommit(warehouse: Settings) -> None:
    chosen = warehouse_for(warehouse)
    with chosen.connect() as conn:
        conn.cursor().execute("create table t_auto (x int)")
        conn.cursor().execute("insert into t_auto values (1)")
    # A new connection sees the row without any commit.
    assert query(warehouse, "select count(*) from t_auto") == [(1,)]


def test_load_tables_in_order_merge_and_exact_types(warehouse: Settings) -> None:
    read: list[str] = []

    def first() -> Iterator[pa.Table]:
        yield from arrow_batches(_rows(range(5)), SCHEMA, 2)
        read.append("first")  # consumed to the end

    def second() -> list[pa.Table]:
        # Called only after the first table was loaded: the CDR loader's rejects rely on it.
        assert read == ["first"]
        return list(arrow_batches(iter(()), SCHEMA, 10))

    tables = {
        "items": TableLoad(first(), "id", arrow_hints(SCHEMA)),
        "empty_items": TableLoad(second, "id", arrow_hints(SCHEMA)),
    }
    load_tables(warehouse, "test_raw", tables)
    # Loading overlapping keys again merges: no duplicate rows, the newer values win.
    again = [{**row, "n": 100} for row in _rows(range(3, 7))]
    load_tables(
        warehouse,
        "test_raw",
        {"items": TableLoad(arrow_batches(again, SCHEMA, 10), "id", arrow_hints(SCHEMA))},
    )
    rows = query(warehouse, "select id, amount, n from test_raw.items order by id")
    assert [r[0] for r in rows] == [f"r{i}" for i in range(7)]
    assert rows[1][1] == Decimal("0.001000")
    assert [r[2] for r in rows] == [0, 1, 2, 100, 100, 100, 100]
    # An empty table still creates its table (dbt sources always exist).
    assert query(warehouse, "select count(*) from test_raw.empty_items") == [(0,)]


def test_a_load_file_written_table_by_table_reads_back_whole(tmp_path: Path) -> None:
    """`LoadFileWriter`: one CSV header (a second one would be a row for the COPY), the UTC
    stamps as the COPY reads them; one parquet row group per table; the rows in order."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    first = pa.Table.from_pylist(
        [{"id": "a", "amount": Decimal("1.5"), "seen_at": AT, "n": 1}], schema=SCHEMA
    )
    second = pa.Table.from_pylist(
        [{"id": "b", "amount": None, "seen_at": None, "n": 2}, {"id": "c", "n": 3}], schema=SCHEMA
    )
    csv_path, parquet_path = tmp_path / "rows.csv", tmp_path / "rows.parquet"
    for path, file_format in ((csv_path, "csv"), (parquet_path, "parquet")):
        writer = LoadFileWriter(path, SCHEMA, file_format)  # type: ignore[arg-type]
        writer.write(first)
        writer.write(second)
        writer.close()
        assert writer.rows == 3
    lines = csv_path.read_text().splitlines()
    assert lines[0] == '"id","amount","seen_at","n"' and len(lines) == 4
    assert lines[1] == '"a",1.500000,"2024-05-01 12:00:00.000000Z",1'
    assert pa_csv.read_csv(csv_path).column("id").to_pylist() == ["a", "b", "c"]
    assert pq.ParquetFile(parquet_path).num_row_groups == 2
    assert pq.read_table(parquet_path).equals(pa.concat_tables([first, second]))
