"""Bad times in the fields the dbt models read (`conversationStart`/`End`, `segmentStart`/`End`):
wrong types, unparseable text, impossible or out-of-range dates, hours and offsets, missing.

The extractor quarantines such a conversation with the field in its reason, so the staging
contracts hold by construction: property-based, hypothesis draws pages (fast), then whole days
served by the simulator, extracted and built with dbt on both targets, where counts tie out
(received = loaded + quarantined, loaded = staged). A bad time that reaches raw another way (a
load older than the screen) reads NULL in dbt and its part is left out: the build still passes.
"""

from __future__ import annotations

import copy
import json
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import genesys_sim.store
from conftest import fresh_postgres_database, make_settings
from genesys_finance.dbt_runner import WITHOUT_UNIT_TESTS, run_dbt
from genesys_finance.runner import ExtractOptions, run_extract
from genesys_finance.settings import Settings
from genesys_finance.warehouse import query
from genesys_sim.server import SimulatorConfig, start_simulator
from raw_loader import load_conversations
from sim_fixtures import SIM_DEFAULTS
from test_payload_quarantine import (
    DAY,
    _served_day,
    base_conversations,
    odd_conversation,
    run_page,
)

# Field -> required. An absent or null optional time means "still going": usable.
TIME_FIELDS = {
    "conversationStart": True,
    "conversationEnd": False,
    "segmentStart": True,
    "segmentEnd": False,
}
MISSING = object()
MAX_OFFSET_MINUTES = 15 * 60 + 59  # the widest offset Postgres's timestamptz input takes


def _real_instant(
    year: int, month: int, day: int, hms: tuple[int, int, int], offset_minutes: int
) -> bool:
    """The oracle, independent of the extractor's patterns: a date and time that exist, with an
    offset Postgres takes, that stay within years 1-9999 in UTC."""
    if abs(offset_minutes) > MAX_OFFSET_MINUTES:
        return False
    try:
        zone = timezone(timedelta(minutes=offset_minutes))
        datetime(year, month, day, *hms, tzinfo=zone).astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return True


@st.composite
def iso_like_time(draw: st.DrawFn) -> tuple[str, bool]:
    """An ISO 8601-shaped time with each field drawn at and past its limits, and whether it is
    a real instant (`_real_instant`) written the way the API writes times."""
    year = draw(st.sampled_from([0, 1, 2, 1970, 2024, 9998, 9999, 10000]))
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    hms = (draw(st.integers(0, 25)), draw(st.integers(0, 61)), draw(st.integers(0, 61)))
    fraction = draw(st.sampled_from(["", ".5", ".123", ".123456", ".1234567"]))
    zone = draw(st.sampled_from(["Z", "offset", "none"]))
    minutes = 0
    suffix = {"Z": "Z", "none": ""}.get(zone)
    if suffix is None:
        minutes = draw(st.sampled_from([60, -300, 330, MAX_OFFSET_MINUTES, 16 * 60, -(16 * 60)]))
        sign = "+" if minutes >= 0 else "-"
        suffix = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    text = f"{year:04d}-{month:02d}-{day:02d}T{hms[0]:02d}:{hms[1]:02d}:{hms[2]:02d}"
    valid = zone != "none" and len(fraction) <= 7 and _real_instant(year, month, day, hms, minutes)
    return text + fraction + suffix, valid


NOT_A_TIME = st.one_of(
    st.integers(min_value=-(2**53), max_value=2**53),  # e.g. epoch milliseconds
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(st.text(max_size=4), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.sampled_from(["", " ", "soon", "2024-05-02", "10:00:00Z", "1714651200000", "2024-W18-4"]),
)


@st.composite
def time_value(draw: st.DrawFn, required: bool) -> tuple[Any, bool]:
    """(value or MISSING, usable)."""
    kind = draw(st.sampled_from(["iso_like", "not_a_time", "null", "missing"]))
    if kind == "iso_like":
        return draw(iso_like_time())
    if kind == "not_a_time":
        return draw(NOT_A_TIME), False
    return (None if kind == "null" else MISSING), not required


def _segments(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        segment
        for participant in conversation.get("participants") or []
        for session in participant.get("sessions") or []
        for segment in session.get("segments") or []
    ]


@st.composite
def timed_conversation(draw: st.DrawFn) -> tuple[dict[str, Any], str, bool]:
    """A simulator conversation with one time field set to a drawn value: (conversation,
    field, usable)."""
    conversation = _with_fresh_ids(
        copy.deepcopy(draw(st.sampled_from(base_conversations()))), draw(st.uuids())
    )
    field = draw(st.sampled_from(sorted(TIME_FIELDS)))
    holder = conversation
    if field.startswith("segment"):
        holder = draw(st.sampled_from(_segments(conversation)))
    value, usable = draw(time_value(TIME_FIELDS[field]))
    if value is MISSING:
        holder.pop(field, None)
    else:
        holder[field] = value
    kind = field.removesuffix("Start").removesuffix("End")
    return conversation, field, usable and _in_order(holder, kind)


def _with_fresh_ids(conversation: dict[str, Any], seed: uuid.UUID) -> dict[str, Any]:
    """The conversation under participant and session ids of its own: the API's ids are
    globally unique, so two drawn copies of one base conversation must not share them."""
    fresh: dict[str, str] = {}

    def rename(holder: Any, key: str) -> None:
        if isinstance(holder, dict) and isinstance(holder.get(key), str):
            holder[key] = fresh.setdefault(holder[key], str(uuid.uuid5(seed, holder[key])))

    def listed(holder: Any, key: str) -> list[Any]:
        value = holder.get(key) if isinstance(holder, dict) else None
        return value if isinstance(value, list) else []

    # Defensive: odd conversations may have any shape.
    for participant in listed(conversation, "participants"):
        rename(participant, "participantId")
        for session in listed(participant, "sessions"):
            rename(session, "sessionId")
            rename(session, "peerId")
    return conversation


def _in_order(holder: dict[str, Any], kind: str) -> bool:
    """A real start and end (or none) of a conversation or segment, the end not the earlier:
    a duration the models can use."""
    start, end = holder.get(f"{kind}Start"), holder.get(f"{kind}End")
    if end is None:
        return True
    return datetime.fromisoformat(start) <= datetime.fromisoformat(end)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timed_conversation())
