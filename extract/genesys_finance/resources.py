"""The dlt resources of the extraction: `conversations` and one per dimension table.

Shared by the CLI's `extract` (`runner.run_extract`) and the dlt source `source.genesys_cloud`:
the same tables, write dispositions and column hints whichever way they run.

`conversations` does not yield rows: the job workers already wrote each masked results page as a
finished load file (`loadfiles.write_load_file`), and the resource yields those files marked for
import as they are (`dlt.mark.with_file_import`), so dlt's extract and normalize steps only link
files (DESIGN.md decision 1; bench/RESULTS.md). Dimensions yield Arrow tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dlt
import pyarrow as pa

from genesys_finance.loadfiles import CONVERSATION_HINTS, LoadFileFormat

if TYPE_CHECKING:
    from dlt.extract.resource import DltResource

    from genesys_finance.dimensions import Dimension


def conversations_resource(
    files: Iterable[tuple[Path, int]], file_format: LoadFileFormat
) -> DltResource:
    """Masked conversations, one row each, merged on `conversation_id` (latest fetch wins),
    from load files given as (path, rows). dlt hard-links each file into its package as it is
    yielded, so the caller may delete its own names once the resource has moved past it."""

    def pages() -> Iterator[Any]:
        for path, rows in files:
            yield dlt.mark.with_file_import(str(path), file_format, items_count=rows)

    return dlt.resource(
        pages(),
        name="conversations",
        write_disposition="merge",
        primary_key="conversation_id",
        columns=CONVERSATION_HINTS,
    )


def dimension_resource(dimension: Dimension, tables: Iterable[pa.Table]) -> DltResource:
    """A dimension table, merged on `id` (latest fetch wins), from masked Arrow tables
    (`Dimension.tables`)."""

    def passthrough() -> Iterator[pa.Table]:
        yield from tables

    return dlt.resource(
        passthrough(),
        name=dimension.table,
        write_disposition="merge",
        primary_key="id",
        columns=dimension.hints,
    )
