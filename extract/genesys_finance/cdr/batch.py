"""Column-at-a-time parsing of a batch of records: the fast path to the same rows as `RowParser`.

`RowParser` (parse.py) defines every rule, one row at a time, in Python: about 10,000 rows/s,
far below what Postgres's COPY takes. Here a batch's columns are checked with patterns that only
accept values `RowParser` reads the same way (ISO-8601 stamps with an offset, plain integers and
decimals within their scale, known currencies, exact directions, `+<digits>` numbers ...),
converted by Arrow's own casts and kernels; only the Call-ID's keyed hash is computed value by
value (one tight loop, `call_ids.hash_call_ids`). A row any check does not accept goes to
`RowParser.parse`, which yields its typed row or its reject with reasons: the patterns can only
send more rows to the slow path, never read a value differently. Column-wise: ISO-8601 stamps,
UTC strptime stamps of a few directives (`strptime_shape`), RFC 2822 stamps in `+0000`, E.164
and `national` numbers (withheld ones through the row parser's rule), every direction match,
billed seconds rounded up from the duration, negated amounts, UTC invoice period templates.
Profiles with other shapes (local time zones, an offset column, other number formats or
invoice zones) use `RowParser` throughout.
tests/python/test_cdr_formats.py loads the same files both ways and compares.

Batches come from either reader (reader.py): `parse` takes csv-module records, `parse_arrow`
Arrow's columns as they are read.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from genesys_finance.call_ids import ALREADY_NORMAL, hash_call_ids
from genesys_finance.cdr.currencies import ISO_4217
from genesys_finance.cdr.parse import CdrReject, CdrRow, Invalid, RowParser
from genesys_finance.cdr.reader import ArrowChunk, RawRecord

_STAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
_OFFSET = r"(Z|[+-][0-9]{2}:[0-9]{2})$"
_INT = r"^[0-9]{1,18}$"
_PLAIN_NUMBER = r"^\+[0-9]{5,15}$"
TIMESTAMP = pa.timestamp("us", tz="UTC")
_NO_TEXT = pa.scalar(None, pa.string())
_SIGNS = pa.array(["+", "-"])


def fast_path_fits(parser: RowParser) -> bool:
    p = parser.ctx.profile
    iso = p.timestamp_format == "iso8601" and p.timezone in (None, "UTC")
    strptime = strptime_shape(p.timestamp_format) is not None and p.timezone == "UTC"
    national = p.number_format == "national" and bool(p.national_digits)
    return (
        (iso or strptime or p.timestamp_format == "rfc2822")
        and "utc_offset" not in parser.positions
        and (p.number_format == "e164" or national)
        # A withheld value is never read as a number column-wise: it has no digit.
        and not any(ch.isdigit() for name in p.withheld_numbers for ch in name)
        and (p.invoice_template is None or _utc_invoice(p.invoice_template, p.invoice_timezone))
    )


# strptime directives read column-wise, each as a pattern of exactly the values Python's strptime
# reads the same way (two digits where it also takes one; AM/PM in capitals only).
_DIRECTIVES = {
    "%Y": "[0-9]{4}",
    "%m": "(0[1-9]|1[0-2])",
    "%d": "(0[1-9]|[12][0-9]|3[01])",
    "%H": "([01][0-9]|2[0-3])",
    "%I": "(0[1-9]|1[0-2])",
    "%M": "[0-5][0-9]",
    "%S": "[0-5][0-9]",
    "%p": "(AM|PM)",
}


# RFC 2822 as Twilio writes it, in UTC (`+0000`); Python's reader takes more (other offsets, one
# digit days, any case), which goes to the row parser. The day name is ignored, as Python does.
_RFC2822 = (
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (0[1-9]|[12][0-9]|3[01]) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
    r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] \+0000$"
)
_RFC2822_BODY = "%d %b %Y %H:%M:%S +0000"  # after the day name's 5 characters


def strptime_shape(fmt: str) -> str | None:
    """The pattern of the values a strptime `fmt` reads column-wise; None when `fmt` has a
    directive (or a space, which strptime reads as any run of spaces) outside that subset."""
    if "%" not in fmt:
        return None
    parts = re.split("(%.)", fmt)
    if any(p.startswith("%") and p not in _DIRECTIVES for p in parts):
        return None
    literal = [p for p in parts if not p.startswith("%")]
    if any(not text.isascii() or (re.search(r"\s", text) and text != " ") for text in literal):
        return None
    pattern = "".join(_DIRECTIVES.get(p) or re.escape(p) for p in parts)
    return "^" + pattern + "$"


def _utc_invoice(template: str, zone: str) -> bool:
    """An invoice id template Arrow's strftime writes as Python's does: UTC periods, only
    %Y, %m and %d."""
    return zone == "UTC" and all(d in ("%Y", "%m", "%d") for d in re.findall("%.", template))


def _decimal_pattern(scale: int, precision: int = 18) -> str:
    return rf"^-?[0-9]{{1,{precision - scale}}}(\.[0-9]{{0,{scale}}})?$"


class BatchParser:
    """Parses batches of one file's records into (Arrow table of rows, rejects)."""

    def __init__(self, parser: RowParser, schema: pa.Schema) -> None:
        self.parser = parser
        self.schema = schema
        self.fast = fast_path_fits(parser)
        p = parser.ctx.profile
        self.profile = p
        self.stamp_shape = strptime_shape(p.timestamp_format)
        self.currencies = pa.array(sorted(ISO_4217))
        self.prefix_digits = parser.masker.masker.policy.prefix_digits
        org = parser.masker.org_numbers
        self.org_numbers = pa.array(sorted(org.numbers), pa.string())
        self.org_ranges = org.ranges
        # `cdr_id` = sha256(f"{file sha256}:{line}") (parse.line_id).
        self._id_prefix = f"{parser.ctx.sha256}:".encode()
        self.slow_records = 0  # records parsed one by one by RowParser (for tests, logs)

    def parse(self, records: list[RawRecord]) -> tuple[pa.Table, list[CdrReject]]:
        """A batch of csv-module records."""
        width = self.parser.ctx.width
        candidates = [r for r in records if r.cells is not None and len(r.cells) == width]
        slow = [r for r in records if r.cells is None or len(r.cells) != width]
        table = None
        if self.fast and candidates:
            cells = list(zip(*(r.cells for r in candidates), strict=True))
            text = {f: pa.array(cells[i], pa.string()) for f, i in self.parser.positions.items()}
            lines = pa.array([r.line for r in candidates], pa.int64())
            columns = self._try_columns(text, lines)
            if columns is not None:
                table, rest = columns
                slow.extend(candidates[i] for i in rest)
        if table is None:
            slow = records
        return self._with_slow(table, slow)

    def parse_arrow(self, chunk: ArrowChunk) -> tuple[pa.Table, list[CdrReject]]:
        """A batch read by Arrow (reader.arrow_chunks): its rows of the wrong width come apart."""
        table = None
        slow = list(chunk.bad)
        if self.fast and len(chunk.lines):
            text = {f: chunk.columns[i] for f, i in self.parser.positions.items()}
            columns = self._try_columns(text, chunk.lines)
            if columns is not None:
                table, rest = columns
                slow.extend(chunk.records(rest) if rest else [])
        if table is None:
            slow.extend(chunk.records())
        return self._with_slow(table, slow)

    def _try_columns(self, text: dict[str, Any], lines: Any) -> tuple[pa.Table, list[int]] | None:
        try:
            return self._columns(text, lines)
        except (pa.ArrowInvalid, Invalid):  # a value a pattern let through (30 Feb): row by row
            return None

    def _with_slow(
        self, table: pa.Table | None, slow: list[RawRecord]
    ) -> tuple[pa.Table, list[CdrReject]]:
        """The slow records through `RowParser`; rows appended to `table`, rejects in line order."""
        rows: list[CdrRow] = []
        rejects: list[CdrReject] = []
        self.slow_records += len(slow)
        slow.sort(key=lambda record: record.line)
        for record in slow:
            item = self.parser.parse(record)
            (rows if isinstance(item, CdrRow) else rejects).append(item)  # type: ignore[arg-type]
        tables = [t for t in (table, _rows_table(rows, self.schema)) if t is not None]
        if not tables:
            return self.schema.empty_table(), rejects
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0], rejects

    def _columns(self, raw: dict[str, Any], lines: Any) -> tuple[pa.Table, list[int]]:
        """(the table of the rows every check accepts, the positions of the others)."""
        parser, ctx, p = self.parser, self.parser.ctx, self.profile
        n = len(lines)
        text = {f: pc.utf8_trim_whitespace(col) for f, col in raw.items()}
        ok: Any = pa.repeat(True, n)

        def need(mask: Any) -> None:
            nonlocal ok
            ok = pc.and_(ok, pc.fill_null(mask, False))

        def filled(name: str) -> Any:
            return pc.not_equal(text[name], "")

        def empty_allowed(name: str) -> Any:
            return pc.and_(pc.equal(text[name], ""), name not in parser.required)

        out: dict[str, Any] = {}
        for name in ("start_time", "end_time", "answer_time"):
            if name not in text:
                out[name] = pa.nulls(n, TIMESTAMP)
                continue
            col = text[name]
            if self.stamp_shape is not None:
                out[name] = self._strptime(col, empty_allowed(name), need)
                continue
            if p.timestamp_format == "rfc2822":
                body = pc.utf8_slice_codeunits(col, 5)
                out[name] = self._strptime(body, empty_allowed(name), need, _RFC2822_BODY, col)
                continue
            shaped = pc.match_substring_regex(col, _STAMP + "(" + _OFFSET[:-1] + ")?$")
            # Where `shaped` holds, the value ends with Z or +hh:mm / -hh:mm, or else with the
            # time's digits (its sign 6th from the end: never in a stamp without an offset).
            # Sign and Z instead of one more pattern per column (only shaped values are used).
            sign = pc.utf8_slice_codeunits(col, -6, -5)
            has_offset = pc.or_(pc.ends_with(col, "Z"), pc.is_in(sign, value_set=_SIGNS))
            if ctx.profile.timezone is None:
                shaped = pc.and_(shaped, has_offset)
            need(pc.or_(shaped, empty_allowed(name)))
            utc = pc.if_else(has_offset, col, pc.binary_join_element_wise(col, "Z", ""))
            stamps = pc.if_else(pc.and_(ok, shaped), utc, _NO_TEXT)
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
            need(pc.or_(shaped, empty_allowed(name)))
            value = pc.if_else(pc.and_(ok, shaped), col, _NO_TEXT).cast(pa.int64())
            out[name] = (
                pc.multiply(value, parser.duration_scale) if name == "duration_ms" else value
            )
        if parser.round_up is not None:  # billed seconds from the duration (RowParser's rule)
            duration = out["duration_ms"]
            need(pc.is_valid(duration))  # an empty duration is the row parser's reject
            seconds = pc.divide(pc.add(duration, 999), 1000)  # rounded up: never negative
            r = parser.round_up
            out["billed_seconds"] = pc.multiply(pc.divide(pc.add(seconds, r - 1), r), r)
        for name, scale in (("rate_per_minute", 8), ("billed_amount", 6)):
            kind = pa.decimal128(18, scale)
            if name not in text:
                out[name] = pa.nulls(n, kind)
                continue
            col = text[name]
            shaped = pc.match_substring_regex(col, _decimal_pattern(scale))
            need(shaped)
            out[name] = pc.if_else(pc.and_(ok, shaped), col, _NO_TEXT).cast(kind)
        if parser.negate:  # the file writes a charge as a negative number
            out["billed_amount"] = pc.negate(out["billed_amount"])
        if parser.fixed_currency is None:
            currency = pc.utf8_upper(text["currency"])
            need(pc.is_in(currency, value_set=self.currencies))
            out["currency"] = currency
        else:
            out["currency"] = pa.repeat(parser.fixed_currency, n)
        direction = pc.utf8_lower(text["direction"])
        inbound = self._direction_is(direction, p.inbound)
        need(pc.xor(inbound, self._direction_is(direction, p.outbound)))  # one, never both
        out["direction"] = pc.if_else(inbound, "inbound", "outbound")
        for name in ("carrier", "invoice_id"):
            out[name] = pa.nulls(n, pa.string())
            if name in text:
                if name in parser.required:
                    need(filled(name))
                out[name] = pc.if_else(filled(name), text[name], _NO_TEXT)
        if p.invoice_template is not None:  # a UTC period of the start (_utc_invoice)
            shift = pa.scalar(parser.invoice_shift, pa.duration("us"))
            start = pc.subtract(out["start_time"], shift)
            out["invoice_id"] = pc.strftime(start, format=p.invoice_template)
        if parser.carrier:  # fixed by the profile or --carrier, over any column
            out["carrier"] = pa.repeat(parser.carrier, n)
        for name in ("calling_number", "called_number"):
            masked, good = self._numbers(text.get(name), name in parser.required, n)
            need(good)
            out.update({f"{name}_{suffix}": column for suffix, column in masked.items()})
        if "sip_call_id" in text and "sip_call_id" in parser.required:
            need(filled("sip_call_id"))
        ok = ok.combine_chunks() if isinstance(ok, pa.ChunkedArray) else ok
        kept = pc.filter(lines, ok)
        # The Call-ID's keyed hashes only for the rows kept: HMAC is the per-value cost left.
        if "sip_call_id" in text:
            ids = pc.filter(text["sip_call_id"], ok)
            normal = pc.match_substring_regex(ids, ALREADY_NORMAL).to_pylist()
            key = parser.masker.masker.require_key()
            exact, normalised = hash_call_ids(key, ids.to_pylist(), normal)
            call_ids = {"sip_call_id": exact, "sip_call_id_normalised": normalised}
        else:
            call_ids = dict.fromkeys(("sip_call_id", "sip_call_id_normalised"), [None] * len(kept))
        # One hash per line from one bytes format: a third faster than a copied prefix state.
        prefix, sha256 = self._id_prefix, hashlib.sha256
        ids_of_lines = [sha256(b"%s%d" % (prefix, line)).hexdigest() for line in kept.to_pylist()]
        constants = {
            "source_format": ctx.profile.name,
            "source_file": ctx.name,
            "file_sha256": ctx.sha256,
            "loaded_at": ctx.loaded_at,
        }
        columns = []
        for f in self.schema:
            if f.name == "cdr_id":
                columns.append(pa.array(ids_of_lines, pa.string()))
            elif f.name == "source_line":
                columns.append(kept)
            elif f.name in call_ids:
                columns.append(pa.array(call_ids[f.name], pa.string()))
            elif f.name in constants:
                columns.append(pa.repeat(pa.scalar(constants[f.name], f.type), len(kept)))
            else:
                columns.append(pc.filter(out[f.name], ok).cast(f.type))
        rest = pc.indices_nonzero(pc.invert(ok)).to_pylist()
        return pa.Table.from_arrays(columns, schema=self.schema), rest

    def _strptime(
        self,
        col: Any,
        empty_allowed: Any,
        need: Callable[[Any], None],
        fmt: str | None = None,
        whole: Any = None,
    ) -> Any:
        """UTC timestamps of a strptime-format column (or of `col`, the part after the day name
        of `whole`, RFC 2822 values, in `fmt`). Arrow's strptime rolls an impossible date over
        (30 February reads as 1 March), so a value counts only when the time read writes back
        as the very text: any other goes to the row parser."""
        if fmt is None:
            fmt, shape, whole = self.profile.timestamp_format, self.stamp_shape, col
        else:
            shape = _RFC2822
        shaped = pc.match_substring_regex(whole, shape)
        need(pc.or_(shaped, empty_allowed))
        # In seconds (the directives read no fraction): Arrow writes %S with the unit's fraction.
        parsed = pc.strptime(
            pc.if_else(shaped, col, _NO_TEXT), format=fmt, unit="s", error_is_null=True
        )
        same = pc.equal(pc.strftime(parsed, format=fmt), col)
        need(pc.or_(pc.invert(shaped), same))
        return parsed.cast(TIMESTAMP)

    def _direction_is(self, lowered: Any, names: tuple[str, ...]) -> Any:
        """Whether each lower-cased direction is one of `names` (RowParser's `direction`)."""
        how = self.profile.direction_match
        if how == "exact":
            return pc.is_in(lowered, value_set=pa.array(names, pa.string()))
        test = pc.starts_with if how == "prefix" else pc.match_substring
        hit: Any = pa.repeat(False, len(lowered))
        for name in names:
            hit = pc.or_(hit, test(lowered, pattern=name))
        return hit

    def _national(self, col: Any) -> Any:
        """National numbers as `+<E.164>` where RowParser's `national` rule reads them from
        digits alone (n digits; the trunk prefix and n; the country code and n, in its order);
        any other value stays as written, for the row parser's rule."""
        p = self.profile
        n, country, trunk = p.national_digits, p.default_country or "", p.trunk_prefix
        rules = [(f"^[0-9]{{{n}}}$", "+" + country, 0)]
        if trunk:
            rules.append((f"^{trunk}[0-9]{{{n}}}$", "+" + country, len(trunk)))
        rules.append((f"^{country}[0-9]{{{n}}}$", "+", 0))
        result = col
        for pattern, prefix, cut in reversed(rules):  # the first rule that reads it wins
            number = pc.binary_join_element_wise(prefix, pc.utf8_slice_codeunits(col, cut), "")
            result = pc.if_else(pc.match_substring_regex(col, pattern), number, result)
        return result

    def _is_org(self, digits: Any) -> Any:
        """Whether each E.164 digit string is one of the org's numbers (its DID pool ranges
        hold numbers of their ends' length, compared as same-length strings)."""
        hit = pc.is_in(digits, value_set=self.org_numbers)
        length = pc.utf8_length(digits)
        for low, high in self.org_ranges:
            inside = pc.and_(
                pc.equal(length, len(low)),
                pc.and_(pc.greater_equal(digits, low), pc.less_equal(digits, high)),
            )
            hit = pc.or_(hit, inside)
        return pc.fill_null(hit, False)

    def _numbers(self, col: Any, required: bool, n: int) -> tuple[dict[str, Any], Any]:
        """A number column masked ({last4, prefix, org}, which rows are good). Plain
        `+<digits>`, the common case, column-wise: last 4 digits, the first `prefix_digits` as
        the rating prefix, the whole when it is an org number (the masking rule reads these the
        same way; the column-vs-row test proves it). Any other value through the row parser's
        cached masking, or rejected."""
        if col is None:
            return {k: pa.nulls(n, pa.string()) for k in ("last4", "prefix", "org")}, pa.repeat(
                True, n
            )
        if self.profile.number_format == "national":
            col = self._national(col)
        plain = pc.fill_null(pc.match_substring_regex(col, _PLAIN_NUMBER), False)
        digits = pc.utf8_slice_codeunits(col, 1)
        masked = {
            "last4": pc.utf8_slice_codeunits(col, -4),
            "prefix": pc.utf8_slice_codeunits(digits, 0, self.prefix_digits),
            "org": pc.if_else(self._is_org(digits), digits, _NO_TEXT),
        }
        others = pc.indices_nonzero(pc.invert(plain)).to_pylist()
        if not others:
            return masked, plain
        good = plain.to_pylist()
        fixes: dict[str, list[str | None]] = {k: [] for k in masked}
        for i in others:
            value = col[i].as_py()
            number = None
            if value:
                try:
                    number = self.parser._number(value)
                    good[i] = True
                except Invalid:
                    pass
            else:
                good[i] = not required
            for key, part in (
                ("last4", number.last4 if number else None),
                ("prefix", number.prefix if number else None),
                ("org", number.org if number else None),
            ):
                fixes[key].append(part)
        mask = pc.invert(plain)
        return {
            k: pc.replace_with_mask(v, mask, pa.array(fixes[k], pa.string()))
            for k, v in masked.items()
        }, pa.array(good, pa.bool_())


def _cast_stamps(stamps: Any) -> tuple[Any, Any]:
    """(timestamps, which are real dates): a well-shaped 30 February fails Arrow's cast of the
    whole column, so then each value is tried and the impossible ones left to `RowParser`."""
    try:
        return stamps.cast(TIMESTAMP), pa.repeat(True, len(stamps))
    except pa.ArrowInvalid:
        real = []
        for value in stamps.to_pylist():
            try:
                real.append(value is None or bool(pa.scalar(value).cast(TIMESTAMP)))
            except pa.ArrowInvalid:
                real.append(False)
        mask = pa.array(real)
        return pc.if_else(mask, stamps, _NO_TEXT).cast(TIMESTAMP), mask


def _rows_table(rows: list[CdrRow], schema: pa.Schema) -> pa.Table | None:
    if not rows:
        return None
    from genesys_finance.cdr.load import rows_table

    return rows_table(rows, schema)
