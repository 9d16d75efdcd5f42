"""Load CDR files: open each (header against the profile), parse its records, load, count.

Every record of a file ends up either in `carrier_raw.cdrs` or in `carrier_raw.cdr_rejects`,
so rows read = loaded + rejected, counted in the warehouse after the load. A file that cannot be
loaded at all (unreadable, no header, a column of the profile missing) fails alone with a
message naming the file, the columns and the profile; the other files still load.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from genesys_finance.cdr import load
from genesys_finance.cdr.batch import BatchParser
from genesys_finance.cdr.mask import CdrMasker, org_numbers_for
from genesys_finance.cdr.parse import CdrReject, CdrRow, FileContext, RowParser, column_positions
from genesys_finance.cdr.profile import Profile, builtin
from genesys_finance.cdr.reader import (
    CdrFileError,
    RawRecord,
    arrow_chunks,
    records,
    scan_file,
)
from genesys_finance.cdr.worker import Parsing
from genesys_finance.masking import Masker
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.settings import ConfigError, Settings

log = logging.getLogger(__name__)

BATCH_RECORDS = 10_000  # records parsed column by column at once (as reader.CHUNK_ROWS)


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
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (line, same as line)
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

    def duplicate_notes(self) -> list[str]:
        """Repeated lines are loaded (a carrier billing a call twice is money to flag, not drop:
        reconciliation reports them as `duplicate_cdr`); the report names them."""
        return [f"{self.name} line {a}: same CDR as line {b}" for a, b in self.duplicates]


def open_file(path: Path, profile: Profile, loaded_at: datetime) -> FileContext:
    """Checks the header; raises CdrFileError for a file that cannot be loaded at all."""
    name = path.name
    scan = scan_file(path, name, profile.encoding)
    for record in records(path, profile.encoding, profile.delimiter, scan.ends_with_newline):
        if record.cells is None:
            raise CdrFileError(f"{name} line 1: unreadable header ({record.problem})")
        positions = column_positions(profile, record.cells, name)
        return FileContext(
            path,
            name,
            scan.sha256,
            profile,
            positions,
            len(record.cells),
            loaded_at,
            scan.ends_with_newline,
            scan.clean_text,
            scan.one_line_records,
            scan.line_ends,
        )
    raise CdrFileError(f"{name}: empty file (no header row)")


def _records(ctx: FileContext) -> Iterator[RawRecord]:
    """The file's records after the header (checked by open_file)."""
    p = ctx.profile
    items = records(ctx.path, p.encoding, p.delimiter, ctx.ends_with_newline, not ctx.clean_text)
    next(items)
    return items


def read_file(
    ctx: FileContext, parser: RowParser, report: FileReport
) -> Iterator[CdrRow | CdrReject]:
    """The file's rows and rejects in line order; counts and reasons go to `report`."""
    for record in _records(ctx):
        report.rows_read += 1
        item = parser.parse(record)
        if isinstance(item, CdrRow):
            report.rows_valid += 1
        else:
            report.rows_rejected += 1
            report.reasons.append(item.reason)
        yield item


def load_cdr_files(
    settings: Settings,
    paths: Iterable[Path],
    profile: Profile | str = "generic",
    masker: Masker | None = None,
    policy_path: str | Path | None = None,
    carrier: str | None = None,
    org_numbers: OrgNumbers | None = None,
) -> list[FileReport]:
    """Load CDR files into `carrier_raw`; one report per path (failed files carry `error`).

    `carrier` names the carrier of files whose profile has no carrier column (it overrides the
    profile's fixed one); `org_numbers` defaults to the DID pools and DIDs in the warehouse."""
    fmt = builtin(profile) if isinstance(profile, str) else profile
    if carrier and fmt.has("carrier"):
        raise ConfigError(
            f"--carrier: profile {fmt.name} reads the carrier "
            f"from its column {fmt.columns['carrier']!r}"
        )
    masker = masker or Masker.from_settings(settings, policy_path)
    masker.require_key()
    loaded_at = datetime.now(UTC)
    with Parsing() as parser:  # its process starts while the files are hashed
        reports, contexts = _open_all(paths, fmt, loaded_at)
        if not contexts:
            return reports
        numbers = org_numbers if org_numbers is not None else org_numbers_for(settings)
        cdr_masker = CdrMasker(masker, numbers)
        files = [ctx for ctx, _ in contexts]
        for ctx in files:
            log.info("reading %s (profile %s)", ctx.name, ctx.profile.name)

        def start(folder: Path, file_format: str) -> None:
            parser.start(files, cdr_masker, carrier, folder, file_format)

        shas = [ctx.sha256 for ctx in files]
        records = sum(max(ctx.line_ends - 1, 0) for ctx in files)  # about: sizes the loads
        results = load.write_tables(settings, parser, start, shas, records)
    repeats: dict[str, list[int] | None] = {}
    for result in results:
        ctx, report = contexts[result.index]
        report.rows_read += result.rows_read
        report.rows_valid += result.rows_valid
        report.rows_rejected += result.rows_rejected
        report.reasons.extend(result.reasons)
        repeats[ctx.sha256] = result.repeat_lines
    _count_in_destination(settings, reports, repeats)
    return reports


def parsed_batches(
    ctx: FileContext, parser: BatchParser
) -> Iterator[tuple[Any, list[CdrReject], int]]:
    """(rows, rejects, records read) per batch: through Arrow's CSV reader when every record of
    the file is one line (reader.arrow_chunks), else through the csv module."""
    if ctx.one_line_records:
        p = ctx.profile
        for chunk in arrow_chunks(ctx.path, p.delimiter, ctx.width, ctx.ends_with_newline):
            table, bad = parser.parse_arrow(chunk)
            yield table, bad, len(chunk.lines) + len(chunk.bad)
        return
    for batch in _batched(_records(ctx)):
        table, bad = parser.parse(batch)
        yield table, bad, len(batch)


def _batched(items: Iterator[RawRecord]) -> Iterator[list[RawRecord]]:
    batch: list[RawRecord] = []
    for item in items:
        batch.append(item)
        if len(batch) >= BATCH_RECORDS:
            yield batch
            batch = []
    if batch:
        yield batch


def _open_all(
    paths: Iterable[Path], profile: Profile, loaded_at: datetime
) -> tuple[list[FileReport], list[tuple[FileContext, FileReport]]]:
    reports: list[FileReport] = []
    contexts: list[tuple[FileContext, FileReport]] = []
    seen: dict[str, str] = {}
    for path in map(Path, paths):
        report = FileReport(path=path, name=path.name)
        reports.append(report)
        try:
            ctx = open_file(path, profile, loaded_at)
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


def _count_in_destination(
    settings: Settings, reports: list[FileReport], repeats: dict[str, list[int] | None]
) -> None:
    shas = [r.sha256 for r in reports if r.error is None]
    loaded = load.counts_by_file(settings, load.CDR_TABLE, shas)
    rejected = load.counts_by_file(settings, load.REJECT_TABLE, shas)
    for report in reports:
        if report.error is None:
            report.loaded = loaded.get(report.sha256, 0)
            report.rejected = rejected.get(report.sha256, 0)
            if report.loaded:
                candidates = repeats.get(report.sha256)
                report.duplicates = load.duplicate_lines(settings, report.sha256, candidates)
