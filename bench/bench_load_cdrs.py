"""`load-cdrs` throughput and memory on a big generic CDR file, side by side with a bare COPY.

    .venv/bin/python bench/bench_load_cdrs.py                 # 1,000,000 rows into Postgres
    .venv/bin/python bench/bench_load_cdrs.py --rows 100000
    .venv/bin/python bench/bench_load_cdrs.py --format bandwidth   # or genesys-voice, twilio

Step 0 writes one generic CSV (DESIGN.md columns, the simulator's number and time shapes) of
`--rows` CDRs, or the same calls in a carrier's format (`--format`; then the COPY is into text
columns). Each variant then runs in a fresh child process (peak RSS is that child's, from
VmHWM) against a fresh database:
- `load-cdrs`: the product's loader end to end (read, validate, mask, Arrow, dlt merge load);
- `copy`: a bare `COPY ... FROM STDIN (FORMAT csv)` of the same file into a table with the
  same columns, typed: the ceiling of what Postgres itself can take.
Targets (issue 13): `load-cdrs` at least a third of the COPY rate; peak RSS < 300 MB (for
`load-cdrs`, the loader's and its parsing process's peaks added: an upper bound of the two
at once).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from peak_memory import peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
HMAC_KEY = "bench-hmac-key"
COLUMNS = (
    "carrier", "sip_call_id", "start_time", "end_time", "billed_seconds", "calling_number",
    "called_number", "direction", "rate_per_minute", "billed_amount", "currency", "invoice_id",
    "answer_time", "duration_ms",
)  # fmt: skip
COPY_TABLE = """create table cdrs_copy (
    carrier text, sip_call_id text, start_time timestamptz, end_time timestamptz,
    billed_seconds bigint, calling_number text, called_number text, direction text,
    rate_per_minute numeric(18, 8), billed_amount numeric(18, 6), currency text,
    invoice_id text, answer_time timestamptz, duration_ms bigint)"""


def write_file(path: Path, rows: int, seed: int = 7, fmt: str = "generic") -> None:
    """Calls spread over a month, 3 carriers, customers mostly unique, the org's DIDs reused;
    written in `fmt` (a built-in profile's columns and value shapes), the same calls in each."""
    rng = random.Random(seed)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(FORMAT_COLUMNS[fmt])
        for i in range(rows):
            begin = start + timedelta(milliseconds=i * 2_592 + rng.randrange(1_000))
            duration = rng.randrange(1_000, 900_000)
            end = begin + timedelta(milliseconds=duration)
            billed = -(-duration // 6_000) * 6
            rate = rng.choice(("0.00400000", "0.01800000", "0.06000000", "0.00800000"))
            customer = f"+1{rng.randrange(2_000_000_000, 9_999_999_999)}"
            did = f"+1800555{rng.randrange(10_000):04d}"
            inbound = rng.random() < 0.7
            call = _Call(
                rng.choice(("genesys_cloud_voice", "northwind_telecom", "atlantic_carrier")),
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                begin,
                end,
                duration,
                billed,
                customer if inbound else did,
                did if inbound else customer,
                inbound,
                rate,
                f"{(billed * float(rate) / 60):.6f}",
            )
            writer.writerow(_WRITERS[fmt](call))


@dataclass(frozen=True)
class _Call:
    carrier: str
    call_id: str
    begin: datetime
    end: datetime
    duration_ms: int
    billed: int
    calling: str
    called: str
    inbound: bool
    rate: str
    amount: str


def _iso(stamp: datetime) -> str:
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _generic(c: _Call) -> tuple[object, ...]:
    return (
        c.carrier, c.call_id, _iso(c.begin), _iso(c.end), c.billed, c.calling, c.called,
        "inbound" if c.inbound else "outbound", c.rate, c.amount, "USD",
        f"INV-{c.begin:%Y%m}", _iso(c.begin), c.duration_ms,
    )  # fmt: skip


def _genesys_voice(c: _Call) -> tuple[object, ...]:
    return (
        c.call_id, c.calling, c.called, "Inbound" if c.inbound else "Outbound",
        _iso(c.begin), _iso(c.end), -(-c.duration_ms // 1000), c.billed, c.rate, c.amount, "USD",
    )  # fmt: skip


def _nanp(number: str, with_country: bool) -> str:
    return number[1:] if with_country else number[2:]  # every bench number is +1 and 10 digits


def _bandwidth(c: _Call) -> tuple[object, ...]:
    stamp = "%Y/%m/%d %I:%M:%S %p"
    kind = "LOCAL ORIGINATION" if c.inbound else "INTERSTATE TERMINATION"
    return (
        c.begin.strftime(stamp), c.end.strftime(stamp), kind, _nanp(c.calling, True),
        _nanp(c.called, False), c.billed, c.rate, c.amount,
    )  # fmt: skip


def _twilio(c: _Call) -> tuple[object, ...]:
    stamp = "%a, %d %b %Y %H:%M:%S +0000"
    return (
        c.calling, c.called, "inbound" if c.inbound else "outbound-api",
        c.begin.strftime(stamp), c.end.strftime(stamp), -(-c.duration_ms // 1000),
        f"-{c.amount}", "USD",
    )  # fmt: skip


FORMAT_COLUMNS = {
    "generic": COLUMNS,
    "genesys-voice": (
        "SIP Call Id", "Origin", "Destination", "Direction", "Start time", "End Time",
        "Duration (Seconds)", "Adjusted Duration (seconds)", "Usage Rate Per Minute",
        "Total cost", "Currency",
    ),
    "bandwidth": (
        "CallStartDateTime", "CallEndDateTime", "CallType", "CallSource", "CallDestination",
        "Duration", "PerMinRate", "Amount",
    ),
    "twilio": (
        "from", "to", "direction", "start_time", "end_time", "duration", "price", "price_unit"
    ),
}  # fmt: skip
_WRITERS = {
    "generic": _generic,
    "genesys-voice": _genesys_voice,
    "bandwidth": _bandwidth,
    "twilio": _twilio,
}


def pg_connect(database: str) -> Any:
    import psycopg2

    conn = psycopg2.connect(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=int(os.environ.get("PGPORT", "5432")),
        user=os.environ.get("PGUSER", "postgres"),
        password=os.environ.get("PGPASSWORD", "postgres"),
        dbname=database,
    )
    conn.autocommit = True
    return conn


def admin_sql(*statements: str) -> None:
    conn = pg_connect("postgres")  # not `with conn`: that opens a transaction
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def run_load_cdrs(path: Path, database: str, workdir: Path, fmt: str = "generic") -> int:
    from genesys_finance.cdr import load_cdr_files
    from genesys_finance.settings import PostgresSettings, Settings

    settings = Settings(
        target="postgres",
        duckdb_path=workdir / "unused.duckdb",
        hmac_key=HMAC_KEY.encode(),
        postgres=PostgresSettings(
            host=os.environ.get("PGHOST", "127.0.0.1"),
            port=int(os.environ.get("PGPORT", "5432")),
            user=os.environ.get("PGUSER", "postgres"),
            password=os.environ.get("PGPASSWORD", "postgres"),
            database=database,
        ),
    )
    [report] = load_cdr_files(settings, [path], fmt)
    assert report.consistent and not report.rejected, report.summary()
    return int(report.loaded or 0)


def run_copy(path: Path, database: str, fmt: str = "generic") -> int:
    """Into a typed table for the generic file; for another format, into text columns."""
    conn = pg_connect(database)
    try:
        with conn.cursor() as cur, path.open("rb") as handle:
            columns = ", ".join(f'"{name}" text' for name in FORMAT_COLUMNS[fmt])
            cur.execute(COPY_TABLE if fmt == "generic" else f"create table cdrs_copy ({columns})")
            cur.copy_expert("copy cdrs_copy from stdin with (format csv, header true)", handle)
            cur.execute("select count(*) from cdrs_copy")
            return int(cur.fetchone()[0])
    finally:
        conn.close()


class _ParserPeak(logging.Handler):
    """The parsing process's peak RSS, from the loader's log (`cdr/worker.py`)."""

    peak_mb = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        if "peak RSS" in record.getMessage():
            self.peak_mb = float(record.args[0])  # type: ignore[index]


def child(args: argparse.Namespace) -> None:
    parser_peak = _ParserPeak()
    worker_log = logging.getLogger("genesys_finance.cdr.worker")
    worker_log.setLevel(logging.INFO)
    worker_log.addHandler(parser_peak)
    started = time.perf_counter()
    if args.variant == "copy":
        rows = run_copy(args.file, args.database, args.format)
    else:
        rows = run_load_cdrs(args.file, args.database, Path(args.workdir), args.format)
    seconds = time.perf_counter() - started
    peaks = {"peak_rss_mb": peak_rss_mb(), "parser_peak_rss_mb": parser_peak.peak_mb}
    print(json.dumps({"rows": rows, "seconds": seconds, **peaks}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--variants", nargs="+", default=["copy", "load-cdrs"])
    parser.add_argument("--format", default="generic", choices=sorted(FORMAT_COLUMNS))
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        child(args)
        return 0
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="gf-bench-cdrs-") as tmp:
        path = Path(tmp) / "cdrs_bench.csv"
        t0 = time.perf_counter()
        write_file(path, args.rows, fmt=args.format)
        size_mb = path.stat().st_size / 1e6
        seconds = time.perf_counter() - t0
        print(
            f"file: {args.rows:,} rows ({args.format}), {size_mb:.0f} MB, "
            f"written in {seconds:.0f} s"
        )
        for variant in args.variants:
            database = f"gf_bench_cdrs_{variant.replace('-', '_')}"
            admin_sql(f"drop database if exists {database}", f"create database {database}")
            try:
                out = subprocess.run(
                    [sys.executable, __file__, "--variant", variant, "--file", str(path),
                     "--database", database, "--workdir", tmp, "--format", args.format],
                    check=True, capture_output=True, text=True,
                )  # fmt: skip
                result = json.loads(out.stdout.strip().splitlines()[-1])
            finally:
                admin_sql(f"drop database if exists {database}")
            result["rate"] = result["rows"] / result["seconds"]
            results[variant] = result
            print(
                f"{variant:10s} {result['rows']:>10,} rows in {result['seconds']:7.1f} s = "
                f"{result['rate']:>9,.0f} rows/s, peak RSS {result['peak_rss_mb']:5.0f} MB"
                + (
                    f" (+ parsing process {result['parser_peak_rss_mb']:.0f} MB = "
                    f"{result['peak_rss_mb'] + result['parser_peak_rss_mb']:.0f} MB, "
                    "sum of the two peaks)"
                    if result["parser_peak_rss_mb"]
                    else ""
                )
            )
    if "copy" in results and "load-cdrs" in results:
        share = results["load-cdrs"]["rate"] / results["copy"]["rate"]
        print(f"load-cdrs = {share:.0%} of COPY (target >= 33%), peak RSS target < 300 MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
