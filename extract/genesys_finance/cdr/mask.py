"""Masking a CDR's numbers and Call-ID: the same functions as the conversations' payloads.

A number keeps its last 4 digits and, when it is E.164, its rating prefix (taken before the cut);
an org's own number (in its DID pools, or listed in the PII policy) is kept in clear as E.164
digits, as for conversations. The Call-ID is keyed-hashed like `protocolCallId`, so the two join,
and so is its normalised form (like `protocolCallIdNormalised`): a Call-ID written otherwise joins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from genesys_finance.call_ids import hash_call_ids
from genesys_finance.masking import Masker, mask_number
from genesys_finance.org_numbers import RAW_SCHEMA, OrgNumbers, from_raw_tables

if TYPE_CHECKING:
    from genesys_finance.settings import Settings


@dataclass(frozen=True, slots=True)
class MaskedNumber:
    last4: str | None
    prefix: str | None  # E.164 rating prefix, None when the number is not E.164
    org: str | None  # E.164 digits (no `+`) when it is one of the org's numbers, else None


NO_NUMBER = MaskedNumber(None, None, None)


class CdrMasker:
    """Masks the values of one CDR row with the conversations' rule (`masking.mask_number`)."""

    def __init__(self, masker: Masker, org_numbers: OrgNumbers) -> None:
        self.masker = masker
        # The warehouse's DID pools and DIDs, with the numbers the masker already keeps (the
        # PII policy's `org_numbers:`).
        self.org_numbers = OrgNumbers.build(
            org_numbers.ranges + masker.org_numbers.ranges,
            org_numbers.numbers | masker.org_numbers.numbers,
        )
        self._prefix_digits = masker.policy.prefix_digits

    def call_ids(self, value: str) -> tuple[str | None, str | None]:
        """(`sip_call_id`, `sip_call_id_normalised`): the keyed hashes of the Call-ID as
        written and normalised (`call_ids.normalise_call_id`)."""
        exact, normalised = hash_call_ids(self.masker.require_key(), [value])
        return exact[0], normalised[0]

    def number(self, value: str) -> MaskedNumber:
        masked = mask_number(value, self.org_numbers, self._prefix_digits)
        return MaskedNumber(masked.last4, masked.prefix, masked.org_number)


def org_numbers_for(settings: Settings) -> OrgNumbers:
    """The org's numbers from the DID pools and DIDs extracted into the warehouse (none yet:
    empty; the PII policy's `org_numbers:` come with the masker)."""
    from genesys_finance.warehouse import placeholder, query

    present = {
        str(name)
        for (name,) in query(
            settings,
            "select table_name from information_schema.tables "
            f"where table_schema = {placeholder(settings)}",
            (RAW_SCHEMA,),
        )
    }
    return from_raw_tables(lambda sql: query(settings, sql), present)
