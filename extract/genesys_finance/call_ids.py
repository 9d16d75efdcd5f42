"""SIP Call-ID normalisation: what carriers' formatting changes, and nothing else.

A carrier's CDR and Genesys' `protocolCallId` name the same SIP dialog, but files write the
Call-ID differently: with surrounding whitespace, in angle brackets (`<abc@host>`), with or without
the `@host` part, hex ids in upper or lower case. The warehouse holds Call-IDs only as keyed hashes
(`hmac` masking), so the normalised form is hashed in Python beside the exact one
(`sip_call_id_normalised`), and the match models join on it when the exact hashes differ.

Anything else (another id, other characters, a case change in a non-hex id: RFC 3261 Call-IDs are
case-sensitive) stays different: a wrong match moves money.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from itertools import repeat
from typing import Any

_HEX_ID = re.compile(r"[0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)*")
# A Call-ID that matches this is already normal (no whitespace, brackets or `@`, and no
# upper-case hex letter to lower): `normalise_call_id` returns it unchanged. A loader checks it
# column-wise (RE2 syntax) to skip the per-value rule for most values; test_call_ids proves it.
ALREADY_NORMAL = r"^[^\s<>@A-F]*$"


def normalise_call_id(value: str) -> str:
    """`value` without surrounding whitespace and angle brackets, without its `@host` part, and
    lower-cased when what remains is a hex id (dashes allowed, as in UUIDs).

    >>> normalise_call_id(" <CA110000-0000-4000-8000-000000000001@10.0.0.1> ")
    'ca110000-0000-4000-8000-000000000001'
    >>> normalise_call_id("a84b4c76e66710@pc33.atlanta.com")
    'a84b4c76e66710'
    >>> normalise_call_id("Xy9@host")
    'Xy9'
    """
    text = value.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    local, _, _host = text.partition("@")
    return local.lower() if _HEX_ID.fullmatch(local) else local


def normalised_call_id_hash(hmac_hex: Callable[[str], str], value: str | None) -> str | None:
    """The `sip_call_id_normalised` column: `hmac_hex(normalise_call_id(value))`, None when the
    value is empty. `hmac_hex` is the masker's keyed hash (e.g. `Masker.hmac`), so both hashed
    columns come from one key."""
    if not value or not value.strip():
        return None
    normalised = normalise_call_id(value)
    if not normalised:
        return None
    return hmac_hex(normalised)


def hash_call_ids(
    key: bytes, values: Iterable[str | None], normal: Iterable[bool] | None = None
) -> tuple[list[str | None], list[str | None]]:
    """(`sip_call_id`, `sip_call_id_normalised`) of many Call-IDs at once: lowercase hex
    HMAC-SHA256 under `key` (`Masker.hmac`'s), None for an empty value. The keyed hash is the one
    per-value cost of a CDR load, so this is one tight loop; a Call-ID already in normal form
    reuses its exact hash. `normal`: per value, whether it matches `ALREADY_NORMAL` (known
    normal without running the rule)."""
    digest = _keyed_sha256(key)
    exact: list[str | None] = []
    normalised: list[str | None] = []
    flags = repeat(False) if normal is None else normal
    for value, known_normal in zip(values, flags, strict=False):  # `flags` may be endless
        if not value:
            exact.append(None)
            normalised.append(None)
            continue
        hashed = digest(value)
        exact.append(hashed)
        if known_normal:
            normalised.append(hashed)
            continue
        normal_form = normalise_call_id(value)
        if normal_form == value:
            normalised.append(hashed)
        elif normal_form:
            normalised.append(digest(normal_form))
        else:
            normalised.append(None)
    return exact, normalised


def _keyed_sha256(key: bytes) -> Callable[[str], str]:
    """HMAC-SHA256 hex of text under `key` (RFC 2104, what `hmac.digest` computes), with the
    key's inner and outer pads hashed once: twice as fast per value as `hmac.digest` (measured),
    which sets the key up again on every call."""
    block = 64  # SHA-256's block size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    # The copy methods bound once (default arguments are locals): 17 % less per value.
    def digest(value: str, inner_copy: Any = inner.copy, outer_copy: Any = outer.copy) -> str:
        hashed = inner_copy()
        hashed.update(value.encode("utf-8"))
        result = outer_copy()
        result.update(hashed.digest())
        return str(result.hexdigest())

    return digest
