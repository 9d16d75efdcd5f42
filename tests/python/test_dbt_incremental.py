"""Incremental flattening equals a full refresh, on both targets.

Data arrives in batches with updates between them: conversations still running come back ended,
some conversations come back changed (a participant gone, a session's metrics gone, a new metric),
and new conversations arrive. After each load dbt runs incrementally; at the end every flattened
model is snapshotted, rebuilt with `--full-refresh`, and compared row for row.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import raw_loader
from genesys_finance.dbt_runner import run_dbt
from genesys_finance.settings import Settings

DAY = date(2024, 5, 6)
# The per-conversation models (the finance models have their own incremental test).
SELECT = [
    "--select",
    "path:models/staging/genesys/flattened",
    "path:models/intermediate/per_conversation",
    "--exclude",
    "resource_type:test",
]


def _generator(now: datetime) -> Any:
    from genesys_sim.generator import ConversationGenerator

    return ConversationGenerator(
        seed=21, start=DAY, end=DAY + timedelta(days=10), conversations_per_day=50, now=now
    )


def _changed(conversations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Late updates: the same conversations with rows removed and a metric added."""
    out = []
    for index, conv in enumerate(c for c in conversations if len(c.get("participants", [])) > 2):
        conv = copy.deepcopy(conv)
        if index % 3 == 0:
            conv["participants"].pop()  # a participant (and its sessions, segments) disappears
        elif index % 3 == 1:
            for participant in conv["participants"]:
                for session in participant.get("sessions", []):
                    session.pop("metrics", None)  # every metric of the conversation disappears
        else:
            session = conv["participants"][0]["sessions"][0]
            session.setdefault("metrics", []).append(
                {"emitDate": conv["conversationStart"], "name": "nTransferred", "value": 1}
            )
        out.append(conv)
        if len(out) == 9:
            break
    return out


def _run(settings: Settings, target_path: Path, *extra: str) -> None:
    run_dbt(settings, ["run", *SELECT, *extra], target_path=target_path)


def test_incremental_equals_full_refresh(warehouse: Settings, tmp_path: Path) -> None:
    settings = warehouse
    target_path = tmp_path / "target"
    t0 = datetime(2024, 6, 1, tzinfo=UTC)

    # batch 1: day 1 as seen at noon (some conversations still running), full build
    noon = datetime(2024, 5, 6, 12, tzinfo=UTC)
    first = _generator(noon).conversations_for_day(DAY)
    assert any("conversationEnd" not in c for c in first), "want ongoing conversations"
    raw_loader.load_conversations(settings, first, extracted_at=t0)
    _run(settings, target_path)

    # batch 2: day 1 again at the end of the day (ongoing ones ended, new ones), plus late changes
    evening = datetime(2024, 5, 7, 6, tzinfo=UTC)
    second = _generator(evening).conversations_for_day(DAY)
    assert len(second) > len(first)
    raw_loader.load_conversations(settings, second, extracted_at=t0 + timedelta(hours=1))
    changed = _changed(second)
    assert changed
    raw_loader.load_conversations(settings, changed, extracted_at=t0 + timedelta(hours=2))
    _run(settings, target_path)

    # batch 3: the next day, and day-1 conversations changed once more; then a run with no new data
    day2 = _generator(datetime(2024, 5, 8, tzinfo=UTC)).conversations_for_day(DAY + timedelta(1))
    raw_loader.load_conversations(settings, day2, extracted_at=t0 + timedelta(hours=3))
    raw_loader.load_conversations(
        settings,
        _changed(changed)[:2] or changed[:1],
        extracted_at=t0 + timedelta(hours=3, minutes=5),
    )
    _run(settings, target_path)
    _run(settings, target_path)

    incremental = raw_loader.snapshot(settings)
    assert incremental["staging.stg_genesys__segments"]
    total = len({c["conversationId"] for c in [*second, *day2]})
    assert len(incremental["staging.stg_genesys__conversations"]) == total

    _run(settings, target_path, "--full-refresh")
    full = raw_loader.snapshot(settings)
    for relation in raw_loader.FLATTENED_MODELS:
        assert incremental[relation] == full[relation], relation
