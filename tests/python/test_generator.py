"""The simulator's conversation generator: determinism, API shape (reference §7), metric identities,
overlap selection (§3.7), realistic mix, and clear PII (so masking tests mean something)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from genesys_sim.catalog import EDGE_CARRIERS
from genesys_sim.generator import ConversationGenerator
from genesys_sim.shapes import parse_iso_ms

NOW = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIME_KEYS = {
    "conversationStart",
    "conversationEnd",
    "segmentStart",
    "segmentEnd",
    "emitDate",
    "eventTime",
    "callbackScheduledTime",
    "conferenceStart",
}
KNOWN_SEGMENT_TYPES = {
    "alert", "barging", "callback", "coaching", "contacting", "converting", "delay", "dialing",
    "hold", "interact", "ivr", "monitoring", "parked", "scheduled", "screenmonitoring", "sharing",
    "system", "transmitting", "unknown", "uploading", "voicemail", "wrapup",
}  # fmt: skip
Json = dict[str, Any]


class CachedGenerator(ConversationGenerator):
    """Builds each day once per test module (`iter_conversations` goes through this method)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._days: dict[date, list[Json]] = {}

    def conversations_for_day(self, day: date) -> list[Json]:
        if day not in self._days:
            self._days[day] = super().conversations_for_day(day)
        return self._days[day]


@pytest.fixture(scope="module")
def gen() -> ConversationGenerator:
    return CachedGenerator(7, date(2024, 5, 1), date(2024, 6, 1), 250, now=NOW)


@pytest.fixture(scope="module")
def sample(gen: ConversationGenerator) -> list[Json]:
    """A week of conversations, including the ongoing ones of `NOW`'s day."""
    out: list[Json] = []
    for d in range(14, 21):
        out.extend(gen.conversations_for_day(date(2024, 5, d)))
    return out


def sessions(conv: Json) -> Iterator[tuple[Json, Json]]:
    for p in conv["participants"]:
        for s in p["sessions"]:
            yield p, s


def metric_sum(session: Json, name: str) -> int:
    return sum(m["value"] for m in session.get("metrics", ()) if m["name"] == name)


def seg_len(session: Json, kind: str) -> int:
    return sum(
        parse_iso_ms(s["segmentEnd"]) - parse_iso_ms(s["segmentStart"])
        for s in session["segments"]
        if s["segmentType"] == kind and "segmentEnd" in s
    )


def walk(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    yield key, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v, key)


# -- determinism and streaming --------------------------------------------------------------------
def test_same_seed_same_json_different_seed_differs() -> None:
    day = date(2024, 5, 14)
    a = ConversationGenerator(7, date(2024, 5, 1), date(2024, 6, 1), 100, now=NOW)
    b = ConversationGenerator(7, date(2024, 5, 1), date(2024, 6, 1), 100, now=NOW)
    c = ConversationGenerator(8, date(2024, 5, 1), date(2024, 6, 1), 100, now=NOW)
    b.conversations_for_day(date(2024, 5, 15))  # order of calls must not matter
    assert json.dumps(a.conversations_for_day(day)) == json.dumps(b.conversations_for_day(day))
    assert json.dumps(a.users()) == json.dumps(b.users())
    assert json.dumps(a.conversations_for_day(day)) != json.dumps(c.conversations_for_day(day))
    assert a.queues() != c.queues()


def test_days_outside_range_are_empty(gen: ConversationGenerator) -> None:
    assert gen.conversations_for_day(date(2024, 4, 30)) == []
    assert gen.conversations_for_day(date(2024, 6, 1)) == []


def test_now_cuts_the_day_and_leaves_ongoing_conversations(gen: ConversationGenerator) -> None:
    today = gen.conversations_for_day(NOW.date())
    now_ms = parse_iso_ms("2024-05-20T12:00:00.000Z")
    assert today and all(parse_iso_ms(c["conversationStart"]) < now_ms for c in today)
    ongoing = [c for c in today if "conversationEnd" not in c]
    assert ongoing, "conversations running at `now` must be generated"
    for conv in ongoing:
        open_segments = [
            g for _, s in sessions(conv) for g in s["segments"] if "segmentEnd" not in g
        ]
        assert open_segments
        for _, value in walk(conv):
            if isinstance(value, str) and ISO.match(value):
                assert parse_iso_ms(value) <= now_ms
        for _, s in sessions(conv):
            still_open = [g for g in s["segments"] if "segmentEnd" not in g]
            if still_open:
                names = {m["name"] for m in s.get("metrics", ())}
                assert not names & {"tHandle", "tAcw"}, "only after wrap-up"
                if still_open[0]["segmentType"] == "interact":
                    assert not names & {"tConnected", "tTalkComplete"}


