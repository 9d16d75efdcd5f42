"""The dlt pipeline that lands masked conversations and dimensions in `genesys_raw`.

Rows are yielded as Arrow tables with the payload as JSON text (orjson): dlt then skips its
Python normalizer, which DESIGN.md decision 1 measured as the bottleneck. DuckDB loads parquet;
Postgres loads csv through COPY. Each `load_*` call is one dlt load: committed or not at all.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa
from dlt.common.schema.typing import TColumnSchema

from genesys_finance.settings import RAW_SCHEMA, Settings
from genesys_finance.tempdirs import run_tempdir
from genesys_finance.warehouse import dlt_destination

log = logging.getLogger(__name__)

PIPELINE_NAME = "genesys_finance_extract"
_ENV_SCOPE = PIPELINE_NAME.upper()
TIMESTAMP = pa.timestamp("us", tz="UTC")
EXTRACT_BUFFER_ROWS = 1_000
"""Rows dlt buffers before writing a row group of its extract file (a results page)."""

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
        # Arrow items skip dlt's normalizer, which is what adds the lineage columns
        # docs/internals.md promises; ask for them (scoped to this pipeline's name).
        for option in ("ADD_DLT_ID", "ADD_DLT_LOAD_ID"):
            os.environ.setdefault(f"{_ENV_SCOPE}__NORMALIZE__PARQUET_NORMALIZER__{option}", "true")
        # dlt gzips its load files by default: with csv that was 2/3 of a Postgres load
        # (measured), for files that live seconds on local disk.
        for section in ("DATA_WRITER", "NORMALIZE__DATA_WRITER"):
            os.environ.setdefault(f"{_ENV_SCOPE}__{section}__DISABLE_COMPRESSION", "true")
        # One parquet row group per results page rather than per 5,000 rows: dlt's normalize
        # reads a row group at a time, and 5,000 payloads read back were a 75 MB transient,
        # the biggest item of a Postgres run's peak (memray).
        os.environ.setdefault(
            f"{_ENV_SCOPE}__DATA_WRITER__BUFFER_MAX_ITEMS", str(EXTRACT_BUFFER_ROWS)
        )
        self._workdir = str(run_tempdir("dlt"))
        if settings.target == "duckdb":
            if duckdb_conn is None:
                raise ValueError("the DuckDB target needs the process's shared connection")
            destination: Any = dlt.destinations.duckdb(duckdb_conn)
            self.file_format = "parquet"
        else:
            destination = dlt_destination(settings, postgres_options)
            self.file_format = "csv"
        self.pipeline = dlt.pipeline(
            pipeline_name=PIPELINE_NAME,
            destination=destination,
            dataset_name=RAW_SCHEMA,
            pipelines_dir=self._workdir,
        )

    def load_conversations(self, tables: Iterable[pa.Table]) -> None:
        self._run(tables, "conversations", "conversation_id", CONVERSATION_HINTS)

    def load_entities(self, kind: str, tables: Iterable[pa.Table]) -> None:
        self._run(tables, kind, "id", ENTITY_HINTS)

    def _run(
        self,
        tables: Iterable[pa.Table],
        table_name: str,
        primary_key: str,
        hints: dict[str, TColumnSchema],
    ) -> None:
        import dlt

        resource = dlt.resource(
            _passthrough(tables),
            name=table_name,
            write_disposition="merge",
            primary_key=primary_key,
            columns=hints,
        )
        self.pipeline.run(resource, loader_file_format=self.file_format)  # type: ignore[arg-type]

    def close(self) -> None:
        shutil.rmtree(self._workdir, ignore_errors=True)


def _passthrough(tables: Iterable[pa.Table]) -> Iterator[pa.Table]:
    # dlt wants a generator function's product; drop empty tables (nothing to write).
    for table in tables:
        if table.num_rows:
            yield table
