"""Odd conversation payloads never crash the extractor: the unusable ones are quarantined with
their reason (no payload), the others load, and received = loaded + quarantined.

Property-based: hypothesis mutates the simulator's own conversation shapes (missing, null,
wrongly typed, oversized and unknown fields and values) and feeds pages through the extractor's
screen, mask and load-file steps. End to end: the simulator serves a fixed set of odd payloads
over HTTP and `run_extract` loads them into both warehouses.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import genesys_sim.store
from genesys_finance import cli
from genesys_finance.loadfiles import conversations_table, write_load_file
from genesys_finance.masking import Masker, load_policy
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.quarantine import QuarantinedConversation, screened, unusable_reason
from genesys_finance.runner import ExtractOptions, run_extract
from genesys_finance.settings import Settings
from genesys_finance.warehouse import query
from genesys_sim.carrier import write_cdr_files
from genesys_sim.generator import ConversationGenerator
from genesys_sim.shapes import pii_values
from sim_fixtures import StartSimulator
from test_extract_support import cli_env

DAY = date(2024, 5, 2)
BIG = "9" * 200_000  # an oversized value (a long run of digits: it also looks like a number)


@functools.cache
def generator() -> ConversationGenerator:
    return ConversationGenerator(
        seed=3,
        start=DAY,
        end=date(2024, 5, 3),
        conversations_per_day=6,
        now=datetime(2024, 6, 1, tzinfo=UTC),
    )


@functools.cache
def base_conversations() -> tuple[dict[str, Any], ...]:
    return tuple(generator().conversations_for_day(DAY))


@functools.cache
def masker() -> Masker:
    gen = generator()
    ranges = [(p["startPhoneNumber"], p["endPhoneNumber"]) for p in gen.did_pools()]
    org = OrgNumbers.build(ranges, [d["phoneNumber"] for d in gen.dids()])
    return Masker(load_policy(), b"test-hmac-key", org)


def _slots(value: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key or index) inside a JSON value, parents before children."""
    if isinstance(value, dict):
        for key, child in value.items():
            out.append((value, key))
            _slots(child, out)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.append((value, index))
            _slots(child, out)
    return out


ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has neither: the API cannot send them
    st.text(max_size=12),
    st.just(BIG),
    st.just("2024-05-02T25:61:00Z"),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3),
)
OPS = ("delete", "replace", "unknown_field")


@st.composite
def odd_conversation(draw: st.DrawFn) -> Any:
    """A simulator conversation with 1..4 mutations anywhere, or now and then not an object."""
    if draw(st.integers(0, 19)) == 0:
        return draw(ODD_VALUES)
    conversation = copy.deepcopy(draw(st.sampled_from(base_conversations())))
    for _ in range(draw(st.integers(1, 4))):
        slots = _slots(conversation, [(None, None)])
        if draw(st.booleans()):  # half the time a top-level field (id, start, end, ...)
            slots = [(conversation, key) for key in conversation] or slots
        container, key = draw(st.sampled_from(slots))
        op = draw(st.sampled_from(OPS))
        if container is None:  # the top level
            target: Any = conversation
            op = "unknown_field"
        elif op == "delete":
            del container[key]
            continue
        elif op == "replace":
            container[key] = draw(ODD_VALUES)
            continue
        else:
            target = container[key]
        if isinstance(target, dict):
            target[draw(st.text(min_size=1, max_size=8))] = draw(ODD_VALUES)
    return conversation


