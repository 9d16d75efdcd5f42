"""PII masking: every action, the example conversation, prefixes, keys, policy overrides."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import HMAC_TEST_KEY, REFERENCE_DIR
from genesys_finance.masking import (
    POLICY_ENV,
    REDACTED,
    MaskedNumber,
    Masker,
    load_policy,
    mask_number,
)
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.settings import ConfigError, Settings

REFERENCE = REFERENCE_DIR
_NON_DIGITS = re.compile(r"[^0-9]+")


def _settings(key: str | None = HMAC_TEST_KEY) -> Settings:
    return Settings(hmac_key=key.encode() if key else None)


def _masker(policy: Path | None = None, key: str | None = HMAC_TEST_KEY) -> Masker:
    return Masker.from_settings(_settings(key), policy, env={})


def _expected_hmac(value: str) -> str:
    return hmac.new(HMAC_TEST_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    """The example conversation with the IVR participant inserted (four participants)."""
    conv = json.loads((REFERENCE / "example-conversation.json").read_text())
    ivr = json.loads((REFERENCE / "example-ivr-participant.json").read_text())
    conv["participants"].insert(1, ivr)
    return conv


# Every clear PII value of the example files (genesys-analytics-api.md §8 and §9).
EXAMPLE_PII = [
    "Jane Doe",
    "Alex Agent",
    "jane.doe@example.com",
    "invoice 4471",
    "5555550100",
    "8005550199",
    "billing",
    "AC-104-2231",
    "ec000000-0000-4000-8000-000000000001",
    "ca110000-0000-4000-8000-000000000001",
    "ca110000-0000-4000-8000-000000000002",
    "ca110000-0000-4000-8000-000000000003",
    "example.orgspan.com",
    "Support - Tier 1",  # also as the IVR's transferTargetName
]


def _sessions(conv: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in conv["participants"] for s in p.get("sessions", [])]


def test_example_conversation_keeps_no_clear_pii(example: dict[str, Any]) -> None:
    masked = json.dumps(_masker().mask_conversation(example))
    leaked = [value for value in EXAMPLE_PII if value.lower() in masked.lower()]
    assert leaked == []


def test_example_conversation_keeps_join_keys_and_metrics(example: dict[str, Any]) -> None:
    masked = _masker().mask_conversation(example)
    agent = masked["participants"][3]
    assert agent["userId"] == "a9000000-0000-4000-8000-000000000001"
    assert agent["sessions"][0]["edgeId"] == "ed000000-0000-4000-8000-000000000003"
    assert masked["divisionIds"] == example["divisionIds"]
    assert agent["sessions"][0]["metrics"] == example["participants"][3]["sessions"][0]["metrics"]
    wrapup = agent["sessions"][0]["segments"][-1]
    assert wrapup["wrapUpCode"] == "3c000000-0000-4000-8000-000000000001"
    assert wrapup["wrapUpNote"] == REDACTED
    assert wrapup["queueId"] == "9a000000-0000-4000-8000-000000000001"


def test_input_is_not_modified(example: dict[str, Any]) -> None:
    before = copy.deepcopy(example)
    _masker().mask_conversation(example)
    assert example == before


def test_prefix_is_derived_before_truncation(example: dict[str, Any]) -> None:
    customer, ivr, _acd, agent = _sessions(_masker().mask_conversation(example))
    assert (customer["ani"], customer["aniPrefix"]) == ("0100", "1555")
    assert (customer["dnis"], customer["dnisPrefix"]) == ("0199", "1800")
    assert (customer["sessionDnis"], customer["sessionDnisPrefix"]) == ("0199", "1800")
    # The agent leg's sessionDnis is a SIP URI: last 4 digits of its user part, no prefix.
    assert agent["sessionDnis"] == "4567"
    assert "sessionDnisPrefix" not in agent
    assert ivr["flow"]["entryReason"] == REDACTED
    assert ivr["flow"]["transferTargetAddress"] == REDACTED
    assert ivr["remote"] == REDACTED


def test_protocol_call_id_is_the_keyed_hmac(example: dict[str, Any]) -> None:
    masker = _masker()
    customer = _sessions(masker.mask_conversation(example))[0]
    clear = "ca110000-0000-4000-8000-000000000001"
    assert customer["protocolCallId"] == _expected_hmac(clear) == masker.hmac(clear)
    assert masker.hmac(clear) == masker.hmac(clear).lower()
    other_key = Masker.from_settings(_settings("another-key"), env={})
    assert other_key.hmac(clear) != masker.hmac(clear)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("tel:+15555550100", ("0100", "1555")),
        ("+15555550100", ("0100", "1555")),
        ("TEL:+1-555-555-0100;ext=12", ("0100", "1555")),
        ("tel:+34612345678", ("5678", "3461")),
        ("5555550100", ("0100", None)),  # bare national number: no prefix
        ("sip:+15555550100@carrier.example;user=phone", ("0100", "1555")),  # E.164 user part
        ("sip:5550100;phone-context=+1317@carrier.example", ("0100", None)),
        ("tel:+15555550100;ext=123", ("0100", "1555")),  # the extension is not the number
        ("sip:agent%40example.com@localhost", ("REDACTED", None)),
        ("anonymous", ("REDACTED", None)),
        ("", ("REDACTED", None)),
        ("tel:+123", ("123", "123")),
    ],
)
def test_mask_number(value: str, expected: tuple[str, str | None]) -> None:
    assert _masker().mask_number(value) == expected


def test_prefix_digits_is_not_a_policy_setting(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("prefix_digits: 6\n")
    with pytest.raises(ConfigError, match=r"genesys_prefix_digits in dbt_project\.yml"):
        _masker(policy)


# The org's pool +13175550100..+13175550199 and one DID of another country.
ORG = OrgNumbers.build(ranges=[("+13175550100", "+13175550199")], numbers=["+442079460000"])


def _org_masker(policy: Path | None = None) -> Masker:
    return Masker.from_settings(_settings(), policy, env={}, org_numbers=ORG)


def _numbers_conversation(number: str) -> dict[str, Any]:
    """`number` in every field of the default policy that masks numbers with last4."""
    return {
        "conversationId": "c1",
        "participants": [
            {
                "purpose": "customer",
                "participantName": number,
                "sessions": [
                    {
                        "ani": number,
                        "dnis": number,
                        "sessionDnis": number,
                        "callbackNumbers": [number, "tel:+15555550101"],
                        "remote": number,
                    }
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    "number",
    ["tel:+13175550100", "tel:+13175550199", "+13175550142", "tel:+442079460000"],
)
def test_org_number_stays_in_clear_in_every_last4_field(number: str) -> None:
    masked = _org_masker().mask_conversation(_numbers_conversation(number))
    session = masked["participants"][0]["sessions"][0]
    for field in ("ani", "dnis", "sessionDnis"):
        assert session[field] == number, field
        # the rating prefix sibling is written as for any E.164 number
        assert session[field + "Prefix"] == _NON_DIGITS.sub("", number)[:4], field
    assert session["callbackNumbers"] == [number, "0101"]
    # redact fields stay redacted: only `last4` fields know numbers
    assert session["remote"] == REDACTED
    assert masked["participants"][0]["participantName"] == REDACTED


@pytest.mark.parametrize(
    "number",
    [
        "tel:+13175550200",  # same first 8 digits as the pool, outside it
        "tel:+13175550099",  # just below the pool
        "tel:+1317555010",  # the pool's leading digits, one digit short
        "tel:+131755501000",  # a pool number with one more digit
        "tel:+442079460001",  # next to the org's single DID
        "3175550150",  # an org number written nationally: not E.164, cut (never kept by guess)
    ],
)
def test_customer_number_sharing_org_digits_is_cut(number: str) -> None:
    masked = _org_masker().mask_conversation(_numbers_conversation(number))
    session = masked["participants"][0]["sessions"][0]
    digits = _NON_DIGITS.sub("", number)
    for field in ("ani", "dnis", "sessionDnis"):
        assert session[field] == digits[-4:], field
    assert session["callbackNumbers"] == [digits[-4:], "0101"]
    assert digits not in json.dumps(masked)


def test_mask_number_reports_the_org_number() -> None:
    assert mask_number("tel:+13175550123", ORG) == MaskedNumber("0123", "1317", "13175550123")
    assert mask_number("tel:+13175550223", ORG) == MaskedNumber("0223", "1317", None)
    assert mask_number("tel:+13175550123") == MaskedNumber("0123", "1317", None)  # no org given
    assert mask_number("anonymous", ORG) == MaskedNumber(REDACTED, None, None)
    assert _org_masker().number("tel:+442079460000").org_number == "442079460000"
    # the old two-field API keeps its shape
    assert _org_masker().mask_number("tel:+13175550123") == ("0123", "1317")


def test_policy_org_numbers_add_to_the_pools(tmp_path: Path) -> None:
    policy = _policy(tmp_path, 'org_numbers: ["+15555550100", " +16125550000 "]\n')
    masker = _org_masker(policy)
    session = masker.mask_conversation(_numbers_conversation("tel:+15555550100"))
    assert session["participants"][0]["sessions"][0]["ani"] == "tel:+15555550100"
    assert masker.number("+16125550000").org_number == "16125550000"
    assert masker.number("tel:+13175550100").org_number == "13175550100"  # the pools still count
    assert _masker(policy).number("tel:+15555550100").org_number == "15555550100"  # no pools
    assert load_policy(policy).org_numbers == ("+15555550100", "+16125550000")


@pytest.mark.parametrize(
    "text",
    ["org_numbers: +15555550100\n", "org_numbers: [15555550100]\n", 'org_numbers: ["5550100"]\n'],
)
def test_invalid_org_numbers_is_a_config_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="org_numbers"):
        _masker(_policy(tmp_path, text))


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(text)
    return path


def test_every_action(tmp_path: Path) -> None:
    policy = _policy(
        tmp_path,
        """
