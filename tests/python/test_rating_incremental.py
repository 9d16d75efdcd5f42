"""Incremental rating: after each kind of new data (CDR files for legs already rated, new days,
re-extracted conversations), an incremental run leaves `int_voice_legs_rated` and
`fct_voice_leg_costs` exactly as a full refresh builds them, on both targets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import raw_loader
from genesys_finance.cdr.files import load_cdr_files
from genesys_finance.dbt_runner import run_dbt
from genesys_finance.masking import Masker
from genesys_finance.settings import Settings
from genesys_sim.carrier import write_cdr_files
from genesys_sim.generator import ConversationGenerator
from test_rating_oracle import org_numbers

DAY1, DAY2 = date(2024, 6, 28), date(2024, 7, 1)  # Friday before, Monday after a card change
SELECT = [
    "--indirect-selection",
    "cautious",
    "--select",
    "+fct_voice_leg_costs",
    "did_pool_carriers",
    "carrier_edges",
]
RATED = ("intermediate.int_voice_legs_rated", "finance.fct_voice_leg_costs")


def _run(settings: Settings, target_path: Path, *extra: str) -> None:
    run_dbt(settings, ["run", *SELECT, *extra], target_path=target_path)


def _rated(settings: Settings) -> dict[str, list[tuple[str, ...]]]:
    return raw_loader.snapshot(settings, RATED, exclude={"built_at"})


def _later(conversation: dict[str, Any]) -> dict[str, Any]:
    """A re-extracted version: every voice session of the customer ends 7 s later."""
    for participant in conversation["participants"]:
        if participant.get("purpose") != "customer":
            continue
        for session in participant.get("sessions", []):
            if session.get("mediaType") == "voice" and session.get("segments"):
                last = session["segments"][-1]
                if "segmentEnd" in last:
                    end = datetime.fromisoformat(last["segmentEnd"].replace("Z", "+00:00"))
                    last["segmentEnd"] = (
                        (end + timedelta(seconds=7)).isoformat().replace("+00:00", "Z")
                    )
    return conversation


def test_incremental_runs_equal_a_full_refresh(warehouse: Settings, tmp_path: Path) -> None:
    settings, target_path = warehouse, tmp_path / "target"
    gen = ConversationGenerator(
        seed=21, start=DAY1, end=DAY2 + timedelta(days=1), conversations_per_day=60,
        now=datetime(2024, 7, 10, tzinfo=UTC),
    )  # fmt: skip
    raw_loader.load_org_numbers(settings, gen.did_pools(), gen.dids())
    masker = Masker.from_settings(settings, env={}, org_numbers=org_numbers())
    day1 = gen.conversations_for_day(DAY1)

    def load(conversations: list[dict[str, Any]], at: datetime) -> None:
        masked = [masker.mask_conversation(c) for c in conversations]
        raw_loader.load_conversations(settings, masked, mask=False, extracted_at=at)

    def incremental_equals_full_refresh() -> dict[str, list[tuple[str, ...]]]:
        _run(settings, target_path)
        incremental = _rated(settings)
        _run(settings, target_path, "--full-refresh")
        assert incremental == _rated(settings)
        return incremental

    cdr_legs = "select count(*) from finance.fct_voice_leg_costs where carrier_source = 'cdr'"
    load(day1, datetime(2024, 7, 2, tzinfo=UTC))
    run_dbt(settings, ["build", *SELECT], target_path=target_path)
    first = _rated(settings)
    assert raw_loader.fetch(settings, cdr_legs)[0][0] == 0

    # 1. the carriers' CDR files arrive for legs already rated: they take the CDR's carrier
    files = write_cdr_files(gen, DAY1, DAY2 + timedelta(days=1), tmp_path / "cdrs", seed=21)
    load_cdr_files(settings, files.cdr_paths, "generic", masker)
    assert incremental_equals_full_refresh() != first
    assert raw_loader.fetch(settings, cdr_legs)[0][0] > 0

    # 2. a new day, and a re-extracted version of some day-1 conversations
    load(gen.conversations_for_day(DAY2), datetime(2024, 7, 3, tzinfo=UTC))
    load([_later(c) for c in day1[:15]], datetime(2024, 7, 4, tzinfo=UTC))
    second = incremental_equals_full_refresh()
    assert len(second["finance.fct_voice_leg_costs"]) > len(first["finance.fct_voice_leg_costs"])
