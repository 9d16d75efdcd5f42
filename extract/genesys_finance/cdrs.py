"""Carrier CDR files into `carrier_raw`: read, validate, mask, load with dlt.

Two formats: the generic CSV of DESIGN.md and the Genesys Cloud Voice usage report
(carrier-billing.md §8.2). Every line ends up either in `carrier_raw.cdrs` or in
`carrier_raw.cdr_rejects` (ids derived from the file's sha256 and the line number, so a file
loaded twice changes nothing). Numbers and Call-IDs are masked with the same `Masker` as the API
payloads; problems name the file, the line and the field, never the clear value.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import logging
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from genesys_finance.masking import Masker
from genesys_finance.settings import CARRIER_SCHEMA, Settings

log = logging.getLogger(__name__)

FORMATS = ("generic", "genesys-voice")
CDR_TABLE = "cdrs"
REJECT_TABLE = "cdr_rejects"
PIPELINE_NAME = "genesys_finance_cdrs"
BATCH_ROWS = 50_000
ROW_FIELD = "row"  # the `field` of a problem with the line as a whole

_INTEGER = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_CURRENCY = re.compile(r"[A-Z]{3}")


class CdrFileError(Exception):
    """The whole file cannot be loaded (unreadable, no header, a required column missing)."""


class _Invalid(ValueError):
    """One field of one row is invalid; the message never contains the value."""


# -- formats ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CdrFormat:
    """How a file format maps to the `carrier_raw.cdrs` columns."""

    name: str
    columns: dict[str, str]  # our field -> header (compared case- and space-insensitively)
    optional: frozenset[str] = frozenset()  # fields whose column may be absent
    carrier: str | None = None  # fixed carrier when the file has no carrier column
    duration_scale: int = 1  # duration column unit in ms (the voice report has seconds)
    naive_times_are_utc: bool = False


GENERIC = CdrFormat(
    name="generic",
    columns={
        name: name
        for name in (
            "carrier",
            "sip_call_id",
            "start_time",
            "end_time",
            "answer_time",
            "duration_ms",
            "billed_seconds",
            "calling_number",
            "called_number",
            "direction",
            "rate_per_minute",
            "billed_amount",
            "currency",
            "invoice_id",
        )
    },
    optional=frozenset({"answer_time", "duration_ms"}),
)

GENESYS_VOICE = CdrFormat(
    name="genesys-voice",
    columns={
        "sip_call_id": "SIP Call Id",
        "calling_number": "Origin",
        "called_number": "Destination",
        "direction": "Direction",
        "start_time": "Start time",
        "end_time": "End Time",
        "duration_ms": "Duration (Seconds)",
        "billed_seconds": "Adjusted Duration (seconds)",
        "rate_per_minute": "Usage Rate Per Minute",
        "billed_amount": "Total cost",
        "currency": "Currency",
    },
    carrier="genesys_cloud_voice",
    duration_scale=1000,
    # Genesys reports in UTC (genesys-analytics-api.md §10.7); whether the report writes an
    # offset is unconfirmed, so a time without one is read as UTC.
    naive_times_are_utc=True,
)

FORMAT_BY_NAME = {f.name: f for f in (GENERIC, GENESYS_VOICE)}


def _norm(header: str) -> str:
    return " ".join(header.split()).lower()


def column_positions(fmt: CdrFormat, header: list[str], file_name: str) -> dict[str, int]:
    """Our field -> column index; a CdrFileError names any missing required column."""
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        key = _norm(name)
        if key in positions:
            # Position only: a file without a header row would have a data row here.
            raise CdrFileError(f"{file_name}: duplicate column name at position {index + 1}")
        positions[key] = index
    missing = [
        column
        for our, column in fmt.columns.items()
        if our not in fmt.optional and _norm(column) not in positions
    ]
    if missing:
        hint = ""
        if fmt is GENERIC and _norm("SIP Call Id") in positions:
            hint = " (this looks like a Genesys Cloud Voice report: use --format genesys-voice)"
        raise CdrFileError(f"{file_name}: missing required column(s): {', '.join(missing)}{hint}")
    return {
        our: positions[_norm(column)]
        for our, column in fmt.columns.items()
        if _norm(column) in positions
    }


# -- field parsers (messages never echo the value) --------------------------------------------


def parse_int(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise _Invalid("not an integer")
    return int(text)


def parse_decimal(text: str, scale: int, precision: int = 18) -> Decimal:
    if not _DECIMAL.fullmatch(text):
        raise _Invalid("not a decimal number")
    value = Decimal(text)
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # the pattern excludes NaN and Infinity
    if -exponent > scale:
        raise _Invalid(f"more than {scale} decimal places")
    if value.adjusted() >= precision - scale:
        raise _Invalid(f"more than {precision - scale} integer digits")
    return value


def parse_timestamp(text: str, naive_is_utc: bool) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _Invalid("not an ISO-8601 timestamp") from None
    if value.tzinfo is None:
        if not naive_is_utc:
            raise _Invalid("no UTC offset (end with Z or +hh:mm)")
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_direction(text: str) -> str:
    value = text.lower()
    if value not in ("inbound", "outbound"):
        raise _Invalid("not inbound or outbound")
    return value


def parse_currency(text: str) -> str:
    value = text.upper()
    if not _CURRENCY.fullmatch(value):
        raise _Invalid("not a 3-letter ISO 4217 code")
    return value


# -- rows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileContext:
    """What every row of one file shares."""

    path: Path
    name: str
    sha256: str
    fmt: CdrFormat
    positions: dict[str, int]
    width: int
    loaded_at: datetime


# A parsing step: validates one cell and writes its column(s) into the record.
_Step = Callable[[dict[str, Any], str], None]


class RowParser:
    """Turns one CSV row into a masked `cdrs` record, or a list of (field, problem)."""

    def __init__(self, masker: Masker) -> None:
        self.masker = masker
        self._steps_by_format: dict[str, list[tuple[str, _Step]]] = {}

    def parse(
        self, ctx: FileContext, cells: list[str] | None, line: int
    ) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
        if cells is None:
            return None, [(ROW_FIELD, "malformed CSV (quoting)")]
        if len(cells) != ctx.width:
            return None, [(ROW_FIELD, f"has {len(cells)} fields, the header has {ctx.width}")]
        raw = {our: cells[i].strip() for our, i in ctx.positions.items()}
        record: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []
        steps = self._steps_by_format.get(ctx.fmt.name)
        if steps is None:
            steps = self._steps_by_format[ctx.fmt.name] = self._steps(ctx.fmt)
        for name, step in steps:
            try:
                step(record, raw.get(name, ""))
            except _Invalid as exc:
                problems.append((name, str(exc)))
        if not problems:
            problems.extend(_cross_checks(record))
        if problems:
            return None, problems
        record.update(
            cdr_id=line_id(ctx.sha256, line),
            carrier=ctx.fmt.carrier or record["carrier"],
            source_format=ctx.fmt.name,
            source_file=ctx.name,
            source_line=line,
            file_sha256=ctx.sha256,
            loaded_at=ctx.loaded_at,
        )
        return record, []

    def _steps(self, fmt: CdrFormat) -> list[tuple[str, _Step]]:
        naive_utc = fmt.naive_times_are_utc

        def text(name: str, required: bool = True) -> _Step:
            def step(rec: dict[str, Any], value: str) -> None:
                if required and not value:
                    raise _Invalid("empty")
                rec[name] = value or None

            return step

        def stamp(name: str, required: bool = True) -> _Step:
            def step(rec: dict[str, Any], value: str) -> None:
                if not value and not required:
                    rec[name] = None
                    return
                if not value:
                    raise _Invalid("empty")
                rec[name] = parse_timestamp(value, naive_utc)

            return step

        def billed(rec: dict[str, Any], value: str) -> None:
            rec["billed_seconds"] = parse_int(value)

        def duration(rec: dict[str, Any], value: str) -> None:
            rec["duration_ms"] = parse_int(value) * fmt.duration_scale if value else None

        def rate(rec: dict[str, Any], value: str) -> None:
            rec["rate_per_minute"] = parse_decimal(value, 8)

        def amount(rec: dict[str, Any], value: str) -> None:
            rec["billed_amount"] = parse_decimal(value, 6)

        def direction(rec: dict[str, Any], value: str) -> None:
            rec["direction"] = parse_direction(value)

        def currency(rec: dict[str, Any], value: str) -> None:
            rec["currency"] = parse_currency(value)

        steps = [
            ("sip_call_id", self._call_id),
            ("start_time", stamp("start_time")),
            ("end_time", stamp("end_time")),
            ("answer_time", stamp("answer_time", required=False)),
            ("duration_ms", duration),
            ("billed_seconds", billed),
            ("calling_number", self._number_step("calling_number", required=False)),
            ("called_number", self._number_step("called_number", required=True)),
            ("direction", direction),
            ("rate_per_minute", rate),
            ("billed_amount", amount),
            ("currency", currency),
            ("invoice_id", text("invoice_id", required=False)),
        ]
        if fmt.carrier is None:
            steps.insert(0, ("carrier", text("carrier")))
        return steps

    def _call_id(self, rec: dict[str, Any], value: str) -> None:
        if not value:
            raise _Invalid("empty")
        rec["sip_call_id"] = self.masker.hmac(value)

    def _number_step(self, name: str, required: bool) -> _Step:
        def step(rec: dict[str, Any], value: str) -> None:
            if not value:
                if required:
                    raise _Invalid("empty")
                # A withheld caller id: nothing to mask.
                rec[f"{name}_last4"] = rec[f"{name}_prefix"] = None
                return
            rec[f"{name}_last4"], rec[f"{name}_prefix"] = self.masker.mask_number(value)

        return step


def _cross_checks(rec: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    if rec["end_time"] < rec["start_time"]:
        problems.append(("end_time", "before start_time"))
    answer = rec.get("answer_time")
    if answer is not None and not rec["start_time"] <= answer <= rec["end_time"]:
        problems.append(("answer_time", "outside start_time..end_time"))
    return problems


def line_id(file_sha256: str, line: int) -> str:
    """`cdr_id` / `reject_id`: sha256 of (file content sha256, line number)."""
    return hashlib.sha256(f"{file_sha256}:{line}".encode()).hexdigest()


def reject_reason(file_name: str, line: int, problems: list[tuple[str, str]]) -> str:
    details = "; ".join(f"{name}: {problem}" for name, problem in problems)
    return f"{file_name} line {line}: {details}"


# -- files -----------------------------------------------------------------------------------


def file_sha256(path: Path, name: str) -> str:
    """Content hash; also proves the file is UTF-8 before any row of it is loaded."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                decoder.decode(chunk)
                offset += len(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise CdrFileError(f"{name}: not UTF-8 text (byte {offset + exc.start})") from None
    except OSError as exc:
        raise CdrFileError(f"{name}: cannot read ({exc.strerror})") from None
    return digest.hexdigest()


def _lines(path: Path) -> Iterator[tuple[int, list[str] | None]]:
    """(first line number, cells) of each non-blank CSV record, header first; cells are None
    for a record with broken quoting (the reader resumes at the next record)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, strict=True)
        next_line = 1
        while True:
            start = next_line
            try:
                cells: list[str] | None = next(reader)
            except StopIteration:
                return
            except csv.Error:  # its message can quote the row: keep only the position
                cells = None
            next_line = reader.line_num + 1
            if cells != []:
                yield start, cells


@dataclass
class FileReport:
    """The outcome for one input file."""

    path: Path
    name: str
    sha256: str = ""
    rows_read: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    reasons: list[str] = field(default_factory=list)
    loaded: int | None = None  # counted in the destination after the load
    rejected: int | None = None
    error: str | None = None

    @property
    def consistent(self) -> bool:
        return self.error is None and self.rows_read == (self.loaded or 0) + (self.rejected or 0)

    def summary(self) -> str:
        if self.error:
            return f"{self.name}: FAILED: {self.error}"
        status = "ok" if self.consistent else "MISMATCH: read != loaded + rejected"
        return (
            f"{self.name}: {self.rows_read} rows read, {self.loaded} loaded, "
            f"{self.rejected} rejected ({status})"
        )


def open_file(path: Path, fmt: CdrFormat, loaded_at: datetime) -> FileContext:
    """Checks encoding and header; raises CdrFileError for a file that cannot be loaded at all."""
    name = path.name
    sha256 = file_sha256(path, name)
    for _, header in _lines(path):
        if header is None:
            raise CdrFileError(f"{name} line 1: malformed CSV header (quoting)")
        positions = column_positions(fmt, header, name)
        return FileContext(path, name, sha256, fmt, positions, len(header), loaded_at)
    raise CdrFileError(f"{name}: empty file (no header row)")


def read_file(ctx: FileContext, parser: RowParser, report: FileReport) -> Iterator[dict[str, Any]]:
    """Valid masked records of one file; rejects and counts go to `report`."""
    rows = _lines(ctx.path)
    next(rows)  # the header, checked by open_file
    for line, cells in rows:
        report.rows_read += 1
        record, problems = parser.parse(ctx, cells, line)
        if record is not None:
            report.rows_valid += 1
            yield record
            continue
        report.rows_rejected += 1
        report.reasons.append(reject_reason(ctx.name, line, problems))
        yield {
            "_reject": True,
            "reject_id": line_id(ctx.sha256, line),
            "source_file": ctx.name,
            "source_line": line,
            "file_sha256": ctx.sha256,
            "field": ",".join(name for name, _ in problems),
            "reason": report.reasons[-1],
            "loaded_at": ctx.loaded_at,
        }


# -- Arrow tables and dlt --------------------------------------------------------------------


def _schemas() -> tuple[Any, Any]:
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    cdrs = pa.schema(
        [
            pa.field("cdr_id", pa.string(), nullable=False),
            ("carrier", pa.string()),
            ("sip_call_id", pa.string()),
            ("start_time", ts),
            ("end_time", ts),
            ("answer_time", ts),
            ("duration_ms", pa.int64()),
            ("billed_seconds", pa.int64()),
            ("calling_number_last4", pa.string()),
            ("calling_number_prefix", pa.string()),
            ("called_number_last4", pa.string()),
            ("called_number_prefix", pa.string()),
            ("direction", pa.string()),
            ("rate_per_minute", pa.decimal128(18, 8)),
            ("billed_amount", pa.decimal128(18, 6)),
            ("currency", pa.string()),
            ("invoice_id", pa.string()),
            ("source_format", pa.string()),
            ("source_file", pa.string()),
            ("source_line", pa.int64()),
            ("file_sha256", pa.string()),
            ("loaded_at", ts),
        ]
    )
    rejects = pa.schema(
        [
            pa.field("reject_id", pa.string(), nullable=False),
            ("source_file", pa.string()),
            ("source_line", pa.int64()),
            ("file_sha256", pa.string()),
            ("field", pa.string()),
            ("reason", pa.string()),
            ("loaded_at", ts),
        ]
    )
    return cdrs, rejects


def _column_hints(schema: Any) -> Any:
    """dlt column hints matching the Arrow schema (explicit precision, scale, timezone)."""
    import pyarrow as pa

    hints: dict[str, dict[str, Any]] = {}
    for f in schema:
        hint: dict[str, Any] = {"nullable": f.nullable}
        if pa.types.is_decimal(f.type):
            hint.update(data_type="decimal", precision=f.type.precision, scale=f.type.scale)
        elif pa.types.is_timestamp(f.type):
            hint.update(data_type="timestamp", timezone=True)
        elif pa.types.is_integer(f.type):
            hint.update(data_type="bigint")
        else:
            hint.update(data_type="text")
        hints[f.name] = hint
    return hints


def _batches(records: Iterable[dict[str, Any]], schema: Any, size: int) -> Iterator[Any]:
    import pyarrow as pa

    batch: list[dict[str, Any]] = []
    yielded = False
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield pa.Table.from_pylist(batch, schema=schema)
            batch, yielded = [], True
    if batch or not yielded:
        # An empty table still creates the table, so dbt sources always exist.
        yield pa.Table.from_pylist(batch, schema=schema)


# Rows are fully determined by (file content, line): never update, only add new keys.
_WRITE_DISPOSITION: Any = {"disposition": "merge", "strategy": "insert-only"}


def _resource(name: str, key: str, schema: Any, records: Iterable[dict[str, Any]]) -> Any:
    import dlt

    return dlt.resource(
        _batches(records, schema, BATCH_ROWS),
        name=name,
        table_name=name,
        primary_key=key,
        write_disposition=_WRITE_DISPOSITION,
        columns=_column_hints(schema),
    )


def _pipeline(settings: Settings, pipelines_dir: str) -> Any:
    import dlt

    from genesys_finance.warehouse import dlt_destination

    # A throwaway working dir: the load is idempotent, so no local state is worth keeping.
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=dlt_destination(settings),
        dataset_name=CARRIER_SCHEMA,
        pipelines_dir=pipelines_dir,
    )


def _valid_records(
    contexts: list[tuple[FileContext, FileReport]], parser: RowParser, rejects: list[Any]
) -> Iterator[dict[str, Any]]:
    """Valid records of every file; rejects are set aside for their own table."""
    for ctx, report in contexts:
        log.info("reading %s (%s)", ctx.name, ctx.fmt.name)
        for record in read_file(ctx, parser, report):
            if record.pop("_reject", False):
                rejects.append(record)
            else:
                yield record


def load_cdr_files(
    settings: Settings,
    paths: Iterable[Path],
    fmt: str = "generic",
    masker: Masker | None = None,
    policy_path: str | Path | None = None,
) -> list[FileReport]:
    """Load CDR files into `carrier_raw`; one report per path (failed files carry `error`)."""
    cdr_format = FORMAT_BY_NAME[fmt]
    masker = masker or Masker.from_settings(settings, policy_path)
    masker.require_key()
    loaded_at = datetime.now(UTC)
    reports, contexts = _open_all(paths, cdr_format, loaded_at)
    if contexts:
        _load(settings, contexts, RowParser(masker))
        _count_in_destination(settings, reports)
    return reports


def _open_all(
    paths: Iterable[Path], fmt: CdrFormat, loaded_at: datetime
) -> tuple[list[FileReport], list[tuple[FileContext, FileReport]]]:
    reports: list[FileReport] = []
    contexts: list[tuple[FileContext, FileReport]] = []
    seen: dict[str, str] = {}
    for path in map(Path, paths):
        report = FileReport(path=path, name=path.name)
        reports.append(report)
        try:
            ctx = open_file(path, fmt, loaded_at)
        except CdrFileError as exc:
            report.error = str(exc)
            continue
        report.sha256 = ctx.sha256
        if ctx.sha256 in seen:
            report.error = f"same content as {seen[ctx.sha256]}: loaded once"
            continue
        seen[ctx.sha256] = ctx.name
        contexts.append((ctx, report))
    return reports, contexts


def _load(
    settings: Settings, contexts: list[tuple[FileContext, FileReport]], parser: RowParser
) -> None:
    from genesys_finance.warehouse import warehouse_for

    cdr_schema, reject_schema = _schemas()
    file_format = warehouse_for(settings).load_file_format
    rejects: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="gf-cdrs-") as pipelines_dir:
        pipeline = _pipeline(settings, pipelines_dir)
        records = _valid_records(contexts, parser, rejects)
        pipeline.run(
            _resource(CDR_TABLE, "cdr_id", cdr_schema, records), loader_file_format=file_format
        )
        # A second run: only now, with every file read, is `rejects` complete. Both loads are
        # idempotent, so a crash between them is repaired by loading the files again.
        pipeline.run(
            _resource(REJECT_TABLE, "reject_id", reject_schema, rejects),
            loader_file_format=file_format,
        )


def _count_in_destination(settings: Settings, reports: list[FileReport]) -> None:
    """Rows per file counted in the tables (dlt's csv counts are inflated, dlt#4461)."""
    shas = [r.sha256 for r in reports if r.error is None]
    loaded = _counts_by_file(settings, CDR_TABLE, shas)
    rejected = _counts_by_file(settings, REJECT_TABLE, shas)
    for report in reports:
        if report.error is None:
            report.loaded = loaded.get(report.sha256, 0)
            report.rejected = rejected.get(report.sha256, 0)


def _counts_by_file(settings: Settings, table: str, shas: list[str]) -> dict[str, int]:
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
    rows = query(
        settings,
        f"select file_sha256, count(*) from {CARRIER_SCHEMA}.{table} "
        f"where file_sha256 in ({', '.join([mark] * len(shas))}) group by file_sha256",
        shas,
    )
    return {str(sha): int(n) for sha, n in rows}
