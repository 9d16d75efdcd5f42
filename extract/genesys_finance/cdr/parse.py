"""Raw CDR records -> typed, masked rows (`CdrRow`) or typed rejects (`CdrReject`).

Each field of a profile compiles to one small parser; a row either passes them all (and the
cross-field checks) or is rejected with every problem found, each naming the field (and the
file's column when its name differs) and a reason. Reasons never echo a value: values hold
clear numbers. Money is `Decimal`, durations integer milliseconds, times UTC.
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from genesys_finance.cdr.currencies import ISO_4217
from genesys_finance.cdr.mask import NO_NUMBER, CdrMasker, MaskedNumber
from genesys_finance.cdr.profile import DURATION_UNITS, Profile
from genesys_finance.cdr.reader import CdrFileError, RawRecord

ROW_FIELD = "row"  # the `field` of a problem with the record as a whole

_INTEGER = re.compile(r"[0-9]+")
_NEGATIVE_INTEGER = re.compile(r"-[0-9]+")
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_OFFSET = re.compile(r"(?:UTC|GMT)?([+-])([0-9]{1,2})(?::?([0-9]{2}))?")
# A dialable number as carriers write it: digits with optional `+` and visual separators.
_DIALABLE = re.compile(r"\+?[0-9][0-9 ().\-/]*")
_NON_DIGITS = re.compile(r"[^0-9]+")


class Invalid(ValueError):
    """One field of one row is invalid; the message never contains the value."""


@dataclass(frozen=True, slots=True)
class CdrRow:
    """One loaded CDR: the columns of `carrier_raw.cdrs` (docs/internals.md)."""

    cdr_id: str
    carrier: str
    sip_call_id: str | None
    sip_call_id_normalised: str | None  # hash of the normalised Call-ID (call_ids.py)
    start_time: datetime
    end_time: datetime
    answer_time: datetime | None
    duration_ms: int | None
    billed_seconds: int
    calling_number_last4: str | None
    calling_number_prefix: str | None
    calling_number_org: str | None
    called_number_last4: str | None
    called_number_prefix: str | None
    called_number_org: str | None
    direction: str
    rate_per_minute: Decimal | None
    billed_amount: Decimal
    currency: str
    invoice_id: str | None
    source_format: str
    source_file: str
    source_line: int
    file_sha256: str
    loaded_at: datetime


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    column: str | None  # the file's header for that field, when it has one
    reason: str

    def text(self) -> str:
        same = self.column is None or " ".join(self.column.split()).lower() == self.field
        return (
            f"{self.field}: {self.reason}"
            if same
            else f"{self.field} ({self.column}): {self.reason}"
        )


@dataclass(frozen=True, slots=True)
class CdrReject:
    """One rejected record: `carrier_raw.cdr_rejects` (no raw value is kept)."""

    reject_id: str
    source_file: str
    source_line: int
    file_sha256: str
    field: str  # comma-separated fields
    reason: str  # "<file> line <n>: <field>: <reason>; ..."
    loaded_at: datetime


@dataclass(frozen=True)
class FileContext:
    """What every record of one file shares."""

    path: Path
    name: str
    sha256: str
    profile: Profile
    positions: dict[str, int]  # our field -> column index
    width: int
    loaded_at: datetime
    ends_with_newline: bool = True
    clean_text: bool = False  # every byte decodes (see reader.scan_file)
    one_line_records: bool = False  # every record is one line: Arrow's reader may read it
    line_ends: int = 0  # LF bytes in the file (reader.FileScan): about its records


def line_id(file_sha256: str, line: int) -> str:
    """`cdr_id` / `reject_id`: sha256 of (file content sha256, line number)."""
    return hashlib.sha256(f"{file_sha256}:{line}".encode()).hexdigest()


def reject_reason(file_name: str, line: int, problems: list[Problem]) -> str:
    return f"{file_name} line {line}: " + "; ".join(p.text() for p in problems)


# -- the header ------------------------------------------------------------------------------


def _norm(header: str) -> str:
    return " ".join(header.split()).lower()


def column_positions(profile: Profile, header: list[str], file_name: str) -> dict[str, int]:
    """Our field -> column index; a CdrFileError names every missing column and the profile."""
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        key = _norm(name)
        if key in positions:
            # Position only: a file without a header row would have a data row here.
            raise CdrFileError(f"{file_name}: duplicate column name at position {index + 1}")
        positions[key] = index
    missing = [
        column
        for our, column in profile.columns.items()
        if our not in profile.optional_columns and _norm(column) not in positions
    ]
    if missing:
        hint = _hint(profile, positions)
        raise CdrFileError(
            f"{file_name}: missing required column(s): {', '.join(missing)} "
            f"(profile {profile.name}){hint}"
        )
    return {
        our: positions[_norm(column)]
        for our, column in profile.columns.items()
        if _norm(column) in positions
    }


def _hint(profile: Profile, positions: dict[str, int]) -> str:
    if profile.name == "generic" and _norm("SIP Call Id") in positions:
        return " (this looks like a Genesys Cloud Voice report: use --format genesys-voice)"
    return ""


# -- single values ---------------------------------------------------------------------------


def parse_int(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise Invalid("negative" if _NEGATIVE_INTEGER.fullmatch(text) else "not an integer")
    return int(text)


def parse_decimal(text: str, scale: int, precision: int = 18) -> Decimal:
    if not _DECIMAL.fullmatch(text):
        raise Invalid("not a decimal number")
    value = Decimal(text)
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # the pattern excludes NaN and Infinity
    if -exponent > scale:
        raise Invalid(f"more than {scale} decimal places")
    if value.adjusted() >= precision - scale:
        raise Invalid(f"more than {precision - scale} integer digits")
    return value


def parse_offset(text: str) -> tzinfo:
    """`+02:00`, `-0500`, `+2`, `UTC+01:00` -> a fixed offset."""
    match = _OFFSET.fullmatch(text.strip())
    if not match or int(match[2]) > 14 or int(match[3] or 0) >= 60:
        raise Invalid("not a UTC offset such as +02:00")
    minutes = int(match[2]) * 60 + int(match[3] or 0)
    return timezone(timedelta(minutes=-minutes if match[1] == "-" else minutes))


def timestamp_parser(fmt: str) -> Callable[[str], datetime]:
    """The profile's timestamp format -> a parser giving naive or aware datetimes."""
    if fmt == "iso8601":

        def iso(text: str) -> datetime:
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                raise Invalid("not an ISO-8601 timestamp") from None

        return iso
    if fmt == "rfc2822":

        def rfc(text: str) -> datetime:
            try:
                return email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                raise Invalid("not an RFC 2822 timestamp") from None

        return rfc

    def pattern(text: str) -> datetime:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            raise Invalid(f"not a timestamp in the format {fmt}") from None

    return pattern


