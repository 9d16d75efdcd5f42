"""Typed CDR rows and rejects -> `carrier_raw.cdrs` / `carrier_raw.cdr_rejects`.

Rows go to the warehouse as finished load files through the shared loader (`loading.py`:
insert-only merge on the line id, so a file loaded twice changes nothing). `write_tables` is
the one entry point.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields
from operator import attrgetter
from pathlib import Path
from typing import Any

from genesys_finance.cdr.parse import CdrReject, CdrRow
from genesys_finance.cdr.worker import FileResult, Parsing
from genesys_finance.loadfiles import LoadFileFormat, arrow_hints, write_load_file
from genesys_finance.settings import CARRIER_SCHEMA, Settings

CDR_TABLE = "cdrs"
REJECT_TABLE = "cdr_rejects"
BATCH_ROWS = 50_000

# Rows are fully determined by (file content, line): never update, only add new keys.
_INSERT_ONLY: Any = {"disposition": "merge", "strategy": "insert-only"}


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


def rows_table(rows: list[Any], schema: Any) -> Any:
    """An Arrow table of dataclass rows (`CdrRow` or `CdrReject`), built column by column."""
    import pyarrow as pa

    values = attrgetter(*schema.names)
    columns = list(zip(*map(values, rows), strict=True)) if rows else [()] * len(schema)
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)],
        schema=schema,
    )


def _tables(items: Iterable[Any], schema: Any, size: int) -> Iterator[Any]:
    """Arrow tables of `size` dataclass rows."""
    batch: list[Any] = []
    yielded = False
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield rows_table(batch, schema)
            batch, yielded = [], True
    if batch or not yielded:
        # An empty table still creates the table, so dbt sources always exist.
        yield rows_table(batch, schema)


def _file_imports(
    tables: Iterable[Any], schema: Any, folder: Path, file_format: LoadFileFormat
) -> Iterator[tuple[Any, int]]:
    """Each Arrow table written as a finished load file that dlt imports as is (as the
    extractor's pages): dlt's extract and normalize steps then only link files. With no rows at
    all, one empty Arrow table instead, so the table exists for dbt's sources. Each with its
    number of rows."""
    import dlt

    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for table in tables:
        if table.num_rows:
            path = folder / f"{written:06d}.{file_format}"
            write_load_file(table, path, file_format)
            written += 1
            marked = dlt.mark.with_file_import(str(path), file_format, items_count=table.num_rows)
            yield marked, table.num_rows
    if not written:
        yield rows_table([], schema), 0


def write_disposition(settings: Settings, table: str, shas: list[str]) -> Any:
    """How to load `table` for the files `shas`: append when none of their lines is in it yet
    (a plain COPY: a merge copies into a staging table and merges, about twice the work), else
    an insert-only merge on the line id, so a file loaded again, or completed after a crash
    between two of its load files, changes nothing. (Two loads of the same new file at the
    same moment would both append; the merge did not guard that either: both would insert.)"""
    return _INSERT_ONLY if counts_by_file(settings, table, shas, any_row=True) else "append"


def write_tables(
    settings: Settings,
    parser: Parsing,
    start: Callable[[Path, str], None],
    shas: list[str],
    expected_rows: int = 0,
) -> list[FileResult]:
    """Parse the files `shas` on `parser`'s process (`start(folder, file_format)` gives it its
    work: worker.py) and load the rows into `cdrs` as the load files come, then the rejects set
    aside while parsing. Returns each file's result (counts, reasons, repeat candidates).
    Every load is idempotent, so a crash
    between them is repaired by loading the files again.

    The loads take every load file ready, at least `MIN_LOAD_ROWS` rows each: parsing (the
    child) and the COPY (dlt here, the database's process) then use both cores, with few dlt
    loads. `expected_rows` (about the rows to come: the files' line count) lets the last loads
    take half of what is left instead, so the load after the parsing's end is small (with
    250k-row loads it was the last quarter of a 1M-row file, ~1.4 s)."""
    import dlt

    from genesys_finance.loading import Loader
    from genesys_finance.warehouse import warehouse_for

    cdr_schema, reject_schema = arrow_schemas()
    file_format = warehouse_for(settings).load_file_format
    with tempfile.TemporaryDirectory(prefix="gf-cdrs-") as workdir:
        files = Path(workdir)
        start(files / CDR_TABLE, file_format)  # first: the queries below overlap the parsing
        cdr_disposition = write_disposition(settings, CDR_TABLE, shas)
        reject_disposition = write_disposition(settings, REJECT_TABLE, shas)
        loader = Loader.for_settings(settings, CARRIER_SCHEMA)
        try:
            hints, reject_hints = arrow_hints(cdr_schema), arrow_hints(reject_schema)
            # The rejects table created (or its schema brought up to date) while the first rows
            # are parsed, when this process has nothing else to do: after the last load it was
            # one more dlt load on every run's critical path, with no rejects to load.
            empty_rejects = [rows_table([], reject_schema)]
            loader.load(REJECT_TABLE, empty_rejects, "reject_id", reject_hints, reject_disposition)
            loads = 0
            for group in parser.ready_files(MIN_LOAD_ROWS, expected_rows):
                imports = [
                    dlt.mark.with_file_import(str(f.path), file_format, items_count=f.rows)
                    for f in group
                ]
                loader.load(CDR_TABLE, imports, "cdr_id", hints, cdr_disposition)
                loads += 1
            if not loads:  # an empty table still creates the table, for dbt's sources
                empty = [rows_table([], cdr_schema)]
                loader.load(CDR_TABLE, empty, "cdr_id", hints, cdr_disposition)
            if parser.rejects:  # all of them: the parsing has ended
                tables = _lazy_tables(lambda: parser.rejects, reject_schema)
                reject_files = _file_imports(
                    tables, reject_schema, files / REJECT_TABLE, file_format
                )
                rejects = (item for item, _ in reject_files)
                loader.load(REJECT_TABLE, rejects, "reject_id", reject_hints, reject_disposition)
        finally:
            loader.close()
        return parser.results


# Rows of `cdrs` a dlt load waits for, unless parsing has ended: at 100k a 1M-row file took 9
# loads, each ~0.6 s of dlt's CPU beside the parsing (measured); 250k makes 4.
MIN_LOAD_ROWS = 250_000


def _lazy_tables(items: Callable[[], Iterable[Any]], schema: Any) -> Iterator[Any]:
    yield from _tables(items(), schema, BATCH_ROWS)


def counts_by_file(
    settings: Settings, table: str, shas: list[str], any_row: bool = False
) -> dict[str, int]:
    """Rows per file counted in the table (dlt's csv counts are inflated, dlt#4461);
    `any_row`: only whether any file has a row (`{sha: 1}` for one of them, or `{}`)."""
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
    where = f"where file_sha256 in ({', '.join([mark] * len(shas))})"
    if any_row:
        sql = f"select file_sha256, 1 from {CARRIER_SCHEMA}.{table} {where} limit 1"
    else:
        sql = f"select file_sha256, count(*) from {CARRIER_SCHEMA}.{table} {where} group by 1"
    rows = query(settings, sql, shas)
    return {str(sha): int(n) for sha, n in rows}


# Every column a line's content decides: two lines equal on these are the same CDR twice.
_CONTENT_COLUMNS = tuple(
    f.name
    for f in fields(CdrRow)
    if f.name not in ("cdr_id", "source_line", "loaded_at", "file_sha256", "source_file")
)


# An odd 64-bit constant (2^64 / golden ratio, as a signed int64): spreads `end_time` over the
# key's bits before it is combined with `start_time`.
_KEY_MIX = -7046029254386353131


def repeat_keys(table: Any) -> Any:
    """One batch's `source_line` and one int64 key of its start and end instants: every
    repeated CDR shares its key with another line (rare collisions only add candidates, which
    `duplicate_lines` then compares exactly). 16 bytes a row kept for the file's end, where the
    three columns (24 bytes) and a hash join of them at the end took ~80 MB (measured)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    start = table["start_time"].cast(pa.int64())
    end = table["end_time"].cast(pa.int64())
    key = pc.bit_wise_xor(start, pc.multiply(end, _KEY_MIX))  # wraps: a hash, not a sum
    return pa.table({"key": key, "source_line": table["source_line"]})


def repeat_candidates(keys: list[Any]) -> list[int] | None:
    """Lines that may repeat another line of the same file: those whose `repeat_keys` key
    another line has too. `keys`: `repeat_keys` tables, one per batch. None when there are too
    many to list (then every line is compared). Sorted, not grouped: a sort of the keys takes
    ~8 bytes a row beside them, Arrow's group-by and join several times that."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not keys:
        return []
    # From the tables' chunks: `pa.chunked_array` of whole ChunkedArrays converts them value by
    # value (~0.5 s per column at 1M rows, measured), at the end of the parsing.
    key = pa.chunked_array([c for k in keys for c in k["key"].chunks], pa.int64())
    key = key.combine_chunks()
    order = pc.sort_indices(key)
    ordered = key.take(order)
    same = pc.indices_nonzero(pc.equal(ordered[1:], ordered[:-1]))  # i: rows i and i+1 share
    if len(same) > MAX_REPEAT_CANDIDATES:
        return None
    both = pa.concat_arrays([same, pc.add(same, pa.scalar(1, pa.uint64()))])
    lines = pa.chunked_array([c for k in keys for c in k["source_line"].chunks], pa.int64())
    lines = pc.unique(lines.take(order.take(both)))
    result = sorted(lines.to_pylist())
    return result if len(result) <= MAX_REPEAT_CANDIDATES else None


MAX_REPEAT_CANDIDATES = 10_000


def duplicate_lines(
    settings: Settings, sha: str, lines: list[int] | None = None, limit: int = 100
) -> list[tuple[int, int]]:
    """(line, first line with the same content) for repeated CDRs of one file; `lines`: only
    these can repeat one another (`repeat_candidates`; None: any line)."""
    from genesys_finance.warehouse import placeholder, query

    if lines == []:
        return []
    cols = ", ".join(_CONTENT_COLUMNS)
    only = "" if lines is None else f" and source_line in ({', '.join(map(str, map(int, lines)))})"
    rows = query(
        settings,
        f"select source_line, first_line from (select source_line, min(source_line) over "
        f"(partition by {cols}) as first_line from {CARRIER_SCHEMA}.{CDR_TABLE} "
        f"where file_sha256 = {placeholder(settings)}{only}) as lines "
        f"where source_line <> first_line order by source_line limit {int(limit)}",
        (sha,),
    )
    return [(int(a), int(b)) for a, b in rows]