def run_page(page: list[Any]) -> tuple[Any, list[QuarantinedConversation]]:
    quarantined: list[QuarantinedConversation] = []
    # Through JSON, as the API delivers it (stdlib JSON writes any integer; the extractor's
    # decoder reads one past 64 bits as a float).
    decoded = [orjson.loads(json.dumps(c)) for c in page]
    usable = screened(iter(decoded), masker().mask_conversation, "job-1", 100, quarantined)
    table = conversations_table(usable, "job-1", datetime(2024, 6, 1, tzinfo=UTC))
    return table, quarantined


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(odd_conversation(), min_size=1, max_size=6))
def test_odd_pages_never_crash_and_counts_tie_out(tmp_path_factory: Any, odd: list[Any]) -> None:
    clean = [copy.deepcopy(c) for c in base_conversations()[:2]]
    page = [*odd, *clean]
    table, quarantined = run_page(page)

    # received = loaded + quarantined, and each conversation is in exactly one of them.
    assert table.num_rows + len(quarantined) == len(page)
    positions = [q.position for q in quarantined]
    assert len(set(positions)) == len(positions)
    assert all(100 <= p < 100 + len(page) for p in positions)
    assert all(q.reason and q.job_id == "job-1" for q in quarantined)
    # The unmutated conversations always load (their positions are the page's last two).
    assert not set(positions) & {100 + len(page) - 2, 100 + len(page) - 1}
    for position, conversation in enumerate(page, start=100):
        if unusable_reason(orjson.loads(json.dumps(conversation))) is not None:
            assert position in positions

    # What loads is masked: no clear PII of the conversations it came from.
    payloads = table.column("payload").to_pylist()
    pii = {v for c in base_conversations() for v in pii_values(c) if len(v) >= 5}
    assert not [v for v in pii if any(v in p for p in payloads)]

    # And the load files both warehouses import can be written and read back.
    directory = tmp_path_factory.mktemp("page")
    for file_format in ("csv", "parquet"):
        path = Path(directory) / f"page.{file_format}"
        write_load_file(table, path, file_format)
        assert path.stat().st_size > 0
    assert pq.read_table(Path(directory) / "page.parquet").num_rows == table.num_rows


# ------------------------------------------------------------------- end to end, both targets


def _first(conversation: dict[str, Any], *path: str) -> dict[str, Any]:
    """The first object down a path of lists (participants, sessions, segments or metrics)."""
    node = conversation
    for name in path:
        node = (node.get(name) or [{}])[0]
    return node


def _segment(conversation: dict[str, Any]) -> dict[str, Any]:
    return _first(conversation, "participants", "sessions", "segments")


def _second_session(conversation: dict[str, Any]) -> dict[str, Any]:
    """A session of a conversation's second participant (every simulated call has two)."""
    return conversation["participants"][1]["sessions"][0]


QUARANTINED_MUTATIONS = {
    "no_id": lambda c: c.pop("conversationId"),
    "null_id": lambda c: c.update(conversationId=None),
    "int_id": lambda c: c.update(conversationId=12345),
    "bad_start": lambda c: c.update(conversationStart="yesterday at noon"),
    "no_start": lambda c: c.pop("conversationStart"),
    "impossible_end": lambda c: c.update(conversationEnd="2024-13-45T10:00:00.000Z"),
    "naive_start": lambda c: c.update(conversationStart="2024-05-02T10:00:00"),
    "end_before_start": lambda c: c.update(conversationEnd="1970-01-01T00:00:00.000Z"),
    "nul_char": lambda c: c.update(x_note="a\u0000b"),
    # What the staging models' contracts need (each failed the dbt build before the screen).
    "unparseable_segment_start": lambda c: _segment(c).update(segmentStart="soon"),
    "no_segment_start": lambda c: _segment(c).pop("segmentStart"),
    "feb_30_segment_start": lambda c: _segment(c).update(segmentStart="2024-02-30T10:00:00Z"),
    "int_segment_end": lambda c: _segment(c).update(segmentEnd=1714651200000),
    "offset_16h_segment_end": lambda c: _segment(c).update(
        segmentEnd="2024-05-02T10:00:00.000+16:00"
    ),
    "segment_end_before_its_start": lambda c: _segment(c).update(
        segmentEnd="2001-05-02T10:00:00+02:00"
    ),
    "no_participant_id": lambda c: _first(c, "participants").pop("participantId"),
    "null_session_id": lambda c: _second_session(c).update(sessionId=None),
    "repeated_session_id": lambda c: _second_session(c).update(
        sessionId=_first(c, "participants", "sessions")["sessionId"]
    ),
    "session_not_an_object": lambda c: _first(c, "participants")["sessions"].append("x"),
    "metric_without_name": lambda c: _first(c, "participants", "sessions", "metrics").pop("name"),
}


