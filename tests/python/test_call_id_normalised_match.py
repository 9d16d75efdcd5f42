"""`call_id_normalised` end to end, on both targets: the extractor's masking writes
`protocolCallIdNormalised`, the CDR loader `sip_call_id_normalised`, staging exposes both, and
`int_cdr_leg_matches` pairs a CDR whose Call-ID differs from its leg's only by brackets, case or
`@host` with `match_method = call_id_normalised`; any other difference is no Call-ID match. A
conversation extracted before the extractor wrote the normalised hash (no such field) keeps a NULL
`sip_call_id_normalised`: its legs still match by exact Call-ID, never by the normalised one.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import raw_loader
from genesys_finance.call_ids import normalise_call_id
from genesys_finance.cdr import load_cdr_files
from genesys_finance.dbt_runner import run_dbt
from genesys_finance.masking import Masker
from genesys_finance.settings import Settings
from genesys_finance.warehouse import query
from genesys_sim.generator import ConversationGenerator

DAY = date(2024, 3, 1)
GENERIC = (
    "carrier", "sip_call_id", "start_time", "end_time", "billed_seconds", "calling_number",
    "called_number", "direction", "rate_per_minute", "billed_amount", "currency", "invoice_id",
)  # fmt: skip


def _legs(conversations: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """(conversation index, session id, clear Call-ID) of each voice leg a carrier bills."""
    out = []
    for index, conv in enumerate(conversations):
        for participant in conv["participants"]:
            if participant.get("purpose") not in ("customer", "external"):
                continue
            for session in participant.get("sessions", []):
                if session.get("mediaType") == "voice" and "protocolCallId" in session:
                    out.append((index, session["sessionId"], session["protocolCallId"]))
    return out


def _written_otherwise(call_id: str) -> str:
    """The Call-ID as a carrier might write it: spaces, brackets, upper case, another host."""
    local = call_id.partition("@")[0]
    return f"  <{local.upper()}@sbc.carrier.example>  "


def _cdr(call_id: str, hour: int) -> dict[str, str]:
    start = datetime(2024, 3, 1, hour, 0, tzinfo=UTC).isoformat().replace("+00:00", "Z")
    end = datetime(2024, 3, 1, hour, 1, tzinfo=UTC).isoformat().replace("+00:00", "Z")
    values = (
        "genesys_cloud_voice", call_id, start, end, "60", "+15555550100", "+18005550123",
        "inbound", "0.012", "0.012", "USD", "INV-2024-03",
    )  # fmt: skip
    return dict(zip(GENERIC, values, strict=True))


def test_normalised_call_id_matches_end_to_end(warehouse: Settings, tmp_path: Path) -> None:
    sim = ConversationGenerator(
        seed=11, start=DAY, end=date(2024, 3, 2), conversations_per_day=40,
        now=datetime(2024, 3, 5, tzinfo=UTC),
    )  # fmt: skip
    conversations = sim.conversations_for_day(DAY)
    masker = Masker.from_settings(warehouse, env={})
    masked = [masker.mask_conversation(conv) for conv in conversations]
    legs: dict[int, tuple[str, str]] = {}  # one leg from each of 4 conversations
    for index, session_id, call_id in _legs(conversations):
        legs.setdefault(index, (session_id, call_id))
    exact, otherwise, other_id, legacy = list(legs.items())[:4]
    # Extracted before the extractor wrote the normalised hash: the field is absent.
    for participant in masked[legacy[0]]["participants"]:
        for session in participant.get("sessions", []):
            session.pop("protocolCallIdNormalised", None)
    raw_loader.load_conversations(warehouse, masked, mask=False)

    rows = [
        _cdr(exact[1][1], 20),  # line 2: as Genesys recorded it
        _cdr(_written_otherwise(otherwise[1][1]), 20),  # line 3: brackets, case, @host
        _cdr(other_id[1][1].partition("@")[0] + "0", 23),  # line 4: another id
        _cdr(f"<{legacy[1][1]}>", 23),  # line 5: the legacy leg has no normalised hash
    ]
    path = tmp_path / "cdrs.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, GENERIC, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    [report] = load_cdr_files(warehouse, [path], "generic", masker)
    assert report.consistent and report.loaded == 4, report.summary()

    run_dbt(
        warehouse,
        ["build", "--select", "+int_cdr_leg_matches", "--resource-type", "model", "seed"],
        target_path=tmp_path / "target",
    )

    matched = {
        line: (leg, method)
        for line, leg, method in query(
            warehouse,
            "select c.source_line, m.leg_id, m.match_method from staging.stg_carrier__cdrs c "
            "inner join intermediate.int_cdr_leg_matches m on c.cdr_id = m.cdr_id",
        )
    }
    assert matched == {
        2: (exact[1][0], "call_id"),
        3: (otherwise[1][0], "call_id_normalised"),
    }
    hashes = dict(
        query(
            warehouse,
            "select session_id, sip_call_id_normalised from staging.stg_genesys__sessions "
            f"where session_id in ('{otherwise[1][0]}', '{legacy[1][0]}')",
        )
    )
    normal = masker.hmac(normalise_call_id(otherwise[1][1]))
    assert hashes == {otherwise[1][0]: normal, legacy[1][0]: None}
    [(cdr_hash,)] = query(
        warehouse,
        "select sip_call_id_normalised from carrier_raw.cdrs where source_line = 3",
    )
    assert cdr_hash == hashes[otherwise[1][0]]
