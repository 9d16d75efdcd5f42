"""The disk spool between job workers and the loader: round trip, byte budget, cleanup."""

from __future__ import annotations

import os
import stat
import threading
import time

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from genesys_finance.spool import PageSpool, SpoolClosed, SpooledPage


def _page(rows: int, start: int = 0) -> pa.Table:
    return pa.table(
        {
            "conversation_id": [f"c-{i}" for i in range(start, start + rows)],
            "payload": ['{"a":' + str(i) + "}" for i in range(start, start + rows)],
        }
    )


def _read_back(page: SpooledPage) -> pa.Table:
    if page.path.suffix == ".csv":
        # As dlt's COPY reads it: a header row, then every value a quoted string.
        options = pa_csv.ConvertOptions(column_types={"conversation_id": pa.string(),
                                                      "payload": pa.string()})  # fmt: skip
        return pa_csv.read_csv(page.path, convert_options=options)
    return pq.read_table(page.path)


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_a_spooled_page_reads_back_equal_and_discard_deletes_it(tmp_path, file_format):
    spool = PageSpool(directory=str(tmp_path), file_format=file_format)
    try:
        table = _page(500)
        page = spool.write(table)
        assert page.rows == 500 and page.path.suffix == f".{file_format}"
        assert page.path.exists() and page.size == page.path.stat().st_size
        assert spool.pending_bytes == page.size
        assert _read_back(page).equals(table)
        spool.discard([page])
        assert not page.path.exists()
        assert spool.pending_bytes == 0
    finally:
        spool.close()


def test_the_spool_directory_is_private_and_removed_on_close(tmp_path):
    spool = PageSpool(directory=str(tmp_path))
    spool.write(_page(10))
    mode = stat.S_IMODE(spool.directory.stat().st_mode)
    assert mode == 0o700
    spool.close()
    assert not spool.directory.exists()


def test_a_writer_waits_for_room_until_the_loader_discards(tmp_path):
    one_page = PageSpool(directory=str(tmp_path))
    size = one_page.write(_page(100)).size
    one_page.close()

    spool = PageSpool(max_bytes=size + size // 2, directory=str(tmp_path))
    first = spool.write(_page(100))
    written: list[int] = []

    def second_writer() -> None:
        written.append(spool.write(_page(100, start=100)).rows)

    thread = threading.Thread(target=second_writer)
    thread.start()
    time.sleep(0.5)
    assert written == [], "the second page must wait: the budget holds one page"
    spool.discard([first])
    thread.join(timeout=5)
    assert written == [100]
    spool.close()


def test_a_page_larger_than_the_budget_still_fits_when_the_spool_is_empty(tmp_path):
    spool = PageSpool(max_bytes=1, directory=str(tmp_path))
    page = spool.write(_page(1000))
    assert _read_back(page).num_rows == 1000
    spool.close()


def _blocked_writer(
    spool: PageSpool, should_stop=None
) -> tuple[threading.Thread, list[BaseException]]:
    """A thread writing a second page into a full spool; what it raised lands in the list."""
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            spool.write(_page(10, start=10), should_stop)
        except (SpoolClosed, OSError) as exc:  # OSError: closed before its file was written
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.3)
    return thread, errors


def test_a_waiting_writer_stops_when_asked_and_leaves_no_file(tmp_path):
    spool = PageSpool(max_bytes=1, directory=str(tmp_path))
    spool.write(_page(10))
    stop = threading.Event()
    thread, errors = _blocked_writer(spool, stop.is_set)
    stop.set()
    thread.join(timeout=5)
    assert len(errors) == 1 and isinstance(errors[0], SpoolClosed)
    assert len(list(spool.directory.iterdir())) == 1  # only the first page
    spool.close()


def test_close_releases_a_waiting_writer(tmp_path):
    spool = PageSpool(max_bytes=1, directory=str(tmp_path))
    spool.write(_page(10))
    thread, errors = _blocked_writer(spool)
    spool.close()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(errors) == 1


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
@pytest.mark.parametrize("rows", [0, 1])
def test_empty_and_single_row_pages_round_trip(tmp_path, rows, file_format):
    spool = PageSpool(directory=str(tmp_path), file_format=file_format)
    page = spool.write(_page(rows))
    assert page.rows == rows
    if rows:  # a header-only csv has no rows for pyarrow to infer types from
        assert _read_back(page).equals(_page(rows))
    spool.close()


def test_a_new_run_sweeps_the_directories_of_dead_runs_only(tmp_path):
    import subprocess
    import sys

    from genesys_finance.tempdirs import run_tempdir

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f"genesys-finance-spool-{dead.stdout.strip()}-abc"
    stale.mkdir()
    (stale / "00000000.arrow").write_bytes(b"masked page")
    alive = tmp_path / f"genesys-finance-spool-{os.getpid()}-def"
    alive.mkdir()
    other_kind = tmp_path / f"genesys-finance-dlt-{dead.stdout.strip()}-ghi"
    other_kind.mkdir()

    fresh = run_tempdir("spool", str(tmp_path))

    assert not stale.exists()
    assert alive.exists() and other_kind.exists() and fresh.exists()
    assert fresh.name.startswith(f"genesys-finance-spool-{os.getpid()}-")
