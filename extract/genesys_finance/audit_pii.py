"""`audit-pii`: look for clear-text PII wherever the product writes (issue #16).

Scans every table and view of a warehouse, the dbt `target/` artifacts (manifest, catalog,
run_results, compiled SQL, docs, logs) and log files for:

* phone numbers: an E.164 number (`+` and 5 or more digits, also inside `tel:`/`sip:` URIs) or
  a bare run of 7 to 15 digits (separators allowed), that is not one of the org's own numbers
  (DID pools and DIDs from `genesys_raw.did_pools`/`dids`, and the PII policy's `org_numbers:`).
  Masked numbers (4 digits) are never hits;
* e-mail addresses (also `%40`-escaped, as in SIP URIs);
* names (or any other terms) from a list, matched as whole words, ignoring case.

Tokens that look like numbers but are not (UUIDs, hex digests, ISO dates and times, decimals,
round numbers such as 60000000, the digit set 0123456789 of SQL character lists) are set aside
first; JSON is read as JSON, so only its strings are scanned (numbers in JSON are counts and
durations); a `sip:user@host` is not an e-mail address. A hit is reported as where it is and a
masked hint (kind, length, last 4 digits or first letter), never in clear.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genesys_finance.org_numbers import RAW_SCHEMA, OrgNumbers, from_raw_tables

# Tokens made of digits that are not phone numbers: removed before numbers are looked for.
_NOT_NUMBERS = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"  # UUID
    r"|(?<![0-9a-zA-Z])[0-9a-fA-F]{16,}(?![0-9a-zA-Z])"  # hex digests, ids
    r"|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
    r"|\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?"  # times of day
    r"|(?<![\d.])\d+\.\d+(?![\d.])"  # decimals (amounts, epoch seconds, durations)
    r"|0123456789"  # the digits as a character set (SQL `ltrim(x, '0123456789')`, regexes)
)
_E164 = re.compile(r"\+\d[\d\-. ()/]*\d")
_BARE = re.compile(r"(?<![\w+])\(?\d[\d\-. ()]*\d(?![\w])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_NON_DIGITS = re.compile(r"[^0-9]+")
_MIN_E164_DIGITS = 5  # more than the 4 digits masking keeps
_MIN_BARE_DIGITS = 7  # a national number; shorter bare runs are ids, counts, invoice numbers
_MAX_DIGITS = 15  # E.164's maximum

TEXT_SUFFIXES = frozenset({".sql", ".html", ".txt", ".log", ".md", ".yml", ".yaml", ".csv"})


@dataclass(frozen=True)
class Hit:
    """One clear-text PII value: where it is and what it looks like, masked."""

    location: str  # "table genesys_raw.conversations", "file target/manifest.json"
    where: str  # "column payload, conversation_id c-1", "line 12", "$.nodes.x.description"
    kind: str  # "phone number", "e-mail address", "name"
    hint: str  # masked: never the value in clear

    def __str__(self) -> str:
        return f"{self.location}  {self.where}: {self.kind} {self.hint}"


def _is_sip_user_at_host(text: str, start: int, end: int) -> bool:
    """`sip:user@host`, unlike `sip:first.last%40example.com@host` (an address inside a URI)."""
    return (
        text[max(0, start - 5) : start].lower().endswith(("sip:", "sips:"))
        and text[end : end + 1] != "@"
    )


def _phone_hint(digits: str) -> str:
    return f"of {len(digits)} digits ending {digits[-4:]}"


def _email_hint(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@***{domain[domain.rfind('.') :]}"


def _name_hint(term: str) -> str:
    return f"{term[:1]}*** ({len(term)} characters)"


class PiiScanner:
    """Finds PII in strings; knows the org's numbers and the names to look for."""

    def __init__(self, org_numbers: OrgNumbers, names: Iterable[str] = ()) -> None:
        self.org_numbers = org_numbers
        terms = sorted({n.strip() for n in names if n.strip()}, key=len, reverse=True)
        self._names = (
            re.compile(
                r"(?<!\w)(?:" + "|".join(re.escape(t) for t in terms) + r")(?!\w)", re.IGNORECASE
            )
            if terms
            else None
        )

    def scan(self, text: str) -> Iterator[tuple[str, str]]:
        """(kind, masked hint) of each PII value in `text`."""
        if not text:
            return
        decoded = text.replace("%40", "@").replace("%2B", "+").replace("%2b", "+")
        if "@" in decoded:
            for match in _EMAIL.finditer(decoded):
                if _is_sip_user_at_host(decoded, match.start(), match.end()):
                    continue  # `sip:user@host`: its user part is looked at as a number below
                yield "e-mail address", _email_hint(match.group())
        if self._names is not None:
            for match in self._names.finditer(text):
                yield "name", _name_hint(match.group())
        if not any(c.isdigit() for c in decoded):
            return
        cleaned = _NOT_NUMBERS.sub(" ", decoded)
        seen: set[str] = set()
        for pattern, least in ((_E164, _MIN_E164_DIGITS), (_BARE, _MIN_BARE_DIGITS)):
            for match in pattern.finditer(cleaned):
                digits = _NON_DIGITS.sub("", match.group())
                if not least <= len(digits) <= _MAX_DIGITS or digits in seen:
                    continue
                if pattern is _BARE and not digits[1:].strip("0"):
                    continue  # a round number (60000000 in SQL), not a phone number
                seen.add(digits)
                if not self.org_numbers.contains(digits):
                    yield "phone number", _phone_hint(digits)
            cleaned = pattern.sub(" ", cleaned)  # a `+` number is not found again bare

    def scan_json(self, value: Any, path: str = "$") -> Iterator[tuple[str, str, str]]:
        """(JSON path, kind, hint) of each PII value in the strings of a JSON value."""
        if isinstance(value, str):
            for kind, hint in self.scan(value):
                yield path, kind, hint
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from self.scan_json(item, f"{path}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from self.scan_json(item, f"{path}[{index}]")


# -- files -----------------------------------------------------------------------------------

_PRINTABLE_RUN = re.compile(rb"[\x20-\x7e]{6,}")


def files_under(paths: Iterable[Path]) -> list[Path]:
    """Every file under `paths` (files or folders; missing ones are skipped), in order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            files.append(path)
    return files


def _shown(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)


def scan_file(scanner: PiiScanner, path: Path, shown: str | None = None) -> Iterator[Hit]:
    location = f"file {shown or path}"
    data = path.read_bytes()
    if path.suffix == ".json":
        try:
            document = json.loads(data)
        except ValueError:
            pass
        else:
            for where, kind, hint in scanner.scan_json(document):
                yield Hit(location, where, kind, hint)
            return
    if b"\0" in data[:8192] and path.suffix not in TEXT_SUFFIXES:
        # Binary (msgpack, pickle, a database file): the strings inside it, as `strings` does.
        for match in _PRINTABLE_RUN.finditer(data):
            for kind, hint in scanner.scan(match.group().decode("ascii")):
                yield Hit(location, f"byte {match.start()}", kind, hint)
        return
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        for kind, hint in scanner.scan(line):
            yield Hit(location, f"line {number}", kind, hint)


# -- the warehouse ---------------------------------------------------------------------------

_SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", "pg_toast")
_JSON_TYPES = ("json", "jsonb")
_SKIPPED_TYPES = re.compile(
    r"^(?:smallint|integer|bigint|hugeint|u?tinyint|u?smallint|u?integer|u?bigint|int\d*|"
    r"numeric|decimal|real|double|float\d*|boolean|bool|date|time|timestamp|interval|bytea|blob)",
    re.IGNORECASE,
)
_FETCH = 2000


@dataclass(frozen=True)
class _Column:
    name: str
    data_type: str

    @property
    def is_json(self) -> bool:
        return self.data_type.lower() in _JSON_TYPES


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def list_relations(conn: Any, target: str) -> dict[tuple[str, str], list[_Column]]:
    """(schema, table) -> its columns that can hold text, for every table and view."""
    catalog_filter = "and table_catalog = current_database()" if target == "duckdb" else ""
    cursor = conn.cursor()
    cursor.execute(
        "select table_schema, table_name, column_name, data_type "
        "from information_schema.columns "
        f"where table_schema not in {_SYSTEM_SCHEMAS!r} "
        "and table_schema not like 'pg_temp%' and table_schema not like 'pg_toast%' "
        f"{catalog_filter} order by table_schema, table_name, ordinal_position"
    )
    relations: dict[tuple[str, str], list[_Column]] = {}
    for schema, table, column, data_type in cursor.fetchall():
        columns = relations.setdefault((schema, table), [])
        if not _SKIPPED_TYPES.match(str(data_type)):
            columns.append(_Column(str(column), str(data_type)))
    return relations


def _key_column(columns: list[_Column]) -> str | None:
    """A column that names a row (an id), shown with each hit of that row."""
    names = [c.name for c in columns if not c.is_json]
    for name in names:
        if name == "id" or name.endswith("_id"):
            return name
    return None


def scan_table(
    scanner: PiiScanner, conn: Any, schema: str, table: str, columns: list[_Column]
) -> Iterator[Hit]:
    if not columns:
        return
    key = _key_column(columns)
    selected = [
        f"cast({_quote(c.name)} as varchar)" if not c.is_json else _quote(c.name) for c in columns
    ]
    if key is not None:
        selected.append(f"cast({_quote(key)} as varchar)")
    cursor = conn.cursor()
    cursor.execute(f"select {', '.join(selected)} from {_quote(schema)}.{_quote(table)}")
    location = f"table {schema}.{table}"
    row_number = 0
    while rows := cursor.fetchmany(_FETCH):
        for row in rows:
            row_number += 1
            row_name = f"row {row_number}"
            if key is not None and row[-1] is not None and not any(scanner.scan(str(row[-1]))):
                row_name = f"{key} {row[-1]}"
            for column, value in zip(columns, row, strict=False):
                if value is None:
                    continue
                for where, kind, hint in _scan_value(scanner, column, value):
                    yield Hit(location, f"column {column.name}{where}, {row_name}", kind, hint)


def _scan_value(scanner: PiiScanner, column: _Column, value: Any) -> Iterator[tuple[str, str, str]]:
    if column.is_json:
        document = value
        if isinstance(value, (str, bytes)):
            try:
                document = json.loads(value)
            except ValueError:
                document = str(value)
        for path, kind, hint in scanner.scan_json(document):
            yield ("" if path == "$" else f" {path}"), kind, hint
    else:
        for kind, hint in scanner.scan(str(value)):
            yield "", kind, hint


def warehouse_org_numbers(conn: Any, relations: Iterable[tuple[str, str]]) -> OrgNumbers:
    """The org's DID pools and DIDs, when the extractor has landed them (else none)."""
    cursor = conn.cursor()

    def rows(sql: str) -> list[tuple[Any, ...]]:
        cursor.execute(sql)
        return list(cursor.fetchall())

    return from_raw_tables(rows, {name for schema, name in relations if schema == RAW_SCHEMA})


@dataclass
class AuditReport:
    hits: list[Hit]
    tables: int = 0
    files: int = 0


def audit(
    *,
    names: Iterable[str] = (),
    policy_org_numbers: Iterable[str] = (),
    connect: Callable[[], Any] | None = None,
    target: str = "duckdb",
    paths: Iterable[Path] = (),
    root: Path | None = None,
    on_hit: Callable[[Hit], None] | None = None,
) -> AuditReport:
    """Scan the warehouse (when `connect` is given: a context manager factory) and `paths`."""
    names = list(names)
    report = AuditReport(hits=[])

    def found(hit: Hit) -> None:
        report.hits.append(hit)
        if on_hit is not None:
            on_hit(hit)

    org = OrgNumbers.build(numbers=policy_org_numbers)
    if connect is not None:
        with connect() as conn:
            relations = list_relations(conn, target)
            pools = warehouse_org_numbers(conn, relations)
            org = OrgNumbers(pools.ranges, pools.numbers | org.numbers)
            scanner = PiiScanner(org, names)
            for (schema, table), columns in relations.items():
                report.tables += 1
                for hit in scan_table(scanner, conn, schema, table, columns):
                    found(hit)
    else:
        scanner = PiiScanner(org, names)
    for file in files_under(paths):
        report.files += 1
        for hit in scan_file(scanner, file, _shown(file, root)):
            found(hit)
    return report


def read_names(path: Path) -> list[str]:
    """One name (or other term) per line; blank lines and `#` comments are ignored."""
    lines = path.read_text("utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