def test_later_now_completes_the_same_conversations() -> None:
    early = ConversationGenerator(7, date(2024, 5, 1), date(2024, 6, 1), 250, now=NOW)
    late = ConversationGenerator(
        7, date(2024, 5, 1), date(2024, 6, 1), 250, now=NOW + timedelta(days=9)
    )
    ids_early = [c["conversationId"] for c in early.conversations_for_day(NOW.date())]
    full = late.conversations_for_day(NOW.date())
    assert all("conversationEnd" in c for c in full)
    assert ids_early == [c["conversationId"] for c in full][: len(ids_early)]


# -- shape ----------------------------------------------------------------------------------------
def test_no_nulls_iso_times_integer_metrics(sample: list[Json]) -> None:
    for conv in sample:
        assert UUID.match(conv["conversationId"])
        assert conv["originatingDirection"] in ("inbound", "outbound")
        assert isinstance(conv["divisionIds"], list) and conv["divisionIds"]
        for key, value in walk(conv):
            assert value is not None, key
            if key in TIME_KEYS and not isinstance(value, list):
                assert isinstance(value, str) and ISO.match(value), (key, value)
        for p, s in sessions(conv):
            assert UUID.match(p["participantId"]) and UUID.match(s["sessionId"])
            assert s["segments"], "every session has at least one segment"
            for m in s.get("metrics", ()):
                assert set(m) == {"emitDate", "name", "value"}
                assert type(m["value"]) is int and m["value"] >= 0
            previous_end = conv["conversationStart"]
            for g in s["segments"]:  # sequential, inside the conversation
                assert isinstance(g["conference"], bool)
                assert g["segmentStart"] >= previous_end
                previous_end = g.get("segmentEnd", "9999")
                assert previous_end >= g["segmentStart"]
                assert previous_end <= conv.get("conversationEnd", "9999")


def test_metric_identities(sample: list[Json]) -> None:
    checked = Counter[str]()
    for conv in sample:
        tacd = {metric_sum(s, "tAcd") for p, s in sessions(conv) if p["purpose"] == "acd"}
        for p, s in sessions(conv):
            names = {m["name"] for m in s.get("metrics", ())}
            if "tHandle" in names:
                handle = metric_sum(s, "tHandle")
                parts = sum(metric_sum(s, n) for n in ("tTalkComplete", "tHeldComplete", "tAcw"))
                assert handle == parts
                checked["tHandle"] += 1
            if "tTalkComplete" in names:
                assert metric_sum(s, "tTalkComplete") == metric_sum(s, "tTalk")
                assert (
                    metric_sum(s, "tHeldComplete") == metric_sum(s, "tHeld") == seg_len(s, "hold")
                )
            if "tAlert" in names:
                assert metric_sum(s, "tAlert") == seg_len(s, "alert")
            if "tAcw" in names:
                assert metric_sum(s, "tAcw") == seg_len(s, "wrapup")
            if "tConnected" in names:
                assert metric_sum(s, "tConnected") == seg_len(s, "interact")
                checked["tConnected"] += 1
            if "tIvr" in names:
                assert metric_sum(s, "tIvr") == seg_len(s, "ivr")
            if "tAnswered" in names:
                assert metric_sum(s, "tAnswered") in tacd
                checked["tAnswered"] += 1
            if "nError" in names:
                assert "tNotResponding" in names and "tTalk" not in names
                assert metric_sum(s, "tHandle") == metric_sum(s, "tAcw")
                assert any(g.get("errorCode") for g in s["segments"])
                checked["nError"] += 1
            if p["purpose"] == "agent" and "tTalk" in names:
                talks = [m for m in s["metrics"] if m["name"] == "tTalk"]
                # An ongoing call's open interact segment has no tTalk yet.
                ended = [
                    g
                    for g in s["segments"]
                    if g["segmentType"] == "interact" and g.get("segmentEnd")
                ]
                assert len(talks) == len(ended)
    assert min(checked.values()) > 5 and len(checked) == 4


def test_call_ids_voice_only_and_distinct(sample: list[Json]) -> None:
    seen: set[str] = set()
    carrier_legs = 0
    for conv in sample:
        for p, s in sessions(conv):
            if s["mediaType"] == "voice" and p["purpose"] != "campaign":
                assert s["protocolCallId"] not in seen
                seen.add(s["protocolCallId"])
            elif s["mediaType"] != "voice":
                assert "protocolCallId" not in s and "edgeId" not in s
            if s["mediaType"] == "voice" and p["purpose"] in ("customer", "external"):
                carrier_legs += 1
                assert s["edgeId"] in EDGE_CARRIERS
                assert s["ani"].startswith("tel:+") and s["dnis"].startswith("tel:+")
                assert s["direction"] in ("inbound", "outbound")
    assert carrier_legs > 500
    assert any("@" in c for c in seen), "some Call-IDs take the id@host form"


