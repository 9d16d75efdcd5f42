"""SIP Call-ID normalisation: what carriers' formatting changes is undone, nothing else."""

from __future__ import annotations

import pytest

from genesys_finance.call_ids import (
    ALREADY_NORMAL,
    hash_call_ids,
    normalise_call_id,
    normalised_call_id_hash,
)
from genesys_finance.masking import Masker, load_policy

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


SAMPLES = [
    GENESYS,
    GENESYS.upper(),
    f" {GENESYS}",
    f"<{GENESYS}>",
    f"{GENESYS}@10.0.0.1",
    "a84b4c76e66710@pc33.example.com",
    "AbcXyz",
    "Xy9",
    "b2b-0f3c",
    "<>",
    "",
    None,
]


def test_already_normal_shortcut_agrees_with_the_rule() -> None:
    """The column-wise shortcut only ever says "normal" of a value the rule leaves unchanged."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = [v for v in SAMPLES if v]
    normal = pc.match_substring_regex(pa.array(values), ALREADY_NORMAL).to_pylist()
    assert all(normalise_call_id(v) == v for v, known in zip(values, normal, strict=True) if known)
    assert normal.count(True) >= 3  # it does skip the common shapes


def test_hash_call_ids_is_the_masker_hash_of_both_forms() -> None:
    key = b"k"
    masker = Masker(load_policy(), key)
    exact, normalised = hash_call_ids(key, SAMPLES)
    assert exact == [masker.hmac(v) if v else None for v in SAMPLES]
    assert normalised == [normalised_call_id_hash(masker.hmac, v) for v in SAMPLES]
    flags = [bool(v) and normalise_call_id(v) == v for v in SAMPLES]
    assert hash_call_ids(key, SAMPLES, flags) == (exact, normalised)


def test_masking_writes_the_normalised_hash_beside_protocol_call_id() -> None:
    masker = Masker(load_policy(), b"k")
    conversation = {"participants": [{"sessions": [{"protocolCallId": f"<{GENESYS.upper()}>"}]}]}
    [session] = masker.mask_conversation(conversation)["participants"][0]["sessions"]
    assert session == {
        "protocolCallId": masker.hmac(f"<{GENESYS.upper()}>"),
        "protocolCallIdNormalised": masker.hmac(GENESYS),
    }
    assert (
        "protocolCallIdNormalised"
        not in masker.mask_conversation(
            {"participants": [{"sessions": [{"protocolCallId": " "}]}]}
        )["participants"][0]["sessions"][0]
    )
