"""SIP Call-ID normalisation: what carriers' formatting changes is undone, nothing else."""

from __future__ import annotations

import pytest

from genesys_finance.call_ids import normalise_call_id, normalised_call_id_hash

GENESYS = "ca110000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    "written",
    [
        GENESYS,
        f"  {GENESYS}\t",
        f"<{GENESYS}>",
        f"< {GENESYS} >",
        GENESYS.upper(),
        f"{GENESYS}@10.0.0.1",
        f"<{GENESYS.upper()}@sbc.carrier.example:5060>",
    ],
)
def test_formatting_differences_normalise_to_the_same_id(written: str) -> None:
    assert normalise_call_id(written) == GENESYS


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("AbcXyz@host", "abcxyz@host"),  # not hex: Call-IDs are case-sensitive (RFC 3261)
        (GENESYS, GENESYS[:-1] + "2"),  # another id
        (GENESYS, GENESYS.replace("-", "")),  # other characters
        ("a84b4c76e66710@pc33.example.com", "a84b4c76e66711@pc33.example.com"),
    ],
)
def test_anything_else_stays_different(a: str, b: str) -> None:
    assert normalise_call_id(a) != normalise_call_id(b)


def test_normalised_hash_uses_the_given_keyed_hash_and_skips_empty_values() -> None:
    seen: list[str] = []

    def fake_hmac(value: str) -> str:
        seen.append(value)
        return f"h({value})"

    assert normalised_call_id_hash(fake_hmac, f"<{GENESYS.upper()}@h>") == f"h({GENESYS})"
    assert normalised_call_id_hash(fake_hmac, "  ") is None
    assert normalised_call_id_hash(fake_hmac, None) is None
    assert normalised_call_id_hash(fake_hmac, "<>") is None
    assert seen == [GENESYS]
