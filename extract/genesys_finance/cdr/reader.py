"""CDR files -> raw records: the header, then (line number, cells) per CSV record.

Two readers give the same records. `records` (Python's csv module) reads any file: it is decoded
with the profile's encoding; bytes that are not valid in it do not stop the file: the record
holding them is reported as a bad row (the rest loads). A record with broken quoting, and a last
line cut short (no line end, fewer fields), are reported the same way. `arrow_chunks` (Arrow's
streaming CSV reader, ~8x faster) reads only files where every record is one physical line
(`FileScan.one_line_records`: UTF-8, no quote character, no NUL byte, no blank line but at the
end, no lone CR), because Arrow gives no line numbers for good rows: there the n-th record is the
n-th line, and a record of the wrong width still reaches the row parser with its line.
Nothing here ever echoes a cell: cells hold clear numbers.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_UNDECODABLE = re.compile("[\udc80-\udcff]")  # what `surrogateescape` makes of a bad byte


class CdrFileError(Exception):
    """The whole file cannot be loaded (unreadable, no header, a required column missing)."""


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One CSV record: its first line number (header = 1) and cells, or why it is unreadable."""

    line: int
    cells: list[str] | None
    problem: str | None = None  # set when cells is None
    unterminated: bool = False  # the file's last record, with no line end after it


@dataclass(frozen=True)
class FileScan:
    sha256: str  # of the content: the file's identity (a renamed copy is the same file)
    ends_with_newline: bool
    clean_text: bool  # every byte decodes in the encoding: no row needs checking for bad bytes
    one_line_records: bool = False  # every record is one line: `arrow_chunks` may read it
    line_ends: int = 0  # about the LF bytes, so the records, header included (sizes the loads)


class _LineShape:
    """Whether every CSV record of a file is exactly one physical line, checked chunk by chunk
    with byte searches (no quote character, so no quoted line end or broken quoting; no NUL; no
    blank line except trailing ones; every CR followed by LF)."""

    def __init__(self) -> None:
        self.simple = True
        self.started = False
        self.blank_seen = False  # only line ends may follow
        self.tail = b""
        self.cr = self.crlf = 0

    def feed(self, chunk: bytes) -> None:
        if not self.simple:
            return
        if b'"' in chunk or b"\0" in chunk:
            self.simple = False
            return
        if not self.started:
            self.started = True
            if chunk.removeprefix(codecs.BOM_UTF8)[:1] in (b"\n", b"\r"):
                self.simple = False  # a blank first line: the header is not on line 1
                return
        if self.blank_seen and chunk.strip(b"\r\n"):
            self.simple = False  # a blank line with records after it
        seam = self.tail + chunk[:2]  # a blank line across the previous chunk's end
        has_cr = b"\r" in seam or b"\r" in chunk
        for blank in (b"\n\n", b"\n\r\n") if has_cr else (b"\n\n",):
            for text, offset in ((seam, len(self.tail)), (chunk, 0)):
                at = text.find(blank)
                if at >= 0:
                    if chunk[max(at - offset, 0) :].strip(b"\r\n"):
                        self.simple = False
                    self.blank_seen = True
        if has_cr:
            self.cr += chunk.count(b"\r")
            self.crlf += chunk.count(b"\r\n")
        self.crlf += self.tail[-1:] == b"\r" and chunk[:1] == b"\n"
        self.tail = (self.tail + chunk)[-2:] if len(chunk) < 2 else chunk[-2:]

    def result(self) -> bool:
        return self.simple and self.cr == self.crlf


