"""The org's own phone numbers: not personal data, so masking keeps them in clear.

They come from the org's DID pools (number ranges) and DIDs in Genesys Cloud, plus any numbers a
PII policy file lists under `org_numbers:`. Numbers are compared as E.164 digits without `+`.
A range holds every number of the same length between its ends, inclusive (Genesys pools are
ranges of one national numbering plan, so both ends have the same length).
"""

from __future__ import annotations

import bisect
import functools
import logging
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

_NON_DIGITS = re.compile(r"[^0-9]+")

log = logging.getLogger(__name__)

# Where the extractor lands the org's DID pools and DIDs.
RAW_SCHEMA = "genesys_raw"


def e164_digits(number: str) -> str:
    """`+1 (317) 555-0100`, `tel:+13175550100` -> `13175550100` (digits only)."""
    return _NON_DIGITS.sub("", number)


@dataclass(frozen=True)
class OrgNumbers:
    """Ranges (start, end) of E.164 digits, and single numbers; `contains` is exact."""

    ranges: tuple[tuple[str, str], ...] = ()
    numbers: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def build(
        cls, ranges: Iterable[tuple[str, str]] = (), numbers: Iterable[str] = ()
    ) -> OrgNumbers:
        cleaned: list[tuple[str, str]] = []
        for start, end in ranges:
            low, high = e164_digits(start), e164_digits(end)
            if not low or len(low) != len(high) or low > high:
                raise ValueError(f"DID pool range {start!r}..{end!r} is not a valid range")
            cleaned.append((low, high))
        digits = frozenset(d for d in (e164_digits(n) for n in numbers) if d)
        return cls(ranges=tuple(sorted(cleaned)), numbers=digits)

    def contains(self, digits: str) -> bool:
        """True when `digits` (E.164, no `+`) is one of the org's numbers."""
        if not digits:
            return False
        if digits in self.numbers:
            return True
        merged = self._merged_by_length.get(len(digits))
        if not merged:
            return False
        # Same-length digit strings order like the numbers they spell.
        index = bisect.bisect_right(merged, (digits, "\uffff")) - 1
        return index >= 0 and merged[index][0] <= digits <= merged[index][1]

    @functools.cached_property
    def _merged_by_length(self) -> dict[int, list[tuple[str, str]]]:
        """Ranges grouped by length, overlaps merged, so one bisect finds the only candidate."""
        by_length: dict[int, list[tuple[str, str]]] = {}
        for low, high in self.ranges:
            merged = by_length.setdefault(len(low), [])
            if merged and low <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
            else:
                merged.append((low, high))
        return by_length

    def __bool__(self) -> bool:
        return bool(self.ranges or self.numbers)


def from_raw_tables(
    rows: Callable[[str], Iterable[Sequence[object]]], tables: Collection[str]
) -> OrgNumbers:
    """The org's numbers from `genesys_raw.did_pools` / `dids`, those of them in `tables`
    (names in `genesys_raw`); `rows(sql)` runs a query. A malformed pool is skipped with a
    warning: its numbers then stay masked, the safe side."""
    ranges: list[tuple[str, str]] = []
    numbers: list[str] = []
    if "did_pools" in tables:
        for start, end in rows(
            f"select start_phone_number, end_phone_number from {RAW_SCHEMA}.did_pools "
            "where start_phone_number is not null and end_phone_number is not null"
        ):
            try:
                OrgNumbers.build([(str(start), str(end))])
            except ValueError as exc:
                log.warning("ignoring a DID pool: %s", exc)
                continue
            ranges.append((str(start), str(end)))
    if "dids" in tables:
        numbers = [
            str(number)
            for (number,) in rows(
                f"select phone_number from {RAW_SCHEMA}.dids where phone_number is not null"
            )
        ]
    log.debug("org numbers: %d DID pool ranges, %d single numbers", len(ranges), len(numbers))
    return OrgNumbers.build(ranges, numbers)
