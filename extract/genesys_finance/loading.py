"""Loading into the warehouse: one dlt pipeline per raw dataset, shared by conversations,
dimensions and CDRs.

Everything arrives as Arrow tables or as finished load files (`loadfiles.py`; the resources of
`resources.py`), so dlt's extract and normalize steps only link files. Each `load`/`run` call
is one dlt load: committed or not at all.

For a one-shot load (CDR files), one call does it all:

    from genesys_finance.loading import TableLoad, load_tables
    load_tables(settings, "carrier_raw", {
        "cdrs": TableLoad(cdr_tables, primary_key="cdr_id", hints=arrow_hints(CDR_SCHEMA),
                          write_disposition={"disposition": "merge", "strategy": "insert-only"}),
        "cdr_rejects": TableLoad(lambda: reject_tables, primary_key="reject_id", hints=...),
    })

Tables load in the mapping's order, one dlt load each; `data` may be a callable, called only when
its table's turn comes (so it can depend on the previous tables having been read).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from dlt.common.schema.typing import TWriteDispositionConfig

from genesys_finance.loadfiles import ColumnHints, LoadFileFormat
from genesys_finance.settings import Settings
from genesys_finance.tempdirs import run_tempdir
from genesys_finance.warehouse import warehouse_for

log = logging.getLogger(__name__)

PIPELINE_PREFIX = "genesys_finance"


class _ExpectedJsonHintWarning(logging.Filter):
    """dlt warns on every load that the `json` hint overrides the Arrow `string` payload
    column: that override is the point (JSON text in, jsonb / JSON out), so drop the noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "when merging arrow schema with dlt schema" not in record.getMessage()


logging.getLogger("dlt").addFilter(_ExpectedJsonHintWarning())


@dataclass(frozen=True)
class TableLoad:
    """One table of a `load_tables` call."""

    data: Iterable[pa.Table] | Callable[[], Iterable[pa.Table]]
    primary_key: str
    hints: ColumnHints
    write_disposition: TWriteDispositionConfig = "merge"


def pipeline_name(dataset: str) -> str:
    """One pipeline name per raw dataset (`genesys_finance_genesys_raw`, ...): its name scopes
    the dlt settings `Loader` sets."""
    return f"{PIPELINE_PREFIX}_{dataset}"


class Loader:
    """A dlt pipeline into one dataset, with a private, temporary working directory.

    The working directory is temporary: after a crash, pending load packages are not replayed
    (dlt would load them *instead of* the next extract); the job ledger drives the re-fetch, and
    CDR loads are idempotent.
    """

    def __init__(
        self, destination: Any, dataset: str, file_format: LoadFileFormat, load_workers: int = 1
    ) -> None:
        import dlt

        self.file_format = file_format
        name = pipeline_name(dataset)
        scope = name.upper()
        # dlt gzips its load files by default: with csv that was 2/3 of a Postgres load
        # (measured), for files that live seconds on local disk.
        for section in ("DATA_WRITER", "NORMALIZE__DATA_WRITER"):
            os.environ.setdefault(f"{scope}__{section}__DISABLE_COMPRESSION", "true")
        os.environ.setdefault(f"{scope}__LOAD__WORKERS", str(load_workers))
        # A loaded package's files are of no further use; dlt keeps them by default, which at
        # 1M conversations is gigabytes of temporary disk.
        os.environ.setdefault(f"{scope}__LOAD__DELETE_COMPLETED_JOBS", "true")
        self._workdir = str(run_tempdir("dlt"))
        self.pipeline = dlt.pipeline(
            pipeline_name=name,
            destination=destination,
            dataset_name=dataset,
            pipelines_dir=self._workdir,
        )

    @classmethod
    def for_settings(cls, settings: Settings, dataset: str) -> Loader:
        """A loader into the configured warehouse that opens its own connections."""
        warehouse = warehouse_for(settings)
        return cls(
            warehouse.dlt_destination(),
            dataset,
            warehouse.load_file_format,
            warehouse.load_workers,
        )

    def load(
        self,
        table: str,
        data: Iterable[Any],
        primary_key: str,
        hints: ColumnHints,
        write_disposition: TWriteDispositionConfig = "merge",
    ) -> None:
        """One dlt load of Arrow tables (or marked load files) into `table`."""
        import dlt

        resource = dlt.resource(
            _passthrough(data),
            name=table,
            table_name=table,
            write_disposition=write_disposition,
            primary_key=primary_key,
            columns=hints,
        )
        self.pipeline.run(resource, loader_file_format=self.file_format)

    def run(self, data: Any) -> None:
        """One dlt load of resources (or a source) that carry their own table hints."""
        self.pipeline.run(data, loader_file_format=self.file_format)

    def close(self) -> None:
        shutil.rmtree(self._workdir, ignore_errors=True)


def load_tables(settings: Settings, dataset: str, tables: Mapping[str, TableLoad]) -> None:
    """Load each table into `dataset` of the configured warehouse, in order, one dlt load each."""
    loader = Loader.for_settings(settings, dataset)
    try:
        for table, spec in tables.items():
            data = spec.data() if callable(spec.data) else spec.data
            loader.load(table, data, spec.primary_key, spec.hints, spec.write_disposition)
    finally:
        loader.close()


def _passthrough(items: Iterable[Any]) -> Iterator[Any]:
    # dlt wants a generator function's product, not any iterable.
    yield from items
