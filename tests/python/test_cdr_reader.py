"""The two CSV readers of load-cdrs give the same records with the same line numbers: Arrow's
streaming reader (files whose every record is one line) and the csv module (any file)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from conftest import HMAC_TEST_KEY
from genesys_finance.cdr import builtin, open_file
from genesys_finance.cdr.batch import BatchParser
from genesys_finance.cdr.files import parsed_batches
from genesys_finance.cdr.load import arrow_schemas, rows_table
from genesys_finance.cdr.mask import CdrMasker
from genesys_finance.cdr.parse import CdrRow, RowParser
from genesys_finance.cdr.reader import records, scan_file
from genesys_finance.masking import Masker
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.settings import Settings
from genesys_sim.cdr_formats import write_format_files
from genesys_sim.generator import ConversationGenerator

START, END = date(2024, 3, 1), date(2024, 3, 2)
ORG = OrgNumbers.build([("+18005550000", "+18005550099")])


def _sim_lines(tmp_path: Path, fmt: str) -> tuple[list[str], str]:
    gen = ConversationGenerator(seed=5, start=START, end=END, conversations_per_day=120)
    files = write_format_files(gen, START, END, tmp_path / "sim", fmt, seed=5)
    text = files.paths["atlantic_carrier"].read_text(encoding="utf-8")
    header, *lines = text.splitlines()
    return lines, header


def _both_ways(path: Path, fmt: str) -> list[str]:
    """Arrow's path and the csv module's give equal tables and rejects."""
    profile = builtin(fmt)
    ctx = open_file(path, profile, datetime.now(UTC))
    assert ctx.one_line_records
    carrier = None if profile.has("carrier") else "atlantic_carrier"
    masker = CdrMasker(Masker.from_settings(Settings(hmac_key=HMAC_TEST_KEY.encode()), env={}), ORG)
    parser = RowParser(ctx, masker, carrier)
    items = list(records(path, profile.encoding, profile.delimiter, ctx.ends_with_newline))[1:]
    one_by_one = [parser.parse(item) for item in items]
    schema = arrow_schemas()[0]
    expected = rows_table([r for r in one_by_one if isinstance(r, CdrRow)], schema)
    batch = BatchParser(parser, schema)
    parsed = list(parsed_batches(ctx, batch))
    table = pa.concat_tables([table for table, _, _ in parsed if table.num_rows])
    rejects = [reject for _, bad, _ in parsed for reject in bad]
    assert sum(read for _, _, read in parsed) == len(items)
    assert table.sort_by("source_line").equals(expected.sort_by("source_line"))
    assert rejects == [r for r in one_by_one if not isinstance(r, CdrRow)]
    return [reject.reason for reject in rejects]


@pytest.mark.parametrize("fmt", ["generic", "bandwidth"])
def test_arrow_reader_reads_like_the_csv_module(tmp_path: Path, fmt: str) -> None:
    lines, header = _sim_lines(tmp_path, fmt)
    good = lines[:40]
    short = good[3].rsplit(",", 2)[0]  # two fields short
    long = good[4] + ",extra"
    bad_value = good[5]
    for word in ("inbound", "outbound", "ORIGINATION", "TERMINATION"):  # the direction
        bad_value = bad_value.replace(word, "sideways")
    body = [*good[:10], short, *good[10:20], long, bad_value, "   ", *good[20:], good[0]]
    cut = good[30][: len(good[30]) // 2]  # the last line cut short, no line end
    path = tmp_path / f"{fmt}.csv"
    path.write_bytes(("\r\n".join([header, *body, cut])).encode("utf-8"))
    reasons = _both_ways(path, fmt)
    width = header.count(",") + 1
    assert [reason.split(": ", 1)[0] for reason in reasons] == [
        f"{fmt}.csv line {n}" for n in (12, 23, 24, 25, len(body) + 2)
    ]
    assert reasons[0].endswith(f"has {width - 2} fields, the header has {width}")
    assert "truncated last line" in reasons[-1]
    trailing = tmp_path / f"{fmt}_trailing.csv"
    trailing.write_bytes(("\n".join([header, *body]) + "\n\n\n").encode("utf-8"))
    assert len(_both_ways(trailing, fmt)) == 4


@pytest.mark.parametrize(
    ("content", "one_line"),
    [
        (b"a,b\n1,2\n", True),
        (b"\xef\xbb\xbfa,b\r\n1,2\r\n\r\n", True),  # BOM, CRLF, a trailing blank line
        (b"a,b\n1,2", True),  # no final line end
        (b'a,b\n"1",2\n', False),  # a quote: the record could span lines
        (b"a,b\n\n1,2\n", False),  # a blank line between records
        (b"\na,b\n1,2\n", False),  # the header is not on line 1
        (b"a,b\r1,2\n", False),  # a lone CR
        (b"a,b\n1,\x002\n", False),  # NUL
        (b"a,b\n1,\xe92\n", False),  # not UTF-8
    ],
)
def test_which_files_arrow_may_read(tmp_path: Path, content: bytes, one_line: bool) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    assert scan_file(path, "f.csv", "utf-8").one_line_records is one_line


@pytest.mark.parametrize(
    ("chunks", "one_line"),
    [
        ([b"a,b\n1,2\n", b"\n3,4\n"], False),  # a blank line across two chunks
        ([b"a,b\n1,2\n", b"\n\n"], True),  # ... at the end of the file
        ([b"a,b\r", b"\n1,2\r\n"], True),  # CRLF split across two chunks
        ([b"a,b\n1,2\r", b"3,4\n"], False),  # a lone CR at a chunk's end
    ],
)
def test_line_shape_across_chunk_ends(chunks: list[bytes], one_line: bool) -> None:
    from genesys_finance.cdr.reader import _LineShape

    shape = _LineShape()
    for chunk in chunks:
        shape.feed(chunk)
    assert shape.result() is one_line


def test_keyed_hash_of_a_long_key_is_hmac() -> None:
    import hashlib
    import hmac

    from genesys_finance.call_ids import hash_call_ids

    key = b"k" * 100  # longer than SHA-256's block: HMAC hashes it first
    assert hash_call_ids(key, ["abc"])[0] == [hmac.new(key, b"abc", hashlib.sha256).hexdigest()]


def test_the_parsing_process_fails_where_files_load_and_ends_when_the_loader_stops(
    tmp_path: Path,
) -> None:
    """The parsing process's failure (e.g. a file gone) is raised where the files are loaded,
    and a loader that stops early leaves no parsing process running."""
    from genesys_finance.cdr.worker import Parsing

    lines, header = _sim_lines(tmp_path, "generic")
    path = tmp_path / "calls.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    ctx = open_file(path, builtin("generic"), datetime.now(UTC))
    masker = CdrMasker(Masker.from_settings(Settings(hmac_key=HMAC_TEST_KEY.encode()), env={}), ORG)

    with Parsing() as parsing:
        parsing.start([ctx], masker, None, tmp_path / "ok", "csv")
        groups = list(parsing.ready_files(1))
    files = [f for group in groups for f in group]
    assert sum(f.rows for f in files) == len(lines) and all(f.path.exists() for f in files)
    [result] = parsing.results
    assert (result.rows_read, result.rows_valid, result.rows_rejected) == (len(lines),) * 2 + (0,)

    path.unlink()  # opened and checked, then gone before the child reads it
    with pytest.raises(FileNotFoundError), Parsing() as failing:
        failing.start([ctx], masker, None, tmp_path / "gone", "csv")
        list(failing.ready_files(1))

    path.write_text("\n".join([header, *lines * 50]) + "\n", encoding="utf-8")
    ctx = open_file(path, builtin("generic"), datetime.now(UTC))
    with Parsing() as parsing:
        parsing.start([ctx], masker, None, tmp_path / "early", "csv")
        next(parsing.ready_files(1))
    assert not parsing._process.is_alive()
    with Parsing() as idle:  # never given work (every file failed to open): ends cleanly
        pass
    assert idle._process.exitcode == 0


class _OneAtATime:
    """A parsing process's queue that hands out one message per blocking read and has
    nothing ready otherwise: each load takes just the files it waits for."""

    def __init__(self, messages: list[Any]) -> None:
        self.messages = messages

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        import queue

        if not block or not self.messages:
            raise queue.Empty
        return self.messages.pop(0)


def test_loads_shrink_towards_the_end_of_the_parsing(tmp_path: Path) -> None:
    """With the rows to come known, the last loads take half of what is left (down to one
    file), so the load left after the parsing is small; without, groups of `min_rows`."""
    from genesys_finance.cdr.worker import LoadFile, Parsing

    def groups(expected: int) -> list[int]:
        parsing = Parsing.__new__(Parsing)  # no process: the grouping alone
        files = [("file", (tmp_path / f"{i}.csv", 50_000)) for i in range(20)]
        parsing._queue = _OneAtATime([*files, ("done", 0.0)])
        parsing.done = False
        parsing.results, parsing.rejects = [], []
        found = list(parsing.ready_files(250_000, expected))
        assert all(isinstance(f, LoadFile) for group in found for f in group)
        return [sum(f.rows for f in group) // 50_000 for group in found]

    assert groups(0) == [5, 5, 5, 5]
    assert groups(1_000_000) == [5, 5, 5, 3, 1, 1]


def test_scan_counts_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_bytes(b"a,b\n1,2\r\n3,4")
    assert scan_file(path, path.name, "utf-8").line_ends == 2


def test_scan_decodes_from_the_first_chunk_that_is_not_ascii(tmp_path: Path) -> None:
    """ASCII chunks are not decoded; a bad byte after them still is found, and a character cut
    by the chunk boundary still decodes."""
    path = tmp_path / "calls.csv"
    ascii_mib = b"a,b\n" * (1 << 18)  # exactly the first 1 MiB chunk
    path.write_bytes(ascii_mib + b"x,\xff\n")
    assert not scan_file(path, path.name, "utf-8").clean_text
    path.write_bytes(ascii_mib[:-1] + "é\n".encode())  # 0xC3 ends chunk one, 0xA9 starts two
    assert scan_file(path, path.name, "utf-8").clean_text
    assert abs(scan_file(path, path.name, "utf-8").line_ends - (1 << 18)) <= 1  # estimated