def test_a_bad_time_quarantines_its_conversation_naming_the_field(
    timed: tuple[dict[str, Any], str, bool],
) -> None:
    conversation, field, usable = timed
    clean = copy.deepcopy(base_conversations()[0])
    table, quarantined = run_page([conversation, clean])
    assert table.num_rows + len(quarantined) == 2
    if usable:
        assert not quarantined
    else:
        assert [q.position for q in quarantined] == [100]
        assert field in quarantined[0].reason


# ------------------------------------------- whole days: extract, then dbt build, both targets


@contextmanager
def fresh_warehouse(target: str) -> Iterator[tuple[Settings, Path]]:
    with tempfile.TemporaryDirectory(prefix="bad-times-") as tmp:
        if target == "postgres":
            with fresh_postgres_database() as pg:
                yield make_settings("postgres", Path(tmp), pg), Path(tmp)
        else:
            yield make_settings("duckdb", Path(tmp)), Path(tmp)


def _serve(drawn: list[Any]) -> Any:
    """Replace the day's first payloads by the drawn ones, each under the id of the payload it
    replaces when it has a usable id (so no two drawn conversations merge into one row)."""

    def edit(payloads: list[bytes]) -> None:
        assert len(payloads) >= len(drawn)
        for index, conversation in enumerate(drawn):
            if isinstance(conversation, dict) and isinstance(
                conversation.get("conversationId"), str
            ):
                conversation = {
                    **conversation,
                    "conversationId": orjson.loads(payloads[index])["conversationId"],
                }
            # stdlib JSON: it writes any integer (orjson stops at 64 bits), as the API could.
            payloads[index] = json.dumps(conversation).encode()

    return edit


def _staged_segments_expected(settings: Settings) -> int:
    """Segments in the loaded payloads (the screen guarantees their shape)."""
    payloads = query(settings, "select cast(payload as text) from genesys_raw.conversations")
    return sum(len(_segments(json.loads(str(p)))) for (p,) in payloads)


def _count(settings: Settings, sql: str) -> int:
    return int(query(settings, sql)[0][0])


@settings(
    max_examples=2,
    deadline=None,
    phases=[Phase.generate],  # shrinking would rebuild dbt hundreds of times
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # `target` is a parameter, the same every example
    ],
)
@given(
    timed=st.lists(timed_conversation(), min_size=6, max_size=12),
    odd=st.lists(odd_conversation(), max_size=4),
)
def test_bad_times_extract_and_build_with_counts_tied_out(
    target: str, timed: list[tuple[dict[str, Any], str, bool]], odd: list[Any]
) -> None:
    drawn = [conversation for conversation, _, _ in timed] + [
        _with_fresh_ids(conversation, uuid.uuid5(uuid.NAMESPACE_OID, str(index)))
        for index, conversation in enumerate(odd)
    ]
    sim_options = {
        **SIM_DEFAULTS,
        "start": DAY,
        "end": date(2024, 5, 3),
        "conversations_per_day": 40,
        "prewarm": False,
        "job_delay_s": 0.1,
    }
    served = _served_day(genesys_sim.store.build_day, _serve(drawn))
    with (
        fresh_warehouse(target) as (base, tmp),
        mock.patch.object(genesys_sim.store, "build_day", served),
    ):
        sim = start_simulator(SimulatorConfig(**sim_options), "127.0.0.1", 0)
        try:
            received = len(generator_day(sim))
            wh = Settings(**{**base.__dict__, "api_url": sim.base_url, "login_url": sim.base_url})
            options = ExtractOptions(
                poll_initial_s=0.05, quiet=True, page_size=7, skip_dimensions=True
            )
            summary = run_extract(wh, DAY, date(2024, 5, 3), options)
        finally:
            sim.stop()
        loaded = _count(wh, "select count(*) from genesys_raw.conversations")
        quarantine = query(wh, "select conversation_id from genesys_raw.conversation_quarantine")
        assert summary.conversations + summary.quarantined == received
        assert loaded + len(quarantine) == received
        # Each drawn bad time went where the oracle says (ids: the served slots' ids).
        quarantined_ids = {str(row[0]) for row in quarantine}
        for index, (_, field, usable) in enumerate(timed):
            slot_id = slot_ids(sim, len(drawn))[index]
            assert (slot_id not in quarantined_ids) == usable, (field, usable)

        run_dbt(wh, ["build", *WITHOUT_UNIT_TESTS], target_path=tmp / "dbt-target")
        staged = _count(wh, "select count(*) from staging.stg_genesys__conversations")
        assert staged == loaded
        segments = _count(wh, "select count(*) from staging.stg_genesys__segments")
        assert segments == _staged_segments_expected(wh)  # the dbt backstop dropped nothing