levels:
  conversation:
    externalTag: keep
    knowledgeBaseIds: redact
    associatedConversationId: hmac
    accessAttributes: drop
  session:
    callbackNumbers: last4
    remote: keep
""",
    )
    conv = {
        "conversationId": "c1",
        "externalTag": "ticket-1",
        "knowledgeBaseIds": ["kb1", "kb2"],
        "associatedConversationId": "c0",
        "accessAttributes": ["secret"],
        "participants": [
            {
                "attributes": {"a": "x", "n": 7, "flag": True},
                "sessions": [{"callbackNumbers": ["tel:+15555550101", "n/a"], "remote": "Bob"}],
            }
        ],
    }
    masked = _masker(policy).mask_conversation(conv)
    assert masked["externalTag"] == "ticket-1"  # keep (overrides the default's redact)
    assert masked["knowledgeBaseIds"] == [REDACTED, REDACTED]  # redact, element-wise
    assert masked["associatedConversationId"] == _expected_hmac("c0")  # hmac
    assert "accessAttributes" not in masked  # drop
    attributes = masked["participants"][0]["attributes"]
    assert attributes == {"a": REDACTED, "n": REDACTED, "flag": True}  # map keys stay
    session = masked["participants"][0]["sessions"][0]
    assert session["callbackNumbers"] == ["0101", REDACTED]  # last4, element-wise
    assert session["remote"] == "Bob"


def test_unknown_fields_are_tolerated() -> None:
    conv = {
        "conversationId": "c1",
        "brandNewField": {"nested": [1, 2]},
        "participants": [
            {
                "purpose": "someNewPurpose",
                "attributes": {"newFlowVariable": "jane@example.com"},
                "sessions": [
                    {
                        "mediaType": "hologram",
                        "futureField": "kept",
                        "protocolCallId": "abc@10.0.0.1",
                        "segments": [{"segmentType": "teleport", "futureSegmentField": 3}],
                        "flow": {"futureFlowField": "x"},
                    }
                ],
            }
        ],
    }
    masked = _masker().mask_conversation(conv)
    assert masked["brandNewField"] == {"nested": [1, 2]}
    participant = masked["participants"][0]
    assert participant["purpose"] == "someNewPurpose"
    assert participant["attributes"] == {"newFlowVariable": REDACTED}
    session = participant["sessions"][0]
    assert session["futureField"] == "kept"
    assert session["protocolCallId"] == _expected_hmac("abc@10.0.0.1")
    assert session["segments"] == [{"segmentType": "teleport", "futureSegmentField": 3}]
    assert session["flow"] == {"futureFlowField": "x"}


def test_malformed_containers_are_masked_not_crashed() -> None:
    masked = _masker().mask_conversation(
        {"participants": [{"attributes": "free text", "sessions": ["oops"]}, "junk"]}
    )
    assert masked["participants"][0]["attributes"] == REDACTED
    assert masked["participants"][0]["sessions"] == [REDACTED]
    assert masked["participants"][1] == REDACTED


def test_mask_entity() -> None:
    masker = _masker()
    user = {
        "id": "a9000000-0000-4000-8000-000000000001",
        "name": "Alex Agent",
        "email": "alex.agent@example.com",
        "username": "alex.agent@example.com",
        "primaryContactInfo": [{"address": "alex.agent@example.com"}],
        "division": {"id": "d1", "name": "Home"},
        "department": "Support",
    }
    masked = masker.mask_entity("users", user)
    assert masked["name"] == REDACTED
    assert "email" not in masked and "username" not in masked
    assert "primaryContactInfo" not in masked
    assert masked["division"] == {"id": "d1", "name": "Home"}
    assert "alex" not in json.dumps(masked).lower()
    queue = {"id": "q1", "name": "Support - Tier 1", "division": {"id": "d1"}}
    assert masker.mask_entity("queues", queue) == queue
    with pytest.raises(ValueError, match="unknown entity kind"):
        masker.mask_entity("participant", {})


def test_missing_key_with_hmac_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        Masker.from_settings(_settings(None), env={})
    message = str(info.value)
    assert "GENESYS_FINANCE_HMAC_KEY" in message
    assert "session.protocolCallId" in message
    assert HMAC_TEST_KEY not in message


def test_direct_construction_also_refuses_hmac_without_key() -> None:
    with pytest.raises(ConfigError, match="GENESYS_FINANCE_HMAC_KEY is not set"):
        Masker(load_policy(), None)


def test_policy_without_hmac_needs_no_key(tmp_path: Path) -> None:
    hmac_fields = [name.split(".") for name in load_policy().uses_hmac()]
    lines = ["levels:"]
    for level in sorted({level for level, _ in hmac_fields}):
        lines.append(f"  {level}:")
        lines += [f"    {name}: redact" for lvl, name in hmac_fields if lvl == level]
    masker = _masker(_policy(tmp_path, "\n".join(lines) + "\n"), key=None)
    assert masker.mask_conversation({"participants": [{"sessions": [{"protocolCallId": "x"}]}]})
    with pytest.raises(ConfigError, match="GENESYS_FINANCE_HMAC_KEY"):
        masker.hmac("x")


def test_policy_path_from_env_and_flag(tmp_path: Path) -> None:
    env_policy = tmp_path / "env.yml"
    env_policy.write_text("levels:\n  attributes:\n    ivr.menuSelection: keep\n")
    flag_policy = tmp_path / "flag.yml"
    flag_policy.write_text("levels:\n  attributes:\n    accountNumber: keep\n")
    conv = {
        "participants": [{"attributes": {"ivr.menuSelection": "billing", "accountNumber": "1"}}]
    }
    env = {POLICY_ENV: str(env_policy)}

    from_env = Masker.from_settings(_settings(), env=env).mask_conversation(conv)
    assert from_env["participants"][0]["attributes"] == {
        "ivr.menuSelection": "billing",
        "accountNumber": REDACTED,
    }
    from_flag = Masker.from_settings(_settings(), flag_policy, env=env).mask_conversation(conv)
    assert from_flag["participants"][0]["attributes"] == {
        "ivr.menuSelection": REDACTED,
        "accountNumber": "1",
    }


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("levels:\n  session:\n    ani: scramble\n", r"session\.ani: unknown action 'scramble'"),
        ("levels:\n  sessions:\n    ani: redact\n", "unknown level 'sessions'"),
        ("levels: [1, 2]\n", "`levels` must be a mapping"),
        ("levels: {session: {ani: [\n", "not valid YAML"),
    ],
)
def test_invalid_policy_is_a_config_error(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _masker(_policy(tmp_path, text))


def test_missing_policy_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        _masker(tmp_path / "nope.yml")


def test_default_policy_covers_the_pii_fields() -> None:
    levels = load_policy().levels
    expected = {
        "participant": ["participantName", "externalContactId", "externalOrganizationId"],
        "attributes": ["*"],
        "session": [
            "ani",
            "dnis",
            "sessionDnis",
            "remote",
            "remoteNameDisplayable",
            "callbackNumbers",
            "callbackUserName",
            "addressFrom",
            "addressTo",
            "addressSelf",
            "addressOther",
            "cc",
            "bcc",
            "destinationAddresses",
            "screenShareAddressSelf",
            "videoAddressSelf",
            "journeyCustomerId",
            "journeyCustomerSessionId",
            "outboundContactId",
            "protocolCallId",
        ],
        "flow": ["entryReason", "transferTargetAddress", "transferTargetName"],
        "segment": ["wrapUpNote", "subject"],
        "users": ["name", "email"],
    }
    for level, fields in expected.items():
        for name in fields:
            assert levels[level].get(name, "keep") != "keep", f"{level}.{name} is not masked"
    assert levels["session"]["protocolCallId"] == "hmac"
    for name in ("userId", "teamId"):
        assert levels["participant"][name] == "keep"
    assert levels["session"]["edgeId"] == "keep"


def test_generated_conversations_keep_no_clear_pii() -> None:
    generator = pytest.importorskip("genesys_sim.generator")
    gen = generator.ConversationGenerator(
        seed=11, start=date(2024, 3, 1), end=date(2024, 3, 4), conversations_per_day=40
    )
    masker = _masker()
    checked = 0
    for offset in range(3):
        for conv in gen.conversations_for_day(date(2024, 3, 1) + timedelta(days=offset)):
            masked = json.dumps(masker.mask_conversation(conv))
            leaked = sorted(v for v in gen.pii_values(conv) if v and v in masked)
            assert leaked == [], f"{conv['conversationId']}: {len(leaked)} PII values survived"
            checked += 1
    assert checked > 0
    users = gen.users()
    masked_users = json.dumps([masker.mask_entity("users", user) for user in users])
    clear = {user[key] for user in users for key in ("name", "email") if user.get(key)}
    assert clear and not [value for value in clear if value in masked_users]