LOADED_MUTATIONS = {
    "unknown_fields": lambda c: c.update(x_new={"nested": [1, "two", None]}, x_flag=True),
    "oversized_field": lambda c: c.update(x_blob=BIG),
    "null_participants": lambda c: c.update(participants=None),
    "empty_participants": lambda c: c.update(participants=[]),
    "int_division_ids": lambda c: c.update(divisionIds=[1, 2]),
    "null_sessions": lambda c: _first(c, "participants").update(sessions=None),
    "text_metric_value": lambda c: _first(c, "participants", "sessions", "metrics").update(
        value="lots"
    ),
    "unparseable_metric_emit_date": lambda c: _first(
        c, "participants", "sessions", "metrics"
    ).update(emitDate="later"),  # read by no model downstream of staging: loads, reads NULL
    "unknown_segment_type": lambda c: _first(c, "participants", "sessions", "segments").update(
        segmentType="x_new_kind"
    ),
    "int_ani": lambda c: _first(c, "participants", "sessions").update(ani=3175550123),
    "null_media_type": lambda c: _first(c, "participants", "sessions").update(mediaType=None),
    # Typed fields of the wrong type or out of range: the models read NULL (safe_* macros).
    "bool_min_mos": lambda c: c.update(mediaStatsMinConversationMos=True),
    "huge_min_r_factor": lambda c: c.update(mediaStatsMinConversationRFactor=1e30),
    "text_self_served": lambda c: c.update(selfServed="maybe"),
    "int_conference": lambda c: _segment(c).update(conference=5),
    "object_recording": lambda c: _first(c, "participants", "sessions").update(recording={}),
    "list_screen_recording": lambda c: _first(c, "participants").update(screenRecording=[1]),
    "text_sip_response_code": lambda c: _segment(c).update(sipResponseCodes=["ok"]),
}


def _served_day(original: Any, edit: Callable[[list[bytes]], None]) -> Any:
    """The simulator's day with its served payloads edited in place (its index of starts and
    ends is kept, so it still decides which jobs return them)."""

    def build_day(conversations: list[dict[str, Any]]) -> Any:
        data = original(conversations)
        edit(data.payloads)
        return data

    return build_day


def _full_shape(conversation: dict[str, Any]) -> bool:
    """Two participants with sessions, the first with segments and metrics: every mutation
    above finds what it changes."""
    participants = conversation.get("participants") or []
    return (
        len(participants) >= 2
        and all(p.get("sessions") for p in participants[:2])
        and bool(_first(conversation, "participants", "sessions").get("metrics"))
    )


def _apply_mutations(payloads: list[bytes]) -> None:
    mutations = [*QUARANTINED_MUTATIONS.values(), *LOADED_MUTATIONS.values()]
    slots = [i for i, p in enumerate(payloads) if _full_shape(orjson.loads(p))]
    assert len(slots) >= len(mutations), "the simulated day is too small for the mutations"
    for index, mutate in zip(slots, mutations, strict=False):
        conversation = orjson.loads(payloads[index])
        mutate(conversation)
        payloads[index] = orjson.dumps(conversation)


