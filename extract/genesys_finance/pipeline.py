"""The dlt pipeline that lands masked conversations and dimensions in `genesys_raw`.

Conversations arrive as finished load files, one per results page, written by the job workers
(`write_load_file`: csv for Postgres's COPY, parquet for DuckDB) and imported by dlt as they are
(`dlt.mark.with_file_import`): dlt's extract and normalize steps then only link files, and the
payload, JSON text from orjson, never goes through dlt's Python normalizer, which DESIGN.md
decision 1 measured as the bottleneck. Dimensions are small and go in as Arrow tables. Each
`load_*` call is one dlt load (merge on the primary key): committed or not at all.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from dlt.common.schema.typing import TColumnSchema

from genesys_finance.settings import RAW_SCHEMA, Settings
from genesys_finance.tempdirs import run_tempdir
from genesys_finance.warehouse import dlt_destination

log = logging.getLogger(__name__)

PIPELINE_NAME = "genesys_finance_extract"
_ENV_SCOPE = PIPELINE_NAME.upper()
TIMESTAMP = pa.timestamp("us", tz="UTC")
POSTGRES_LOAD_WORKERS = 4
PARQUET_ROW_GROUP_BYTES = 4 << 20

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
CONVERSATION_HINTS: dict[str, TColumnSchema] = {
    "conversation_id": {"data_type": "text", "nullable": False, "primary_key": True},
    "conversation_start": {"data_type": "timestamp"},
    "conversation_end": {"data_type": "timestamp", "nullable": True},
    "payload": {"data_type": "json"},
    "extracted_at": {"data_type": "timestamp", "nullable": False, "dedup_sort": "desc"},
    "job_id": {"data_type": "text"},
}

ENTITY_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("division_id", pa.string()),
        pa.field("payload", pa.string()),
        pa.field("extracted_at", TIMESTAMP, nullable=False),
    ]
)
ENTITY_HINTS: dict[str, TColumnSchema] = {
    "id": {"data_type": "text", "nullable": False, "primary_key": True},
    "name": {"data_type": "text", "nullable": True},
    "division_id": {"data_type": "text", "nullable": True},
    "payload": {"data_type": "json"},
    "extracted_at": {"data_type": "timestamp", "nullable": False, "dedup_sort": "desc"},
}


def conversations_table(
    conversations: Iterable[dict[str, Any]], job_id: str, extracted_at: datetime
) -> pa.Table:
    """One Arrow row per (already masked) conversation, consumed in one pass: each dict can be
    released as soon as it is serialized."""
    ids: list[str] = []
    starts: list[str | None] = []
    ends: list[str | None] = []
    payloads: list[bytes] = []
    for conversation in conversations:
        ids.append(conversation["conversationId"])
        starts.append(conversation.get("conversationStart"))
        ends.append(conversation.get("conversationEnd"))
        payloads.append(orjson.dumps(conversation))
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


LoadFileFormat = Literal["csv", "parquet"]


def load_file_format(target: str) -> LoadFileFormat:
    """The file format dlt loads fastest into the target (engineering notes): csv through COPY
    into Postgres, parquet into DuckDB."""
    return "parquet" if target == "duckdb" else "csv"


def write_load_file(table: pa.Table, path: Path, file_format: LoadFileFormat) -> None:
    """Write a masked page as a file dlt imports as is (no extract/normalize rewrite).

    csv: a header row naming the columns (dlt's COPY reads it), every string quoted, NULL as an
    empty field. parquet: uncompressed, since the file lives seconds on local disk, in row groups
    of ~4 MB: DuckDB reads a row group's column at once, and a page of large conversations in
    one group ran its buffer pool out of memory (25 MB groups at 128 MB)."""
    if file_format == "csv":
        pa_csv.write_csv(table, str(path))
    else:
        rows = table.num_rows * PARQUET_ROW_GROUP_BYTES // max(table.nbytes, 1)
        pq.write_table(table, str(path), compression="none", row_group_size=max(1, rows))


def entities_table(entities: Sequence[dict[str, Any]], extracted_at: datetime) -> pa.Table:
    """One Arrow row per (already masked) dimension entity."""
    n = len(entities)
    return pa.Table.from_arrays(
        [
            pa.array([str(e["id"]) for e in entities], pa.string()),
            pa.array([e.get("name") for e in entities], pa.string()),
            pa.array([(e.get("division") or {}).get("id") for e in entities], pa.string()),
            pa.array([orjson.dumps(e) for e in entities], pa.string()),
            pa.array([extracted_at] * n, TIMESTAMP),
        ],
        schema=ENTITY_SCHEMA,
    )


class _ExpectedJsonHintWarning(logging.Filter):
    """dlt warns on every load that the `json` hint overrides the Arrow `string` payload
    column: that override is the point (JSON text in, jsonb / JSON out), so drop the noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "when merging arrow schema with dlt schema" not in record.getMessage()


logging.getLogger("dlt").addFilter(_ExpectedJsonHintWarning())


class RawLoader:
    """A dlt pipeline into `genesys_raw`, with a private working directory.

    The working directory is temporary: after a crash, pending load packages are not replayed
    (dlt would load them *instead of* the next extract); the job ledger drives the re-fetch.
    For DuckDB pass the process's one connection (`duckdb_conn`): DuckDB allows one writer
    process, and the job ledger writes through the same database instance.
    """

    def __init__(
        self, settings: Settings, duckdb_conn: Any = None, postgres_options: str = ""
    ) -> None:
        """`postgres_options`: libpq session options for dlt's connections (see
        `warehouse.postgres_payload_options`)."""
        import dlt

        self.settings = settings
        # dlt gzips its load files by default: with csv that was 2/3 of a Postgres load
        # (measured), for files that live seconds on local disk.
        for section in ("DATA_WRITER", "NORMALIZE__DATA_WRITER"):
            os.environ.setdefault(f"{_ENV_SCOPE}__{section}__DISABLE_COMPRESSION", "true")
        # Load files are COPYed side by side into the staging table (4: as fast as 2 and faster
        # than 1 or dlt's 20 on the 2-core bench); DuckDB takes them one at a time (parallel
        # inserts into one connection ran out of its buffer pool).
        workers = "1" if settings.target == "duckdb" else str(POSTGRES_LOAD_WORKERS)
        os.environ.setdefault(f"{_ENV_SCOPE}__LOAD__WORKERS", workers)
        # A loaded package's files are of no further use (the ledger drives re-fetches); dlt
        # keeps them by default, which at 1M conversations is gigabytes of temporary disk.
        os.environ.setdefault(f"{_ENV_SCOPE}__LOAD__DELETE_COMPLETED_JOBS", "true")
        self._workdir = str(run_tempdir("dlt"))
        if settings.target == "duckdb":
            if duckdb_conn is None:
                raise ValueError("the DuckDB target needs the process's shared connection")
            destination: Any = dlt.destinations.duckdb(duckdb_conn)
        else:
            destination = dlt_destination(settings, postgres_options)
        self.file_format = load_file_format(settings.target)
        self.pipeline = dlt.pipeline(
            pipeline_name=PIPELINE_NAME,
            destination=destination,
            dataset_name=RAW_SCHEMA,
            pipelines_dir=self._workdir,
        )

    def load_conversations(self, files: Iterable[tuple[Path, int]]) -> None:
        """One dlt load of page files written by `write_load_file` in `self.file_format`,
        given as (path, rows). dlt hard-links them into its package, so the caller may delete
        its own names once this returns."""
        import dlt

        imports = (
            dlt.mark.with_file_import(str(path), self.file_format, items_count=rows)
            for path, rows in files
        )
        self._run(imports, "conversations", "conversation_id", CONVERSATION_HINTS)

    def load_entities(self, kind: str, tables: Iterable[pa.Table]) -> None:
        self._run(tables, kind, "id", ENTITY_HINTS)

    def _run(
        self,
        items: Iterable[Any],
        table_name: str,
        primary_key: str,
        hints: dict[str, TColumnSchema],
    ) -> None:
        import dlt

        resource = dlt.resource(
            _passthrough(items),
            name=table_name,
            write_disposition="merge",
            primary_key=primary_key,
            columns=hints,
        )
        self.pipeline.run(resource, loader_file_format=self.file_format)

    def close(self) -> None:
        shutil.rmtree(self._workdir, ignore_errors=True)


def _passthrough(items: Iterable[Any]) -> Iterator[Any]:
    # dlt wants a generator function's product; drop empty tables (nothing to write).
    for item in items:
        if not isinstance(item, pa.Table) or item.num_rows:
            yield item
