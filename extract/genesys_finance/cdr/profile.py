"""A CDR format profile: how one carrier's export maps to `carrier_raw.cdrs`, read from YAML.

A profile says which column holds each field (by header name, compared case- and
space-insensitively), how timestamps, durations, numbers, money and direction are written, and
the file's delimiter and encoding. The shipped profiles live in `profiles/*.yml`; a user adds a
carrier with `load-cdrs --format-file PROFILE.yml`, no code. The keys are documented in
docs/cdr-formats.md. A profile is validated when it is read, so a typo fails before any file is.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from genesys_finance.settings import ConfigError

# Our fields, in the order problems are reported.
FIELDS = (
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
    "utc_offset",
)
# Fields whose value may be empty in a row (a withheld caller, no answer time ...).
_MAY_BE_EMPTY = frozenset(
    {"answer_time", "duration_ms", "calling_number", "invoice_id", "sip_call_id"}
)
TIMESTAMP_FORMATS = ("iso8601", "rfc2822")  # or a strptime pattern
NUMBER_FORMATS = ("e164", "digits", "national")
DURATION_UNITS = {"ms": 1, "s": 1000, "min": 60_000}
_PROFILE_KEYS = frozenset(
    {
        "name",
        "description",
        "delimiter",
        "encoding",
        "carrier",
        "columns",
        "optional_columns",
        "required_values",
        "timestamps",
        "duration",
        "billed_seconds",
        "numbers",
        "direction",
        "billed_amount",
        "currency",
        "invoice_id",
        "withheld_numbers",
        "sources",
    }
)
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class Profile:
    """A validated format profile (the YAML keys, typed; defaults are the generic format's)."""

    name: str
    columns: dict[str, str]  # our field -> header name in the file
    optional_columns: frozenset[str] = frozenset()  # fields whose column may be absent
    required_values: frozenset[str] = frozenset()  # may-be-empty fields this format requires
    delimiter: str = ","
    encoding: str = "utf-8"
    carrier: str | None = None  # fixed carrier when the file has no carrier column
    timestamp_format: str = "iso8601"
    timezone: str | None = None  # for times written without an offset; None: reject them
    duration_unit: str = "ms"
    billed_round_up_to: int | None = None  # billed seconds derived from the duration
    number_format: str = "e164"
    default_country: str | None = None  # country code digits for `national` numbers
    national_digits: int | None = None
    trunk_prefix: str = ""
    withheld_numbers: frozenset[str] = frozenset()  # lower-case values meaning "no number"
    inbound: tuple[str, ...] = ("inbound",)
    outbound: tuple[str, ...] = ("outbound",)
    direction_match: str = "exact"  # or `prefix`, `contains` (lower-case comparisons)
    negate_amount: bool = False  # the file writes a charge as a negative number
    currency: str | None = None  # fixed currency when the file has no currency column
    invoice_template: str | None = None  # strftime of the billing period, when no column
    invoice_timezone: str = "UTC"
    invoice_day_start_hours: int = 0
    description: str = ""
    source: str = ""  # where the profile was read from, for messages
    sources: tuple[str, ...] = field(default=())

    def has(self, name: str) -> bool:
        return name in self.columns

    def value_required(self, name: str) -> bool:
        return name not in _MAY_BE_EMPTY or name in self.required_values


def builtin_names() -> tuple[str, ...]:
    """Names of the shipped profiles (the CLI's `--format` choices)."""
    folder = resources.files("genesys_finance.cdr").joinpath("profiles")
    return tuple(
        sorted(p.name.removesuffix(".yml") for p in folder.iterdir() if p.name.endswith(".yml"))
    )


def builtin(name: str) -> Profile:
    if name not in builtin_names():
        raise ConfigError(
            f"unknown CDR format {name!r} (built in: {', '.join(builtin_names())}; "
            "or --format-file PROFILE.yml)"
        )
    text = resources.files("genesys_finance.cdr").joinpath("profiles", f"{name}.yml")
    return parse_profile(text.read_text("utf-8"), f"{name}.yml")


def from_file(path: str | Path) -> Profile:
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"CDR profile {path}: cannot read ({exc.strerror})") from exc
    return parse_profile(text, str(path))


