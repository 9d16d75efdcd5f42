"""Typed CDR rows and rejects -> `carrier_raw.cdrs` / `carrier_raw.cdr_rejects`.

Rows go to the warehouse as Arrow tables through dlt (insert-only merge on the line id, so a
file loaded twice changes nothing). `write_tables` is the one entry point: when the shared
loading module lands, it is the only function to switch.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields
from operator import attrgetter
from typing import Any

from genesys_finance.cdr.parse import CdrReject, CdrRow
from genesys_finance.settings import CARRIER_SCHEMA, Settings

CDR_TABLE = "cdrs"
REJECT_TABLE = "cdr_rejects"
PIPELINE_NAME = "genesys_finance_cdrs"
BATCH_ROWS = 50_000

# Rows are fully determined by (file content, line): never update, only add new keys.
_WRITE_DISPOSITION: Any = {"disposition": "merge", "strategy": "insert-only"}


def arrow_schemas() -> tuple[Any, Any]:
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    types = {
        "start_time": ts,
        "end_time": ts,
        "answer_time": ts,
        "loaded_at": ts,
        "duration_ms": pa.int64(),
        "billed_seconds": pa.int64(),
        "source_line": pa.int64(),
        "rate_per_minute": pa.decimal128(18, 8),
        "billed_amount": pa.decimal128(18, 6),
    }

    def schema(cls: type, key: str) -> Any:
        return pa.schema(
            [
                pa.field(f.name, types.get(f.name, pa.string()), nullable=f.name != key)
                for f in fields(cls)
            ]
        )

    return schema(CdrRow, "cdr_id"), schema(CdrReject, "reject_id")


def _column_hints(schema: Any) -> Any:
    """dlt column hints matching the Arrow schema (explicit precision, scale, timezone)."""
    import pyarrow as pa

    hints: dict[str, dict[str, Any]] = {}
    for f in schema:
        hint: dict[str, Any] = {"nullable": f.nullable}
        if pa.types.is_decimal(f.type):
            hint.update(data_type="decimal", precision=f.type.precision, scale=f.type.scale)
        elif pa.types.is_timestamp(f.type):
            hint.update(data_type="timestamp", timezone=True)
        elif pa.types.is_integer(f.type):
            hint.update(data_type="bigint")
        else:
            hint.update(data_type="text")
        hints[f.name] = hint
    return hints


def _tables(items: Iterable[Any], schema: Any, size: int) -> Iterator[Any]:
    """Arrow tables of `size` dataclass rows, built column by column."""
    import pyarrow as pa

    values = attrgetter(*schema.names)

    def table(batch: list[Any]) -> Any:
        columns = list(zip(*map(values, batch), strict=True)) if batch else [()] * len(schema)
        return pa.Table.from_arrays(
            [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)],
            schema=schema,
        )

    batch: list[Any] = []
    yielded = False
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield table(batch)
            batch, yielded = [], True
    if batch or not yielded:
        # An empty table still creates the table, so dbt sources always exist.
        yield table(batch)


def _resource(name: str, key: str, schema: Any, items: Iterable[Any]) -> Any:
    import dlt

    return dlt.resource(
        _tables(items, schema, BATCH_ROWS),
        name=name,
        table_name=name,
        primary_key=key,
        write_disposition=_WRITE_DISPOSITION,
        columns=_column_hints(schema),
    )


def write_tables(
    settings: Settings, rows: Iterable[CdrRow], rejects: Callable[[], Iterable[CdrReject]]
) -> None:
    """Load `rows`, then the rejects set aside while reading them (`rejects()` is called after
    `rows` is exhausted). Both loads are idempotent, so a crash between them is repaired by
    loading the files again."""
    import dlt

    from genesys_finance.warehouse import dlt_destination, warehouse_for

    cdr_schema, reject_schema = arrow_schemas()
    file_format = warehouse_for(settings).load_file_format
    with tempfile.TemporaryDirectory(prefix="gf-cdrs-") as pipelines_dir:
        # A throwaway working dir: the load is idempotent, so no local state is worth keeping.
        pipeline = dlt.pipeline(
            pipeline_name=PIPELINE_NAME,
            destination=dlt_destination(settings),
            dataset_name=CARRIER_SCHEMA,
            pipelines_dir=pipelines_dir,
        )
        pipeline.run(
            _resource(CDR_TABLE, "cdr_id", cdr_schema, rows), loader_file_format=file_format
        )
        pipeline.run(
            _resource(REJECT_TABLE, "reject_id", reject_schema, rejects()),
            loader_file_format=file_format,
        )


def counts_by_file(settings: Settings, table: str, shas: list[str]) -> dict[str, int]:
    """Rows per file counted in the table (dlt's csv counts are inflated, dlt#4461)."""
    from genesys_finance.warehouse import placeholder, query

    mark = placeholder(settings)
    exists = query(
        settings,
        "select count(*) from information_schema.tables "
        f"where table_schema = {mark} and table_name = {mark}",
        (CARRIER_SCHEMA, table),
    )
    if not shas or not exists[0][0]:
        return {}
    rows = query(
        settings,
        f"select file_sha256, count(*) from {CARRIER_SCHEMA}.{table} "
        f"where file_sha256 in ({', '.join([mark] * len(shas))}) group by file_sha256",
        shas,
    )
    return {str(sha): int(n) for sha, n in rows}


# Every column a line's content decides: two lines equal on these are the same CDR twice.
_CONTENT_COLUMNS = tuple(
    f.name
    for f in fields(CdrRow)
    if f.name not in ("cdr_id", "source_line", "loaded_at", "file_sha256", "source_file")
)


def duplicate_lines(settings: Settings, sha: str, limit: int = 100) -> list[tuple[int, int]]:
    """(line, first line with the same content) for repeated CDRs of one file."""
    from genesys_finance.warehouse import placeholder, query

    cols = ", ".join(_CONTENT_COLUMNS)
    rows = query(
        settings,
        f"select source_line, first_line from (select source_line, min(source_line) over "
        f"(partition by {cols}) as first_line from {CARRIER_SCHEMA}.{CDR_TABLE} "
        f"where file_sha256 = {placeholder(settings)}) as lines "
        f"where source_line <> first_line order by source_line limit {int(limit)}",
        (sha,),
    )
    return [(int(a), int(b)) for a, b in rows]