def scan_file(path: Path, name: str, encoding: str) -> FileScan:
    """One pass over the bytes: content hash, last byte, whether all of it decodes, and whether
    every record is one line (`_LineShape`); the line count estimated from the first chunk."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(encoding)()
    # While every chunk so far is ASCII, a UTF-8 (or ASCII) decoder has nothing pending and the
    # next ASCII chunk decodes: `isascii` instead of decoding (~0.1 s of a 210 MB file).
    ascii_so_far = codecs.lookup(encoding).name in ("utf-8", "ascii")
    shape = _LineShape()
    last = b""
    clean = True
    line_ends = 0
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                if not last:  # the first chunk: its lines scaled to the file (exact if it is all)
                    line_ends = chunk.count(b"\n") * size // len(chunk)
                last = chunk[-1:]
                shape.feed(chunk)
                ascii_so_far = ascii_so_far and chunk.isascii()
                if clean and not ascii_so_far:
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError:
                        clean = False
            if clean:
                decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        clean = False
    except OSError as exc:
        raise CdrFileError(f"{name}: cannot read ({exc.strerror})") from None
    utf8 = codecs.lookup(encoding).name in ("utf-8", "ascii")  # what Arrow's reader reads
    return FileScan(
        digest.hexdigest(),
        last in (b"\n", b"\r", b""),
        clean,
        clean and utf8 and shape.result(),
        line_ends,
    )


def _text_encoding(encoding: str) -> str:
    # A UTF-8 file may start with a byte order mark (Excel writes one): not part of the header.
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def records(
    path: Path, encoding: str, delimiter: str, ends_with_newline: bool, check_bytes: bool = True
) -> Iterator[RawRecord]:
    """Non-blank CSV records, header first. `check_bytes=False` when `scan_file` found every
    byte valid: no record then needs the per-row check for undecodable bytes."""
    with path.open(
        newline="", encoding=_text_encoding(encoding), errors="surrogateescape"
    ) as handle:
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        next_line = 1
        pending: RawRecord | None = None
        while True:
            start = next_line
            try:
                cells: list[str] | None = next(reader)
                problem = None
            except StopIteration:
                break
            except csv.Error as exc:  # its message can quote the row: keep only the kind
                cells, problem = None, _csv_problem(str(exc))
            next_line = reader.line_num + 1
            if cells == []:
                continue
            if check_bytes and cells is not None and _UNDECODABLE.search("".join(cells)):
                cells, problem = None, f"bytes that are not valid {encoding} text"
            if pending is not None:
                yield pending
            pending = RawRecord(start, cells, problem)
        if pending is not None:
            # Many exports omit the final line end; only a short last record is a cut-off write.
            unterminated = not ends_with_newline and pending.line > 1
            yield RawRecord(pending.line, pending.cells, pending.problem, unterminated)


def _csv_problem(message: str) -> str:
    if "NUL" in message:
        return "malformed CSV (NUL byte)"
    if "end of data" in message or "EOF" in message:
        return "malformed CSV (unterminated quote)"
    return "malformed CSV (quoting)"


@dataclass
class ArrowChunk:
    """A batch of records read by Arrow: every column as text, each row's line, and the records
    of the wrong width up to these lines (Arrow leaves them out of `columns`)."""

    columns: list[Any]  # pyarrow string arrays, one per column of the file
    lines: Any  # pyarrow int64 array: the line of each row
    bad: list[RawRecord] = field(default_factory=list)

    def records(self, rows: list[int] | None = None) -> list[RawRecord]:
        """The rows (all, or those at `rows`) as raw records, for the row parser."""
        import pyarrow as pa

        lines = self.lines.to_pylist()
        if rows is None:
            rows = list(range(len(lines)))
        index = pa.array(rows, pa.int64())
        cells = [column.take(index).to_pylist() for column in self.columns]
        rows_cells = zip(*cells, strict=True)
        return [
            RawRecord(lines[row], list(values))
            for row, values in zip(rows, rows_cells, strict=True)
        ]


# Arrow's reader holds ~40 blocks in memory (166 MB at 4 MiB blocks, 42 MB at 1 MiB: measured),
# so it reads small blocks, joined into chunks of at least CHUNK_ROWS records for the parser.
# 512 KiB and 10k rows: the parsing process's peak 159 MB against 201 MB at 1 MiB and 20k
# (1M generic rows, jemalloc; measured), for no rate measurably lost.
ARROW_BLOCK_BYTES = 1 << 19
CHUNK_ROWS = 10_000


def arrow_chunks(
    path: Path, delimiter: str, width: int, ends_with_newline: bool
) -> Iterator[ArrowChunk]:
    """The records after the header, read by Arrow; only for `FileScan.one_line_records` files,
    where record n is line n. Rows of another width go to Arrow's invalid-row handler, which
    knows their row number (Arrow counts it only when reading on one thread)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    invalid: list[RawRecord] = []

    def handler(row: Any) -> str:
        if row.number is None:  # never on one thread; refuse rather than misnumber lines
            return "error"
        invalid.append(RawRecord(int(row.number), row.text.split(delimiter)))
        return "skip"

    names = [f"c{i}" for i in range(width)]
    reader = pa_csv.open_csv(
        str(path),
        read_options=pa_csv.ReadOptions(
            use_threads=False, column_names=names, block_size=ARROW_BLOCK_BYTES
        ),
        parse_options=pa_csv.ParseOptions(
            delimiter=delimiter, quote_char=False, double_quote=False, invalid_row_handler=handler
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            check_utf8=False,  # scan_file decoded every byte already
        ),
    )
    line = 1  # the next line to number; line 1 is the header, the first row Arrow reads
    used = 0  # invalid records handed out so far (Arrow reports them in line order)
    for batch in _joined(reader):
        # A batch's rows are the next `num_rows` lines that are not invalid records; Arrow has
        # reported every invalid record before the batch that follows it.
        first, end = used, line + batch.num_rows
        while used < len(invalid) and invalid[used].line < end:
            used, end = used + 1, end + 1
        bad = invalid[first:used]
        skip = {record.line for record in bad}
        numbers = pa.array([n for n in range(line, end) if n not in skip], pa.int64())
        columns = list(batch.columns)
        if line == 1:  # the header (checked by files.open_file)
            numbers, columns = numbers[1:], [column[1:] for column in columns]
        line = end
        yield ArrowChunk(columns, numbers, bad)
    rest = invalid[used:]  # after the last good row
    if rest:
        last = rest[-1]
        if not ends_with_newline:
            rest[-1] = RawRecord(last.line, last.cells, last.problem, unterminated=True)
        empty = [pa.array([], pa.string()) for _ in range(width)]
        yield ArrowChunk(empty, pa.array([], pa.int64()), rest)


def _joined(reader: Any) -> Iterator[Any]:
    """Arrow's record batches joined into batches of at least CHUNK_ROWS rows."""
    import pyarrow as pa

    pending: list[Any] = []
    rows = 0
    for batch in reader:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= CHUNK_ROWS:
            yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]