def test_realistic_mix(sample: list[Json]) -> None:
    purposes = Counter(p["purpose"] for c in sample for p in c["participants"])
    media = Counter(s["mediaType"] for c in sample for _, s in sessions(c))
    segtypes = Counter(
        g["segmentType"] for c in sample for _, s in sessions(c) for g in s["segments"]
    )
    disconnects = Counter(
        g.get("disconnectType") for c in sample for _, s in sessions(c) for g in s["segments"]
    )
    metrics = Counter(
        m["name"] for c in sample for _, s in sessions(c) for m in s.get("metrics", ())
    )
    for purpose in ("customer", "ivr", "acd", "agent", "external", "campaign"):
        assert purposes[purpose] > 0, purpose
    for m in ("voice", "chat", "email", "message", "callback"):
        assert media[m] > 0, m
    for t in (
        "system",
        "ivr",
        "delay",
        "alert",
        "interact",
        "hold",
        "wrapup",
        "dialing",
        "contacting",
        "callback",
        "scheduled",
    ):
        assert segtypes[t] > 0, t
    assert set(segtypes) - KNOWN_SEGMENT_TYPES, "an unknown segmentType must appear"
    assert disconnects["transfer"] and disconnects["consultTransfer"]
    for name in (
        "nBlindTransferred",
        "nConsultTransferred",
        "tAbandon",
        "tFlowDisconnect",
        "nError",
    ):
        assert metrics[name] > 0, name
    assert any(g.get("conference") for c in sample for _, s in sessions(c) for g in s["segments"])
    outbound = [c for c in sample if c["originatingDirection"] == "outbound"]
    assert 0.05 < len(outbound) / len(sample) < 0.4
    dialer = [s for c in sample for _, s in sessions(c) if "outboundCampaignId" in s]
    assert {s.get("dispositionName", "").rsplit(".", 1)[-1] for s in dialer} >= {"live", "machine"}


def test_long_emails_bounded_by_max_span(gen: ConversationGenerator, sample: list[Json]) -> None:
    span_ms = gen.max_conversation_span.total_seconds() * 1000
    spans = [
        parse_iso_ms(c["conversationEnd"]) - parse_iso_ms(c["conversationStart"])
        for c in sample
        if "conversationEnd" in c
    ]
    assert max(spans) <= span_ms
    assert any(s > 86_400_000 for s in spans), "some email threads last more than a day"


def test_weekday_and_hour_profile(gen: ConversationGenerator) -> None:
    counts = {d: len(gen.conversations_for_day(date(2024, 5, d))) for d in range(1, 15)}
    weekdays = [n for d, n in counts.items() if date(2024, 5, d).weekday() < 5]
    sundays = [n for d, n in counts.items() if date(2024, 5, d).weekday() == 6]
    assert min(weekdays) > 2 * max(sundays)
    assert 200 < sum(counts.values()) / 14 < 300  # conversations_per_day is the average
    hours = Counter(
        c["conversationStart"][11:13] for c in gen.conversations_for_day(date(2024, 5, 14))
    )
    assert hours["10"] > 5 * hours["03"]


def test_dimensions_and_references(gen: ConversationGenerator, sample: list[Json]) -> None:
    divisions = {d["id"] for d in gen.divisions()}
    assert 2 <= len(divisions) <= 3
    assert len(gen.queues()) >= 6 and len(gen.wrapup_codes()) >= 8 and len(gen.users()) >= 30
    for entity in (*gen.queues(), *gen.users(), *gen.wrapup_codes()):
        assert entity["division"]["id"] in divisions and entity["name"] and UUID.match(entity["id"])
    assert all("@" in u["email"] for u in gen.users())
    queues = {q["id"] for q in gen.queues()}
    users = {u["id"] for u in gen.users()}
    codes = {w["id"] for w in gen.wrapup_codes()}
    for conv in sample:
        assert set(conv["divisionIds"]) <= divisions
        for p, s in sessions(conv):
            if "userId" in p:
                assert p["userId"] in users
            for g in s["segments"]:
                assert g.get("queueId", next(iter(queues))) in queues
                code = g.get("wrapUpCode")
                assert code is None or code in codes or code.startswith("ININ-")


