"""CDR files -> raw records: the header, then (line number, cells) per CSV record.

The file is decoded with the profile's encoding; bytes that are not valid in it do not stop the
file: the record holding them is reported as a bad row (the rest loads). A record with broken
quoting, and a last line cut short (no line end, fewer fields), are reported the same way.
Nothing here ever echoes a cell: cells hold clear numbers.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


def scan_file(path: Path, name: str, encoding: str) -> FileScan:
    """One pass over the bytes: content hash, last byte, and whether all of it decodes."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(encoding)()
    last = b""
    clean = True
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                last = chunk[-1:]
                if clean:
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
    return FileScan(digest.hexdigest(), last in (b"\n", b"\r", b""), clean)


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
