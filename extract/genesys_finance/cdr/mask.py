"""Masking a CDR's numbers and Call-ID: the same functions as the conversations' payloads.

A number keeps its last 4 digits and, when it is E.164, its rating prefix (taken before the cut);
an org's own number (in its DID pools, or listed in the PII policy) is kept in clear as E.164
digits, as for conversations. The Call-ID is keyed-hashed like `protocolCallId`, so the two join.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from genesys_finance.masking import Masker
from genesys_finance.org_numbers import OrgNumbers, e164_digits

if TYPE_CHECKING:
    from genesys_finance.settings import Settings

log = logging.getLogger(__name__)

GENESYS_SCHEMA = "genesys_raw"


@dataclass(frozen=True, slots=True)
class MaskedNumber:
    last4: str | None
    prefix: str | None  # E.164 rating prefix, None when the number is not E.164
    org: str | None  # E.164 digits (no `+`) when it is one of the org's numbers, else None


NO_NUMBER = MaskedNumber(None, None, None)


class CdrMasker:
    """Masks the values of one CDR row; numbers repeat, so results are cached by the masker."""

    def __init__(self, masker: Masker, org_numbers: OrgNumbers) -> None:
        self.masker = masker
        self.org_numbers = org_numbers

    def call_id(self, value: str) -> str:
        return self.masker.hmac(value)

    def number(self, value: str) -> MaskedNumber:
        last4, prefix = self._last4_and_prefix(value)
        org = None
        if prefix is not None:  # only an E.164 number can be one of the org's
            digits = e164_digits(value.split(";", 1)[0])
            org = digits if self.org_numbers.contains(digits) else None
        return MaskedNumber(last4, prefix, org)

    def _last4_and_prefix(self, value: str) -> tuple[str, str | None]:
        # The conversations' rule (masking.py); the one line to switch when it takes org numbers.
        return self.masker.mask_number(value)


def org_numbers_for(settings: Settings, masker: Masker) -> OrgNumbers:
    """The org's numbers: DID pools and DIDs extracted into the warehouse, plus any numbers the
    PII policy lists under `org_numbers:`. No pools extracted yet: only the policy's."""
    from genesys_finance.warehouse import placeholder, query

    listed: Iterable[str] = getattr(masker.policy, "org_numbers", ()) or ()
    mark = placeholder(settings)
    present = {
        str(name)
        for (name,) in query(
            settings,
            f"select table_name from information_schema.tables where table_schema = {mark}",
            (GENESYS_SCHEMA,),
        )
    }
    ranges: list[tuple[str, str]] = []
    numbers = list(listed)
    if "did_pools" in present:
        ranges = [
            (str(a), str(b))
            for a, b in query(
                settings,
                f"select start_phone_number, end_phone_number from {GENESYS_SCHEMA}.did_pools "
                "where start_phone_number is not null and end_phone_number is not null",
            )
        ]
    if "dids" in present:
        numbers += [
            str(n)
            for (n,) in query(
                settings,
                f"select phone_number from {GENESYS_SCHEMA}.dids where phone_number is not null",
            )
        ]
    log.debug("org numbers: %d DID pool ranges, %d single numbers", len(ranges), len(numbers))
    return OrgNumbers.build(ranges, numbers)