@pytest.fixture
def odd_simulator(simulator: StartSimulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    served = _served_day(genesys_sim.store.build_day, _apply_mutations)
    monkeypatch.setattr(genesys_sim.store, "build_day", served)
    return simulator(
        start=DAY, end=date(2024, 5, 3), conversations_per_day=60, prewarm=False, job_delay_s=0.1
    )


def _count(settings: Settings, sql: str) -> int:
    return int(query(settings, sql)[0][0])


def test_extract_quarantines_unusable_payloads(odd_simulator: Any, warehouse: Settings) -> None:
    sim = odd_simulator
    settings = Settings(
        **{**warehouse.__dict__, "api_url": sim.base_url, "login_url": sim.base_url}
    )
    options = ExtractOptions(
        poll_initial_s=0.05, quiet=True, page_size=7, skip_dimensions=True, chunk_days=1
    )
    received = len(sim.generator.conversations_for_day(DAY))
    summary = run_extract(settings, DAY, date(2024, 5, 3), options)

    loaded = _count(settings, "select count(*) from genesys_raw.conversations")
    quarantined = query(
        settings,
        "select job_id, position, conversation_id, reason from genesys_raw.conversation_quarantine",
    )
    assert len(quarantined) == len(QUARANTINED_MUTATIONS)
    assert summary.quarantined == len(QUARANTINED_MUTATIONS)
    assert summary.conversations == loaded == received - len(QUARANTINED_MUTATIONS)
    reasons = sorted(str(row[3]) for row in quarantined)
    assert any("conversationId" in r for r in reasons)
    assert any("conversationStart" in r for r in reasons)
    assert any("conversationEnd" in r for r in reasons)
    assert any("NUL" in r for r in reasons)
    for field in ("segmentStart", "segmentEnd", "participantId", "sessionId", "].name"):
        assert any(field in r for r in reasons), field
    assert any(r.endswith("not an object") for r in reasons)
    assert any(r.endswith("segmentEnd is before its segmentStart") for r in reasons)
    assert "conversationEnd is before its conversationStart" in reasons
    # The quarantine holds no payload: its only columns are the pointer and the reason.
    columns = query(
        settings,
        "select column_name from information_schema.columns "
        "where table_schema = 'genesys_raw' and table_name = 'conversation_quarantine'",
    )
    assert {str(c[0]) for c in columns} == {
        "job_id",
        "position",
        "conversation_id",
        "reason",
        "quarantined_at",
    }

    # Extracting the range again submits a new job: the conversations merge (no duplicate),
    # the quarantine records what that job received (one row per job and position).
    again = run_extract(settings, DAY, date(2024, 5, 3), options)
    assert again.quarantined == len(QUARANTINED_MUTATIONS)
    assert again.conversations + again.quarantined == received
    assert _count(settings, "select count(*) from genesys_raw.conversations") == loaded
    assert _count(
        settings,
        "select count(*) from (select distinct job_id, position "
        "from genesys_raw.conversation_quarantine) q",
    ) == len(QUARANTINED_MUTATIONS) * (1 + again.jobs_submitted)
    oversized = _count(
        settings,
        "select count(*) from genesys_raw.conversations "
        f"where length(cast(payload as text)) > {len(BIG)}",
    )
    assert oversized == 1


def test_dbt_build_survives_the_odd_payloads_that_load(
    odd_simulator: Any, warehouse: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = odd_simulator
    settings = Settings(
        **{**warehouse.__dict__, "api_url": sim.base_url, "login_url": sim.base_url}
    )
    for name, value in cli_env(settings).items():
        monkeypatch.setenv(name, value)
    # With CDRs: the whole run a user runs, so the finance models read the odd payloads' legs too
    # (a build without CDRs is test_dbt_build_without_cdrs.py).
    cdrs = write_cdr_files(sim.generator, DAY, date(2024, 5, 3), tmp_path / "cdrs", seed=3)
    status = cli.main(
        [
            "run",
            "--start", DAY.isoformat(),
            "--end", "2024-05-03",
            "--quiet",
            "--poll-interval", "0.1",
            "--cdrs", *map(str, cdrs.cdr_paths),
            "--dbt-target-path", str(tmp_path / "dbt-target"),
        ]
    )  # fmt: skip
    assert status == 0
    received = len(sim.generator.conversations_for_day(DAY))
    staged = _count(settings, "select count(*) from staging.stg_genesys__conversations")
    assert staged == received - len(QUARANTINED_MUTATIONS)