# -- overlap selection ----------------------------------------------------------------------------
def _expected(gen: ConversationGenerator, lo: datetime, hi: datetime, day_match: bool) -> list[str]:
    lo_ms, hi_ms = int(lo.timestamp() * 1000), int(hi.timestamp() * 1000)
    now_ms = int(NOW.timestamp() * 1000)
    floor = lo_ms - lo_ms % 86_400_000
    out = []
    d = gen.start
    while d < gen.end:
        for c in gen.conversations_for_day(d):
            start = parse_iso_ms(c["conversationStart"])
            end = parse_iso_ms(c["conversationEnd"]) if "conversationEnd" in c else now_ms
            if start < hi_ms and end >= lo_ms and (not day_match or start >= floor):
                out.append(c["conversationId"])
        d += timedelta(days=1)
    return out


@pytest.mark.parametrize(
    ("lo", "hi"),
    [
        (datetime(2024, 5, 10, tzinfo=UTC), datetime(2024, 5, 11, tzinfo=UTC)),
        (datetime(2024, 5, 9, 23, 50, tzinfo=UTC), datetime(2024, 5, 10, 0, 20, tzinfo=UTC)),
        (datetime(2024, 5, 12, 13, 0, tzinfo=UTC), datetime(2024, 5, 12, 14, 0, tzinfo=UTC)),
        (datetime(2024, 5, 20, 11, 0, tzinfo=UTC), datetime(2024, 5, 21, tzinfo=UTC)),
    ],
)
def test_iter_conversations_overlap_rule(
    gen: ConversationGenerator, lo: datetime, hi: datetime
) -> None:
    for day_match in (False, True):
        got = [c["conversationId"] for c in gen.iter_conversations(lo, hi, day_match)]
        assert got == _expected(gen, lo, hi, day_match)
    plain = [c["conversationId"] for c in gen.iter_conversations(lo, hi)]
    matched = [c["conversationId"] for c in gen.iter_conversations(lo, hi, True)]
    assert set(matched) <= set(plain)


def test_day_matching_drops_conversations_started_before_the_day(
    gen: ConversationGenerator,
) -> None:
    lo, hi = datetime(2024, 5, 10, tzinfo=UTC), datetime(2024, 5, 11, tzinfo=UTC)
    plain = {c["conversationId"]: c for c in gen.iter_conversations(lo, hi)}
    matched = {c["conversationId"] for c in gen.iter_conversations(lo, hi, True)}
    carried = [c for i, c in plain.items() if i not in matched]
    assert carried, "conversations started before the day and still running must exist"
    assert all(c["conversationStart"] < "2024-05-10" for c in carried)


# -- PII ------------------------------------------------------------------------------------------
def test_pii_in_clear_and_inventory_complete(
    gen: ConversationGenerator, sample: list[Json]
) -> None:
    everything: set[str] = set()
    for conv in sample:
        values = gen.pii_values(conv)
        text = json.dumps(conv)
        for value in values:
            assert value in text or json.dumps(value)[1:-1] in text, value
        call_ids = {s["protocolCallId"] for _, s in sessions(conv) if "protocolCallId" in s}
        assert call_ids <= values
        everything |= values
    prefixes = {v[:5] for v in everything if v.startswith("+")}
    for prefix in ("+1876", "+4477", "+346", "+1800", "+349"):
        assert any(p.startswith(prefix[:5]) for p in prefixes), prefix
    assert any(v.startswith("tel:+") for v in everything)
    assert any(v.isdigit() and len(v) >= 11 for v in everything)
    assert any(re.match(r"^[^@\s]+@[^@\s]+\.[a-z]+$", v) for v in everything), "emails"
    assert any(v.startswith("AC-") for v in everything), "account numbers"
    assert any(v.startswith("(") and ") " in v for v in everything), "numbers typed in notes"
    notes = [
        g["wrapUpNote"]
        for c in sample
        for _, s in sessions(c)
        for g in s["segments"]
        if "wrapUpNote" in g
    ]
    assert notes and all(n in everything for n in notes)
    names = {u["name"] for u in gen.users()}
    assert names & everything, "agent names are PII too"


def test_pii_fields_populated(sample: list[Json]) -> None:
    keys = Counter(k for c in sample for k, _ in walk(c))
    for key in (
        "participantName",
        "ani",
        "dnis",
        "sessionDnis",
        "remote",
        "remoteNameDisplayable",
        "addressFrom",
        "addressTo",
        "wrapUpNote",
        "attributes",
        "destinationAddresses",
        "callbackNumbers",
        "callbackUserName",
        "externalContactId",
        "subject",
        "outboundContactId",
        "entryReason",
    ):
        assert keys[key] > 0, key