def to_utc(value: datetime, zone: tzinfo | None) -> datetime:
    if value.tzinfo is None:
        if zone is None:
            raise Invalid("no UTC offset (end with Z or +hh:mm)")
        # fold=0: an ambiguous local time (the hour repeated when clocks go back) reads as the
        # first one; the profile's time zone should be UTC or carry an offset column to avoid it.
        return value.replace(tzinfo=zone).astimezone(UTC)
    return value.astimezone(UTC)


def parse_currency(text: str) -> str:
    value = text.upper()
    if value not in ISO_4217:
        raise Invalid("not an ISO 4217 currency code")
    return value


def number_normaliser(profile: Profile) -> Callable[[str], str | None]:
    """A number as the profile writes it -> the text masked (None: withheld, no number).

    `e164` numbers are masked as written (tel:/sip: URIs included), exactly like a conversation's
    ani/dnis; `digits` (country code included) and `national` numbers become `+<E.164>` first."""
    withheld = profile.withheld_numbers
    fmt = profile.number_format
    country = profile.default_country or ""
    national = profile.national_digits
    trunk = profile.trunk_prefix

    def dialable(text: str) -> str:
        user = text
        scheme = text[:5].lower()
        if scheme.startswith(("sip:", "sips:")):
            user = text[text.index(":") + 1 :].split("@", 1)[0]
        elif scheme.startswith("tel:"):
            user = text[4:]
        user = user.split(";", 1)[0].strip()
        if not _DIALABLE.fullmatch(user):
            raise Invalid("not a phone number")
        return user

    def normalise(text: str) -> str | None:
        if text.lower() in withheld:
            return None
        user = dialable(text)
        if fmt == "e164" or user.startswith("+"):
            return text
        digits = _NON_DIGITS.sub("", user)
        if fmt == "digits":
            return "+" + digits
        if national is None:
            return "+" + country + digits.removeprefix(trunk) if trunk else "+" + country + digits
        if len(digits) == national:
            return "+" + country + digits
        if trunk and len(digits) == national + len(trunk) and digits.startswith(trunk):
            return "+" + country + digits[len(trunk) :]
        if len(digits) == national + len(country) and digits.startswith(country):
            return "+" + digits
        raise Invalid(f"not a national number of country +{country}")

    return normalise