def generator_day(sim: Any) -> list[dict[str, Any]]:
    return list(sim.generator.conversations_for_day(DAY))


def slot_ids(sim: Any, n: int) -> list[str]:
    """The ids of the day's first `n` served payloads (the store orders them by start)."""
    day = sorted(generator_day(sim), key=lambda c: c["conversationStart"])
    return [str(c["conversationId"]) for c in day[:n]]


# --------------------------------------- the dbt backstop: bad rows that bypassed the screen


def _legacy_rows() -> tuple[list[dict[str, Any]], dict[str, int], dict[str, int]]:
    """Conversations with bad parts, as a load older than the screen could have landed them,
    and how many segments and session metrics each should stage."""
    conversations = [copy.deepcopy(c) for c in base_conversations()[:5]]
    segments = {c["conversationId"]: len(_segments(c)) for c in conversations}
    metrics = {c["conversationId"]: len(_metrics(c)) for c in conversations}
    first, second, third, fourth, fifth = conversations
    _segments(first)[0]["segmentStart"] = "soon"
    _segments(second)[0]["segmentStart"] = "2024-02-30T10:00:00.000Z"
    _segments(third)[0]["segmentStart"] = "2024-05-02T25:00:00.000Z"
    for conversation in (first, second, third):
        segments[conversation["conversationId"]] -= 1
    participant = fourth["participants"][0]
    participant.pop("participantId")  # its sessions, segments and metrics go with it
    for session in participant.get("sessions") or []:
        segments[fourth["conversationId"]] -= len(session.get("segments") or [])
        metrics[fourth["conversationId"]] -= len(session.get("metrics") or [])
    session = fifth["participants"][-1]["sessions"][0]
    session.pop("sessionId")  # its segments and metrics go with it
    segments[fifth["conversationId"]] -= len(session.get("segments") or [])
    metrics[fifth["conversationId"]] -= len(session.get("metrics") or [])
    if _metrics(first):
        _metrics(first)[0].pop("name")
        metrics[first["conversationId"]] -= 1
    return conversations, segments, metrics


def _metrics(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        metric
        for participant in conversation.get("participants") or []
        for session in participant.get("sessions") or []
        for metric in session.get("metrics") or []
    ]


def test_bad_rows_that_reached_raw_another_way_do_not_fail_the_build(
    warehouse: Settings, tmp_path: Path
) -> None:
    conversations, expected, expected_metrics = _legacy_rows()
    load_conversations(warehouse, conversations)
    run_dbt(warehouse, ["build", *WITHOUT_UNIT_TESTS], target_path=tmp_path / "dbt-target")
    rows = query(
        warehouse,
        "select conversation_id, count(*) from staging.stg_genesys__segments "
        "group by conversation_id",
    )
    assert {str(cid): int(n) for cid, n in rows} == expected
    rows = query(
        warehouse,
        "select conversation_id, count(*) from staging.stg_genesys__session_metrics "
        "group by conversation_id",
    )
    assert {str(cid): int(n) for cid, n in rows if n} == {
        cid: n for cid, n in expected_metrics.items() if n
    }
    # the segments left keep their place in the session: the dropped first one's ordinal is gone
    first = conversations[0]
    first_session = next(
        s for p in first["participants"] for s in p.get("sessions") or [] if s.get("segments")
    )
    ordinals = query(
        warehouse,
        "select segment_ordinal from staging.stg_genesys__segments "
        f"where session_id = '{first_session['sessionId']}' order by segment_ordinal",
    )
    assert [int(o) for (o,) in ordinals] == list(range(2, len(first_session["segments"]) + 1))
    assert _count(warehouse, "select count(*) from staging.stg_genesys__conversations") == 5
