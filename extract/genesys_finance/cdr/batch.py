"""Column-at-a-time parsing of a batch of records: the fast path to the same rows as `RowParser`.

`RowParser` (parse.py) defines every rule, one row at a time, in Python: about 10,000 rows/s,
far below what Postgres's COPY takes. Here a batch's columns are checked with patterns that only
accept values `RowParser` reads the same way (ISO-8601 stamps with an offset, plain integers and
decimals within their scale, known currencies, exact directions ...), converted by Arrow's own
casts, and masked value by value with `RowParser`'s cached number masking. A row any check does
not accept goes to `RowParser.parse`, which yields its typed row or its reject with reasons: the
patterns can only send more rows to the slow path, never read a value differently. Profiles with
other shapes (strptime or RFC 2822 stamps, local time zones, national numbers, derived invoice
ids or billed seconds, prefix/contains directions, negated amounts) use `RowParser` throughout.
tests/python/test_cdr_formats.py loads the same files both ways and compares.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from genesys_finance.cdr.currencies import ISO_4217
from genesys_finance.cdr.parse import CdrReject, CdrRow, Invalid, RowParser
from genesys_finance.cdr.reader import RawRecord

_STAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
_OFFSET = r"(Z|[+-][0-9]{2}:[0-9]{2})$"
_INT = r"^[0-9]{1,18}$"
TIMESTAMP = pa.timestamp("us", tz="UTC")


def fast_path_fits(parser: RowParser) -> bool:
    p = parser.ctx.profile
    return (
        p.timestamp_format == "iso8601"
        and p.timezone in (None, "UTC")
        and "utc_offset" not in parser.positions
        and p.number_format == "e164"
        and not p.withheld_numbers
        and p.direction_match == "exact"
        and p.billed_round_up_to is None
        and not p.negate_amount
        and p.invoice_template is None
    )


def _decimal_pattern(scale: int, precision: int = 18) -> str:
    return rf"^-?[0-9]{{1,{precision - scale}}}(\.[0-9]{{0,{scale}}})?$"


class BatchParser:
    """Parses batches of one file's records into (Arrow table of rows, rejects)."""

    def __init__(self, parser: RowParser, schema: pa.Schema) -> None:
        self.parser = parser
        self.schema = schema
        self.fast = fast_path_fits(parser)
        p = parser.ctx.profile
        self.inbound = pa.array(sorted(p.inbound))
        self.known = pa.array(sorted(set(p.inbound) | set(p.outbound)))
        self.currencies = pa.array(sorted(ISO_4217))
        self.prefix_digits = parser.masker.masker.policy.prefix_digits
        self.slow_records = 0  # records parsed one by one by RowParser (for tests, logs)

    def parse(self, records: list[RawRecord]) -> tuple[pa.Table, list[CdrReject]]:
        width = self.parser.ctx.width
        candidates = [r for r in records if r.cells is not None and len(r.cells) == width]
        slow = [r for r in records if r.cells is None or len(r.cells) != width]
        table = None
        if self.fast and candidates:
            try:
                table, rest = self._columns(candidates)
                slow.extend(rest)
            except (pa.ArrowInvalid, Invalid):  # a value a pattern let through (30 Feb)
                table = None
        if table is None:
            slow = records
        rows: list[CdrRow] = []
        rejects: list[CdrReject] = []
        self.slow_records += len(slow)
        slow.sort(key=lambda record: record.line)  # rejects reported in line order
        for record in slow:
            item = self.parser.parse(record)
            (rows if isinstance(item, CdrRow) else rejects).append(item)  # type: ignore[arg-type]
        tables = [t for t in (table, _rows_table(rows, self.schema)) if t is not None]
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0], rejects

    def _columns(self, records: list[RawRecord]) -> tuple[pa.Table, list[RawRecord]]:
        parser, ctx = self.parser, self.parser.ctx
        n = len(records)
        cells = list(zip(*(r.cells for r in records), strict=True))
        text: dict[str, pa.Array] = {
            f: pc.utf8_trim_whitespace(pa.array(cells[i], pa.string()))
            for f, i in parser.positions.items()
        }
        ok = pa.array([True] * n)

        def need(mask: Any) -> None:
            nonlocal ok
            ok = pc.and_(ok, pc.fill_null(mask, False))

        def filled(name: str) -> Any:
            return pc.not_equal(text[name], "")

        out: dict[str, Any] = {}
        for name in ("start_time", "end_time", "answer_time"):
            if name not in text:
                out[name] = pa.nulls(n, TIMESTAMP)
                continue
            col = text[name]
            has_offset = pc.match_substring_regex(col, _OFFSET)
            shaped = pc.match_substring_regex(col, _STAMP + "(" + _OFFSET[:-1] + ")?$")
            if ctx.profile.timezone is None:
                shaped = pc.and_(shaped, has_offset)
            optional = name not in parser.required
            need(pc.or_(shaped, pc.and_(pc.equal(col, ""), optional)))
            utc = pc.if_else(has_offset, col, pc.binary_join_element_wise(col, "Z", ""))
            stamps = pc.if_else(pc.and_(ok, shaped), utc, pa.scalar(None, pa.string()))
            out[name], real = _cast_stamps(stamps)
            need(real)
        need(pc.greater_equal(out["end_time"], out["start_time"]))
        if "answer_time" in text:
            answer = out["answer_time"]
            inside = pc.and_(
                pc.greater_equal(answer, out["start_time"]), pc.less_equal(answer, out["end_time"])
            )
            need(pc.or_(pc.is_null(answer), inside))
        for name in ("duration_ms", "billed_seconds"):
            if name not in text:
                out[name] = pa.nulls(n, pa.int64())
                continue
            col = text[name]
            shaped = pc.match_substring_regex(col, _INT)
            need(pc.or_(shaped, pc.and_(pc.equal(col, ""), name not in parser.required)))
            value = pc.if_else(pc.and_(ok, shaped), col, pa.scalar(None, pa.string()))
            value = value.cast(pa.int64())
            out[name] = (
                pc.multiply(value, parser.duration_scale) if name == "duration_ms" else value
            )
        for name, scale in (("rate_per_minute", 8), ("billed_amount", 6)):
            kind = pa.decimal128(18, scale)
            if name not in text:
                out[name] = pa.nulls(n, kind)
                continue
            col = text[name]
            shaped = pc.match_substring_regex(col, _decimal_pattern(scale))
            need(shaped)
            usable = pc.if_else(pc.and_(ok, shaped), col, pa.scalar(None, pa.string()))
            out[name] = usable.cast(kind)
        if parser.fixed_currency is None:
            currency = pc.utf8_upper(text["currency"])
            need(pc.is_in(currency, value_set=self.currencies))
            out["currency"] = currency
        else:
            out["currency"] = pa.array([parser.fixed_currency] * n, pa.string())
        direction = pc.utf8_lower(text["direction"])
        need(pc.is_in(direction, value_set=self.known))
        out["direction"] = pc.if_else(
            pc.is_in(direction, value_set=self.inbound), "inbound", "outbound"
        )
        for name in ("carrier", "invoice_id"):
            out[name] = pa.nulls(n, pa.string())
            if name in text:
                if name in parser.required:
                    need(filled(name))
                out[name] = pc.if_else(filled(name), text[name], pa.scalar(None, pa.string()))
        masks = self._python_columns(text, ok, n)
        ok = masks.pop("_ok")
        out.update(masks)
        keep = ok.to_pylist()
        rest = [r for r, good in zip(records, keep, strict=True) if not good]
        lines = [r.line for r, good in zip(records, keep, strict=True) if good]
        out["cdr_id"] = [
            hashlib.sha256(f"{ctx.sha256}:{line}".encode()).hexdigest() for line in lines
        ]
        if parser.carrier:  # fixed by the profile or --carrier, over any column
            out["carrier"] = pa.array([parser.carrier] * n, pa.string())
        columns = []
        for f in self.schema:
            if f.name == "cdr_id":
                columns.append(pa.array(out["cdr_id"], pa.string()))
            elif f.name == "source_line":
                columns.append(pa.array(lines, pa.int64()))
            elif f.name in ("source_format", "source_file", "file_sha256", "loaded_at"):
                value = {
                    "source_format": ctx.profile.name,
                    "source_file": ctx.name,
                    "file_sha256": ctx.sha256,
                    "loaded_at": ctx.loaded_at,
                }[f.name]
                columns.append(pa.array([value] * len(lines), f.type))
            else:
                columns.append(pc.filter(pa.array(out[f.name]), ok).cast(f.type))
        return pa.Table.from_arrays(columns, schema=self.schema), rest

    def _is_org(self, digits: Any) -> Any:
        """Whether each E.164 digit string is one of the org's numbers (its DID pool ranges
        hold numbers of their ends' length, compared as same-length strings)."""
        org = self.parser.masker.org_numbers
        hit = pc.is_in(digits, value_set=pa.array(sorted(org.numbers), pa.string()))
        length = pc.utf8_length(digits)
        for low, high in org.ranges:
            inside = pc.and_(
                pc.equal(length, len(low)),
                pc.and_(pc.greater_equal(digits, low), pc.less_equal(digits, high)),
            )
            hit = pc.or_(hit, inside)
        return pc.fill_null(hit, False)

    def _python_columns(self, text: dict[str, pa.Array], ok: Any, n: int) -> dict[str, Any]:
        """Call-ID hashes and masked numbers, value by value (numbers cached by the parser)."""
        parser = self.parser
        keep = ok.to_pylist()
        out: dict[str, Any] = {}
        if "sip_call_id" in text:
            ids = text["sip_call_id"].to_pylist()
            call_id = parser.masker.call_id
            required = "sip_call_id" in parser.required
            hashed: list[str | None] = []
            for i, value in enumerate(ids):
                if value:
                    hashed.append(call_id(value))
                else:
                    hashed.append(None)
                    if required:
                        keep[i] = False
            out["sip_call_id"] = pa.array(hashed, pa.string())
        else:
            out["sip_call_id"] = pa.nulls(n, pa.string())
        for name in ("calling_number", "called_number"):
            if name not in text:
                for suffix in ("last4", "prefix", "org"):
                    out[f"{name}_{suffix}"] = pa.nulls(n, pa.string())
                continue
            col = text[name]
            # Plain `+<digits>`, the common case, column-wise: last 4 digits, the first
            # `prefix_digits` as the rating prefix, the whole when it is an org number (the
            # masking rule reads these the same way; the column-vs-row test proves it).
            plain = pc.fill_null(pc.match_substring_regex(col, r"^\+[0-9]{5,15}$"), False)
            digits = pc.utf8_slice_codeunits(col, 1)
            columns = {
                "last4": pc.utf8_slice_codeunits(col, -4),
                "prefix": pc.utf8_slice_codeunits(digits, 0, self.prefix_digits),
                "org": pc.if_else(self._is_org(digits), digits, pa.scalar(None, pa.string())),
            }
            masked = {k: v.to_pylist() for k, v in columns.items()}
            required = name in parser.required
            for i, (value, is_plain) in enumerate(
                zip(col.to_pylist(), plain.to_pylist(), strict=True)
            ):
                if is_plain:
                    continue
                masked["last4"][i] = masked["prefix"][i] = masked["org"][i] = None
                if not value:
                    keep[i] = keep[i] and not required
                    continue
                try:
                    number = parser._number(value)
                except Invalid:
                    keep[i] = False
                    continue
                masked["last4"][i], masked["prefix"][i], masked["org"][i] = (
                    number.last4, number.prefix, number.org
                )  # fmt: skip
            for suffix, values in masked.items():
                out[f"{name}_{suffix}"] = pa.array(values, pa.string())
        out["_ok"] = pa.array(keep, pa.bool_())
        return out


def _cast_stamps(stamps: Any) -> tuple[Any, Any]:
    """(timestamps, which are real dates): a well-shaped 30 February fails Arrow's cast of the
    whole column, so then each value is tried and the impossible ones left to `RowParser`."""
    try:
        return stamps.cast(TIMESTAMP), pa.array([True] * len(stamps))
    except pa.ArrowInvalid:
        real = []
        for value in stamps.to_pylist():
            try:
                real.append(value is None or bool(pa.scalar(value).cast(TIMESTAMP)))
            except pa.ArrowInvalid:
                real.append(False)
        mask = pa.array(real)
        return pc.if_else(mask, stamps, pa.scalar(None, pa.string())).cast(TIMESTAMP), mask


def _rows_table(rows: list[CdrRow], schema: pa.Schema) -> pa.Table | None:
    if not rows:
        return None
    from genesys_finance.cdr.load import rows_table

    return rows_table(rows, schema)