def direction_parser(profile: Profile) -> Callable[[str], str]:
    inbound, outbound, how = profile.inbound, profile.outbound, profile.direction_match

    def matches(value: str, names: tuple[str, ...]) -> bool:
        if how == "exact":
            return value in names
        if how == "prefix":
            return value.startswith(names)
        return any(name in value for name in names)

    def direction(text: str) -> str:
        value = text.lower()
        is_in, is_out = matches(value, inbound), matches(value, outbound)
        if is_in == is_out:  # neither, or both (ambiguous): never guess
            raise Invalid("not inbound or outbound")
        return "inbound" if is_in else "outbound"

    return direction


# -- rows ------------------------------------------------------------------------------------


# Outputs that stay None when their column is absent or empty.
_OPTIONAL_OUTPUTS = (
    "carrier", "sip_call_id", "answer_time", "duration_ms", "billed_seconds", "calling_number",
    "rate_per_minute", "currency", "invoice_id",
)  # fmt: skip


class RowParser:
    """Turns the records of one file into `CdrRow`s or `CdrReject`s."""

    def __init__(self, ctx: FileContext, masker: CdrMasker, carrier: str | None = None) -> None:
        profile = ctx.profile
        self.ctx = ctx
        self.masker = masker
        self.carrier = carrier or profile.carrier
        self.columns = {f: profile.columns[f] for f in ctx.positions}
        self.positions = ctx.positions
        self.required = {f for f in ctx.positions if profile.value_required(f)}
        self.zone: tzinfo | None = zoneinfo.ZoneInfo(profile.timezone) if profile.timezone else None
        self.stamp = timestamp_parser(profile.timestamp_format)
        self.duration_scale = DURATION_UNITS[profile.duration_unit]
        self.round_up = profile.billed_round_up_to
        self.normalise = number_normaliser(profile)
        self.direction = direction_parser(profile)
        self.negate = profile.negate_amount
        self.fixed_currency = profile.currency
        self.invoice_zone = zoneinfo.ZoneInfo(profile.invoice_timezone)
        self.invoice_shift = timedelta(hours=profile.invoice_day_start_hours)
        self.invoice_template = profile.invoice_template
        self._numbers: dict[str, MaskedNumber] = {}
        self._row_zone: tzinfo | None = self.zone
        self.steps = self._steps()

    def parse(self, record: RawRecord) -> CdrRow | CdrReject:
        ctx = self.ctx
        if record.cells is None:
            reason = record.problem or "malformed CSV"
            if record.unterminated:
                reason = f"truncated last line, {reason}"
            return self._reject(record.line, [Problem(ROW_FIELD, None, reason)])
        cells = record.cells
        if len(cells) != ctx.width:
            reason = f"has {len(cells)} fields, the header has {ctx.width}"
            if record.unterminated and len(cells) < ctx.width:
                reason = f"truncated last line (no line end): {reason}"
            return self._reject(record.line, [Problem(ROW_FIELD, None, reason)])
        values, problems = self._values(cells)
        if not problems:
            problems = _cross_checks(values, self.columns)
        if problems:
            return self._reject(record.line, problems)
        return self._row(values, record.line)

    def _steps(self) -> list[tuple[str, int, Callable[[str], Any], bool, str]]:
        """(field, column index, parser, value required, header) for each column present, in
        the order problems are reported; the offset column first, as times depend on it."""
        parsers: dict[str, Callable[[str], Any]] = {
            "carrier": str,
            "sip_call_id": self.masker.call_ids,  # (exact, normalised) hashes
            "utc_offset": self._offset,
            "start_time": self._utc,
            "end_time": self._utc,
            "answer_time": self._utc,
            "duration_ms": parse_int,
            "billed_seconds": parse_int,
            "calling_number": self._number,
            "called_number": self._number,
            "direction": self.direction,
            "rate_per_minute": functools.partial(parse_decimal, scale=8),
            "billed_amount": functools.partial(parse_decimal, scale=6),
            "currency": parse_currency,
            "invoice_id": str,
        }
        order = ["carrier", "sip_call_id", "utc_offset", "start_time", "end_time", "answer_time"]
        order += [f for f in parsers if f not in order]
        return [
            (f, self.positions[f], parsers[f], f in self.required, self.columns[f])
            for f in order
            if f in self.positions
        ]

    def _offset(self, text: str) -> tzinfo:
        zone = self._row_zone = parse_offset(text)
        return zone

    def _utc(self, text: str) -> datetime:
        return to_utc(self.stamp(text), self._row_zone)

    def _values(self, cells: list[str]) -> tuple[dict[str, Any], list[Problem]]:
        out: dict[str, Any] = dict.fromkeys(_OPTIONAL_OUTPUTS)
        problems: list[Problem] = []
        self._row_zone = self.zone
        for name, index, parse, required, column in self.steps:
            text = cells[index].strip()
            if not text:
                if required:
                    problems.append(Problem(name, column, "empty"))
                continue
            try:
                out[name] = parse(text)
            except Invalid as exc:
                problems.append(Problem(name, column, str(exc)))
        duration = out["duration_ms"]
        if duration is not None:
            out["duration_ms"] = duration = duration * self.duration_scale
        if self.round_up is not None:
            if duration is not None:
                seconds = -(-duration // 1000)
                out["billed_seconds"] = -(-seconds // self.round_up) * self.round_up
            elif not problems:
                reason = "empty (billed seconds derive from it)"
                problems.append(Problem("duration_ms", self.columns["duration_ms"], reason))
        if self.negate and out.get("billed_amount") is not None:
            out["billed_amount"] = -out["billed_amount"]
        return out, problems

    def _number(self, text: str) -> MaskedNumber:
        cached = self._numbers.get(text)
        if cached is None:
            normalised = self.normalise(text)
            cached = NO_NUMBER if normalised is None else self.masker.number(normalised)
            if len(self._numbers) < 100_000:  # numbers repeat (the org's DIDs); bound the cache
                self._numbers[text] = cached
        return cached

    def _invoice(self, start: datetime) -> str | None:
        if self.invoice_template is None:
            return None
        return (start.astimezone(self.invoice_zone) - self.invoice_shift).strftime(
            self.invoice_template
        )

    def _row(self, v: dict[str, Any], line: int) -> CdrRow:
        ctx = self.ctx
        calling = v["calling_number"] or NO_NUMBER
        call_ids = v["sip_call_id"] or (None, None)
        called = v["called_number"]
        return CdrRow(
            cdr_id=line_id(ctx.sha256, line),
            carrier=self.carrier or v["carrier"],
            sip_call_id=call_ids[0],
            sip_call_id_normalised=call_ids[1],
            start_time=v["start_time"],
            end_time=v["end_time"],
            answer_time=v["answer_time"],
            duration_ms=v["duration_ms"],
            billed_seconds=v["billed_seconds"],
            calling_number_last4=calling.last4,
            calling_number_prefix=calling.prefix,
            calling_number_org=calling.org,
            called_number_last4=called.last4,
            called_number_prefix=called.prefix,
            called_number_org=called.org,
            direction=v["direction"],
            rate_per_minute=v["rate_per_minute"],
            billed_amount=v["billed_amount"],
            currency=self.fixed_currency or v["currency"],
            invoice_id=v["invoice_id"] or self._invoice(v["start_time"]),
            source_format=ctx.profile.name,
            source_file=ctx.name,
            source_line=line,
            file_sha256=ctx.sha256,
            loaded_at=ctx.loaded_at,
        )

    def _reject(self, line: int, problems: list[Problem]) -> CdrReject:
        ctx = self.ctx
        return CdrReject(
            reject_id=line_id(ctx.sha256, line),
            source_file=ctx.name,
            source_line=line,
            file_sha256=ctx.sha256,
            field=",".join(p.field for p in problems),
            reason=reject_reason(ctx.name, line, problems),
            loaded_at=ctx.loaded_at,
        )


def _cross_checks(v: dict[str, Any], columns: dict[str, str]) -> list[Problem]:
    problems = []
    if v["end_time"] < v["start_time"]:
        problems.append(Problem("end_time", columns.get("end_time"), "before start_time"))
    answer = v.get("answer_time")
    if answer is not None and not v["start_time"] <= answer <= v["end_time"]:
        problems.append(
            Problem("answer_time", columns.get("answer_time"), "outside start_time..end_time")
        )
    return problems
