"""Genesys Cloud conversation details and dimensions as a dlt source, for any dlt destination.

    import dlt
    from genesys_finance.source import genesys_cloud

    pipeline = dlt.pipeline("genesys", destination="filesystem", dataset_name="genesys_raw")
    pipeline.run(genesys_cloud(settings, date(2024, 5, 1), date(2024, 6, 1)),
                 loader_file_format="parquet")

Its resources are the ones the CLI's `extract` loads (`resources.py`, fed by the same
`runner.ExtractionRun`): `conversations` through detail jobs (masked, one row per
conversation) and the dimension tables. The difference is the commit: here the whole run is one
dlt load and the job ledger lives in memory (a failed run starts again), where
`genesys-finance extract` commits each batch of pages and keeps the ledger in the warehouse to
resume after a crash. `file_format` is the format the job workers write conversation pages in;
it must be the load's `loader_file_format` (parquet, or csv into Postgres).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from typing import Any

import dlt
import pyarrow as pa

from genesys_finance.dimensions import DIMENSIONS, Dimension
from genesys_finance.extraction import ExtractOptions, ExtractSummary
from genesys_finance.ledger import Ledger
from genesys_finance.loadfiles import LoadFileFormat
from genesys_finance.resources import conversations_resource, dimension_resource
from genesys_finance.runner import ExtractionRun
from genesys_finance.settings import Settings


class _SharedRun:
    """One `ExtractionRun` for all the source's resources: opened by the first resource dlt
    evaluates, closed when the last one is exhausted (or, if some were deselected and never
    ran, when the source's generators are garbage collected)."""

    def __init__(self, open_run: Any, users: int) -> None:
        self._open_run = open_run
        self._users = users
        self._stack = ExitStack()
        self._close = weakref.finalize(self, self._stack.close)
        self.run: ExtractionRun | None = None

    def get(self) -> ExtractionRun:
        if self.run is None:
            self.run = self._stack.enter_context(self._open_run(self._stack))
        return self.run

    def release(self) -> None:
        self._users -= 1
        if self._users == 0:
            self._close()


@dlt.source(name="genesys_cloud", max_table_nesting=0)
def genesys_cloud(
    settings: Settings,
    start: date | None = None,
    end: date | None = None,
    options: ExtractOptions | None = None,
    file_format: LoadFileFormat = "parquet",
    summaries: list[ExtractSummary] | None = None,
) -> Any:
    """`settings`: the API (`Settings.from_env()` reads GENESYS_*), the HMAC key and PII policy.
    `start`/`end`: days (UTC, end exclusive); without them, from `options.initial_start`.
    `summaries`: if given, the run's `ExtractSummary` is appended when the run ends."""
    options = options or ExtractOptions(quiet=True)
    dimensions = () if options.skip_dimensions else DIMENSIONS

    def open_run(stack: ExitStack) -> Any:
        import duckdb

        ledger = Ledger(stack.enter_context(duckdb.connect(":memory:")), "qmark")
        return ExtractionRun.open(settings, ledger, start, end, options, file_format)

    shared = _SharedRun(open_run, users=len(dimensions) + 1)

    def dimension_tables(dimension: Dimension) -> Iterator[pa.Table]:
        try:
            yield from shared.get().dimension_tables(dimension)
        finally:
            shared.release()

    def conversation_files() -> Iterator[Any]:
        try:
            yield from shared.get().conversation_files()
        finally:
            shared.release()
            if summaries is not None and shared.run is not None:
                summaries.append(shared.run.summary)

    return [
        *(dimension_resource(d, dimension_tables(d)) for d in dimensions),
        conversations_resource(conversation_files(), file_format),
    ]