def resolve(name: str | None = None, path: str | Path | None = None) -> Profile:
    """The profile a command asked for: a file wins over a name; neither means `generic`."""
    return from_file(path) if path else builtin(name or "generic")


def parse_profile(text: str, source: str) -> Profile:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"CDR profile {source}: not valid YAML ({exc})") from exc
    return _Reader(data, source).profile()


class _Reader:
    """Checks one profile's YAML and builds the Profile; every error names the source and key."""

    def __init__(self, data: Any, source: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"CDR profile {source}: expected a mapping at the top level")
        self.data = data
        self.source = source
        unknown = sorted(set(data) - _PROFILE_KEYS)
        if unknown:
            self.fail(f"unknown key(s) {', '.join(unknown)}")

    def fail(self, message: str) -> None:
        raise ConfigError(f"CDR profile {self.source}: {message}")

    def section(self, key: str) -> dict[str, Any]:
        value = self.data.get(key) or {}
        if not isinstance(value, dict):
            self.fail(f"`{key}` must be a mapping")
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value:
            self.fail(f"`{key}` must be a non-empty string")
        return str(value)

    def names(self, value: Any, key: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(f"`{key}` must be a string or a list of strings")
        return tuple(str(v).lower() for v in value)

    def zone(self, value: Any, key: str) -> str:
        name = self.text(value, key)
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.fail(f"`{key}`: unknown time zone {name!r}")
        return name

    def profile(self) -> Profile:
        d = self.data
        name = self.text(d.get("name"), "name")
        columns = self.section("columns")
        for our, header in columns.items():
            if our not in FIELDS:
                self.fail(f"columns: unknown field {our!r} (one of {', '.join(FIELDS)})")
            self.text(header, f"columns.{our}")
        optional = frozenset(self.names(d.get("optional_columns", []), "optional_columns"))
        required = frozenset(self.names(d.get("required_values", []), "required_values"))
        for key, fields in (("optional_columns", optional), ("required_values", required)):
            if fields - set(columns):
                self.fail(
                    f"`{key}` names field(s) without a column: "
                    f"{', '.join(sorted(fields - set(columns)))}"
                )
        carrier = d.get("carrier")
        if ("carrier" in columns) == (carrier is not None):
            self.fail("give the carrier either as `columns.carrier` or as `carrier: NAME`")
        for needed in ("start_time", "end_time", "called_number", "billed_amount"):
            if needed not in columns:
                self.fail(f"columns: `{needed}` is required")
        kwargs: dict[str, Any] = {
            "name": name,
            "columns": {k: str(v) for k, v in columns.items()},
            "optional_columns": optional,
            "required_values": required,
            "carrier": None if carrier is None else self.text(carrier, "carrier"),
            "description": str(d.get("description", "")).strip(),
            "source": self.source,
            "sources": self.names(d.get("sources", []), "sources") if d.get("sources") else (),
        }
        kwargs.update(self.file_options(d))
        kwargs.update(self.timestamps())
        kwargs.update(self.durations(columns))
        kwargs.update(self.numbers())
        kwargs.update(self.direction(columns))
        kwargs.update(self.money(columns))
        kwargs.update(self.invoice(columns))
        return Profile(**kwargs)

    def file_options(self, d: dict[str, Any]) -> dict[str, Any]:
        delimiter = d.get("delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
            self.fail("`delimiter` must be one character (not a quote or a line end)")
        encoding = self.text(d.get("encoding", "utf-8"), "encoding")
        try:
            "".encode(encoding)
        except LookupError:
            self.fail(f"`encoding`: unknown encoding {encoding!r}")
        withheld = self.names(d.get("withheld_numbers", []), "withheld_numbers")
        return {
            "delimiter": delimiter,
            "encoding": encoding,
            "withheld_numbers": frozenset(withheld),
        }

    def timestamps(self) -> dict[str, Any]:
        s = self.section("timestamps")
        fmt = self.text(s.get("format", "iso8601"), "timestamps.format")
        if fmt not in TIMESTAMP_FORMATS and "%" not in fmt:
            self.fail(
                "`timestamps.format`: iso8601, rfc2822 or a strptime pattern "
                "such as %Y/%m/%d %I:%M:%S %p"
            )
        zone = s.get("timezone")
        return {
            "timestamp_format": fmt,
            "timezone": None if zone is None else self.zone(zone, "timestamps.timezone"),
        }

    def durations(self, columns: dict[str, Any]) -> dict[str, Any]:
        s = self.section("duration")
        unit = s.get("unit", "ms")
        if unit not in DURATION_UNITS:
            self.fail(f"`duration.unit` must be one of {', '.join(DURATION_UNITS)}")
        b = self.section("billed_seconds")
        round_up = b.get("round_duration_up_to")
        if round_up is not None and (not isinstance(round_up, int) or round_up < 1):
            self.fail("`billed_seconds.round_duration_up_to` must be a positive integer")
        if ("billed_seconds" in columns) == (round_up is not None):
            self.fail(
                "give billed seconds either as `columns.billed_seconds` or as "
                "`billed_seconds.round_duration_up_to` (with a duration column)"
            )
        if round_up is not None and "duration_ms" not in columns:
            self.fail("`billed_seconds.round_duration_up_to` needs `columns.duration_ms`")
        return {"duration_unit": unit, "billed_round_up_to": round_up}

    def numbers(self) -> dict[str, Any]:
        s = self.section("numbers")
        fmt = s.get("format", "e164")
        if fmt not in NUMBER_FORMATS:
            self.fail(f"`numbers.format` must be one of {', '.join(NUMBER_FORMATS)}")
        country = s.get("default_country")
        if country is not None:
            country = str(country)
            if not country.isdigit() or not 1 <= len(country) <= 3:
                self.fail(
                    "`numbers.default_country` must be a country calling code (1 to 3 digits)"
                )
        if fmt == "national" and country is None:
            self.fail("`numbers.format: national` needs `numbers.default_country`")
        digits = s.get("national_digits")
        if digits is not None and (not isinstance(digits, int) or not 4 <= digits <= 14):
            self.fail("`numbers.national_digits` must be an integer from 4 to 14")
        trunk = str(s.get("trunk_prefix", "") or "")
        if trunk and not trunk.isdigit():
            self.fail("`numbers.trunk_prefix` must be digits")
        return {
            "number_format": fmt,
            "default_country": country,
            "national_digits": digits,
            "trunk_prefix": trunk,
        }

    def direction(self, columns: dict[str, Any]) -> dict[str, Any]:
        s = self.section("direction")
        if "direction" not in columns:
            self.fail("columns: `direction` is required")
        match = s.get("match", "exact")
        if match not in ("exact", "prefix", "contains"):
            self.fail("`direction.match` must be exact, prefix or contains")
        return {
            "inbound": self.names(s.get("inbound", ["inbound"]), "direction.inbound"),
            "outbound": self.names(s.get("outbound", ["outbound"]), "direction.outbound"),
            "direction_match": match,
        }

    def money(self, columns: dict[str, Any]) -> dict[str, Any]:
        a = self.section("billed_amount")
        negate = a.get("negate", False)
        if not isinstance(negate, bool):
            self.fail("`billed_amount.negate` must be true or false")
        c = self.section("currency")
        fixed = c.get("fixed")
        if ("currency" in columns) == (fixed is not None):
            self.fail("give the currency either as `columns.currency` or as `currency.fixed`")
        if fixed is not None and not _CURRENCY.fullmatch(str(fixed)):
            self.fail("`currency.fixed` must be a 3-letter ISO 4217 code")
        return {"negate_amount": negate, "currency": None if fixed is None else str(fixed)}

    def invoice(self, columns: dict[str, Any]) -> dict[str, Any]:
        s = self.section("invoice_id")
        template = s.get("period_template")
        if template is None:
            return {}
        if "invoice_id" in columns:
            self.fail(
                "give the invoice id either as `columns.invoice_id` "
                "or as `invoice_id.period_template`"
            )
        hours = s.get("day_start_hours", 0)
        if not isinstance(hours, int) or not 0 <= hours <= 23:
            self.fail("`invoice_id.day_start_hours` must be an integer from 0 to 23")
        return {
            "invoice_template": self.text(template, "invoice_id.period_template"),
            "invoice_timezone": self.zone(s.get("timezone", "UTC"), "invoice_id.timezone"),
            "invoice_day_start_hours": hours,
        }
