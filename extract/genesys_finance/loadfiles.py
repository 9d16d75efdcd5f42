"""Rows into dlt load files: the Arrow shapes of the raw tables, their dlt column hints, and the
files dlt imports as they are.

Every raw table (conversations, dimensions, CDRs) reaches dlt as Arrow: the payload is JSON text
from orjson, so dlt's Python normalizer, which DESIGN.md decision 1 measured as the bottleneck,
never sees a row. Conversations go one step further: the job workers write each masked results
page as a finished load file (`write_load_file`: csv for Postgres's COPY, parquet for DuckDB),
which the `conversations` resource (`resources.py`) hands to dlt untouched
(`dlt.mark.with_file_import`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

if TYPE_CHECKING:  # dlt costs ~0.5 s to import: the CDR parsing process writes files without it
    from dlt.common.schema.typing import TColumnSchema

TIMESTAMP = pa.timestamp("us", tz="UTC")
PARQUET_ROW_GROUP_BYTES = 4 << 20

LoadFileFormat = Literal["csv", "parquet"]
ColumnHints = dict[str, "TColumnSchema"]

CONVERSATION_SCHEMA = pa.schema(
    [
        pa.field("conversation_id", pa.string(), nullable=False),
        pa.field("conversation_start", TIMESTAMP),
        pa.field("conversation_end", TIMESTAMP),
        pa.field("payload", pa.string()),
        pa.field("extracted_at", TIMESTAMP, nullable=False),
        pa.field("job_id", pa.string()),
    ]
)
CONVERSATION_HINTS: ColumnHints = {
    "conversation_id": {"data_type": "text", "nullable": False, "primary_key": True},
    "conversation_start": {"data_type": "timestamp"},
    "conversation_end": {"data_type": "timestamp", "nullable": True},
    "payload": {"data_type": "json"},
    "extracted_at": {"data_type": "timestamp", "nullable": False, "dedup_sort": "desc"},
    "job_id": {"data_type": "text"},
}


def entity_schema(*columns: str) -> pa.Schema:
    """A dimension table: `id`, its typed text `columns`, the masked entity as JSON text, and
    when it was fetched."""
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            *(pa.field(name, pa.string()) for name in columns),
            pa.field("payload", pa.string()),
            pa.field("extracted_at", TIMESTAMP, nullable=False),
        ]
    )


def entity_hints(schema: pa.Schema) -> ColumnHints:
    """Merge on `id`; the payload lands as JSON; the latest fetch wins."""
    hints = arrow_hints(schema)
    hints["id"]["primary_key"] = True
    hints["payload"] = {"data_type": "json", "nullable": True}
    hints["extracted_at"]["dedup_sort"] = "desc"
    return hints


def conversations_table(
    conversations: Iterable[tuple[dict[str, Any], bytes]], job_id: str, extracted_at: datetime
) -> pa.Table:
    """One Arrow row per (already masked) conversation and its JSON (`orjson.dumps`), consumed
    in one pass: each dict can be released as soon as it is serialized."""
    ids: list[str] = []
    starts: list[str | None] = []
    ends: list[str | None] = []
    payloads: list[bytes] = []
    for conversation, payload in conversations:
        ids.append(conversation["conversationId"])
        starts.append(conversation.get("conversationStart"))
        ends.append(conversation.get("conversationEnd"))
        payloads.append(payload)
    n = len(ids)
    return pa.Table.from_arrays(
        [
            pa.array(ids, pa.string()),
            pa.array(starts, pa.string()).cast(TIMESTAMP),
            pa.array(ends, pa.string()).cast(TIMESTAMP),
            # Built as binary and viewed as string (same layout, no copy): ~5x faster than
            # a string array from Python bytes; orjson only ever writes valid UTF-8.
            pa.array(payloads, pa.binary()).view(pa.string()),
            pa.array([extracted_at] * n, TIMESTAMP),
            pa.array([job_id] * n, pa.string()),
        ],
        schema=CONVERSATION_SCHEMA,
    )


def entities_table(
    entities: Sequence[dict[str, Any]],
    extracted_at: datetime,
    schema: pa.Schema,
    columns: Callable[[dict[str, Any]], dict[str, str | None]],
) -> pa.Table:
    """One Arrow row per (already masked) dimension entity; `columns` gives an entity's typed
    columns (the schema's fields between `id` and `payload`)."""
    n = len(entities)
    typed = [columns(e) for e in entities]
    names = schema.names[1:-2]
    return pa.Table.from_arrays(
        [
            pa.array([str(e["id"]) for e in entities], pa.string()),
            *(pa.array([row.get(name) for row in typed], pa.string()) for name in names),
            pa.array([orjson.dumps(e) for e in entities], pa.binary()).view(pa.string()),
            pa.array([extracted_at] * n, TIMESTAMP),
        ],
        schema=schema,
    )


def arrow_hints(schema: pa.Schema) -> ColumnHints:
    """dlt column hints that say exactly what an Arrow schema says (nullability, decimal
    precision and scale, timestamps with time zone), so dlt infers nothing."""
    hints: ColumnHints = {}
    for f in schema:
        hint: TColumnSchema
        if pa.types.is_decimal(f.type):
            hint = {"data_type": "decimal", "precision": f.type.precision, "scale": f.type.scale}
        elif pa.types.is_timestamp(f.type):
            hint = {"data_type": "timestamp", "timezone": True}
        elif pa.types.is_integer(f.type):
            hint = {"data_type": "bigint"}
        elif pa.types.is_boolean(f.type):
            hint = {"data_type": "bool"}
        else:
            hint = {"data_type": "text"}
        hint["nullable"] = f.nullable
        hints[f.name] = hint
    return hints


def arrow_batches(
    rows: Iterable[dict[str, Any]], schema: pa.Schema, size: int
) -> Iterator[pa.Table]:
    """Row dicts as Arrow tables of at most `size` rows; at least one table, even empty (an
    empty table still creates its table in the warehouse, so dbt sources always exist)."""
    batch: list[dict[str, Any]] = []
    yielded = False
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield pa.Table.from_pylist(batch, schema=schema)
            batch, yielded = [], True
    if batch or not yielded:
        yield pa.Table.from_pylist(batch, schema=schema)


def write_load_file(table: pa.Table, path: Path, file_format: LoadFileFormat) -> None:
    """Write a masked page as a file dlt imports as is (no extract/normalize rewrite).

    csv: a header row naming the columns (dlt's COPY reads it), every string quoted, NULL as an
    empty field. parquet: uncompressed, since the file lives seconds on local disk, in row groups
    of ~4 MB: DuckDB reads a row group's column at once, and a page of large conversations in
    one group ran its buffer pool out of memory (25 MB groups at 128 MB)."""
    if file_format == "csv":
        pa_csv.write_csv(_utc_stamps_as_text(table), str(path))
    else:
        rows = table.num_rows * PARQUET_ROW_GROUP_BYTES // max(table.nbytes, 1)
        pq.write_table(table, str(path), compression="none", row_group_size=max(1, rows))


def _utc_stamps_as_text(table: pa.Table) -> pa.Table:
    """UTC timestamp columns as the text Arrow's CSV writer gives them (`2024-05-14
    13:02:11.412000Z`), made from the zone-less values: the writer formats a zoned timestamp
    ~20x slower (1 s per million values, measured), which was a third of a CDR load."""
    import pyarrow.compute as pc

    for index, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz in ("UTC", "+00:00", "Z"):
            naive = table.column(index).cast(pa.timestamp(f.type.unit)).cast(pa.string())
            text = pc.binary_join_element_wise(naive, "Z", "")
            table = table.set_column(index, pa.field(f.name, pa.string(), f.nullable), text)
    return table


class LoadFileWriter:
    """One load file written table by table (a parquet row group, or a run of CSV rows, each),
    so a file of many batches never holds them all in memory (the CSV through `write_csv` into
    the open file: Arrow's `CSVWriter` left the CDR parsing process ~8 MB higher, measured).
    Parquet here is for files that live seconds: no compression, no dictionaries, no
    statistics (per 250k CDR rows 0.15 s to write and 0.13 s to read, against 0.32 + 0.32 s
    with Arrow's defaults, measured)."""

    def __init__(self, path: Path, schema: pa.Schema, file_format: LoadFileFormat) -> None:
        self.path = path
        self.rows = 0
        self._csv = file_format == "csv"
        if self._csv:
            self._writer: Any = pa.OSFile(str(path), "wb")
        else:
            self._writer = pq.ParquetWriter(
                str(path),
                schema,
                compression="none",
                use_dictionary=False,
                write_statistics=False,
            )

    def write(self, table: pa.Table) -> None:
        if self._csv:
            options = pa_csv.WriteOptions(include_header=not self.rows)
            pa_csv.write_csv(_utc_stamps_as_text(table), self._writer, options)
        else:
            self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
