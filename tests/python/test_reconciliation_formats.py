"""Matching per CDR format, against the simulator's per-line ground truth, on both targets.

Each carrier sends its CDRs in another carrier's export format (`genesys_sim.cdr_formats`, with
its quirks: the carrier's clock skew and per-call jitter, B2BUA Call-IDs, local or second-precision
times): Genesys Cloud Voice its usage report (a Call-ID on each line), Northwind a Bandwidth BDR and
Atlantic a Twilio call log (neither has a Call-ID: time and number only), over a busy hour. Per
format: precision 100 % (a wrong match moves money) and recall >= 99 %; the reconciliation mart
equals the ground truth where the format bills by the rate card's own rule (the Twilio profile
rounds every call up to the minute, as Twilio bills, so Atlantic's 1/1 card reads as overbilled:
that format is scored on matching only).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

import raw_loader
from conftest import make_settings
from genesys_finance.cdr import builtin, load_cdr_files
from genesys_finance.dbt_runner import run_dbt
from genesys_finance.masking import Masker
from genesys_finance.settings import Settings
from genesys_sim.cdr_formats import write_format_files
from genesys_sim.generator import ConversationGenerator
from test_reconciliation import (
    BusyHourGenerator,
    _drop_postgres,
    _hash,
    _postgres_settings,
    _rows,
    load_org_numbers,
)

SEED = 7
START, END = date(2024, 6, 29), date(2024, 7, 2)
PER_DAY = 400
FORMAT_OF = {
    "genesys_cloud_voice": "genesys-voice",
    "northwind_telecom": "bandwidth",
    "atlantic_carrier": "twilio",
}
BILLS_BY_THE_CARD = {"genesys-voice", "bandwidth"}


@dataclass
class Loaded:
    settings: Settings
    truth: dict[tuple[str, int], dict[str, str]]  # (file, line) -> the line's ground truth


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    target = str(request.param)
    tmp_path = tmp_path_factory.mktemp(f"formats_{target}")
    pg = _postgres_settings(tmp_path) if target == "postgres" else None
    settings = make_settings(target, tmp_path, pg)
    try:
        sim = ConversationGenerator(
            seed=SEED, start=START, end=END, conversations_per_day=PER_DAY,
            now=datetime(2024, 8, 1, tzinfo=UTC),
        )  # fmt: skip
        gen = BusyHourGenerator(sim)
        org = load_org_numbers(settings, sim)
        masker = Masker.from_settings(settings, env={}, org_numbers=org)
        conversations = [
            masker.mask_conversation(c)
            for n in range((END - START).days)
            for c in gen.conversations_for_day(START + timedelta(n))
        ]
        raw_loader.load_conversations(
            settings, conversations, mask=False, extracted_at=datetime(2024, 8, 1, tzinfo=UTC)
        )
        raw_loader.load_dimensions(settings, {"queues": sim.queues(), "divisions": sim.divisions()})
        truth: dict[tuple[str, int], dict[str, str]] = {}
        for carrier, fmt in FORMAT_OF.items():
            files = write_format_files(gen, START, END, tmp_path / fmt, fmt, seed=SEED)
            (report,) = load_cdr_files(
                settings, [files.paths[carrier]], builtin(fmt), masker=masker,
                org_numbers=org, carrier=carrier,
            )  # fmt: skip
            assert report.error is None and report.rejected == 0
            with files.line_truth_path.open(newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    if row["carrier"] == carrier:
                        truth[row["file"], int(row["line"])] = row
        run_dbt(settings, ["build"], target_path=tmp_path / "target")
        yield Loaded(settings, truth)
    finally:
        if pg is not None:
            _drop_postgres(pg)


LINES_SQL = """
select c.source_file, c.source_line, c.carrier, m.match_method, l.sip_call_id as leg_call_id,
    r.record_type, r.discrepancy_type
from staging.stg_carrier__cdrs c
left join intermediate.int_cdr_leg_matches m on c.cdr_id = m.cdr_id
left join intermediate.int_voice_legs l on m.leg_id = l.leg_id
left join finance.fct_billing_reconciliation r on c.cdr_id = r.cdr_id
"""


def _scored(loaded: Loaded) -> list[dict[str, Any]]:
    lines = _rows(loaded.settings, LINES_SQL)
    assert len(lines) == len(loaded.truth)
    for line in lines:
        line["truth"] = loaded.truth[line["source_file"], line["source_line"]]
        line["format"] = FORMAT_OF[line["carrier"]]
    return lines


def test_matching_precision_and_recall_per_format(loaded: Loaded) -> None:
    lines = _scored(loaded)
    methods: Counter[tuple[str, str]] = Counter()
    for fmt in FORMAT_OF.values():
        mine = [x for x in lines if x["format"] == fmt]
        matched = [x for x in mine if x["match_method"]]
        belong = [x for x in mine if x["truth"]["leg_call_id"]]
        correct = [x for x in matched if x["leg_call_id"] == _hash(x["truth"]["leg_call_id"])]
        assert len(correct) == len(matched), f"{fmt}: a wrong match"
        assert len(correct) >= 0.99 * len(belong) > 100, (
            f"{fmt}: recall {len(correct)}/{len(belong)}"
        )
        methods.update((fmt, x["match_method"]) for x in matched)
    # no Call-ID in Bandwidth's and Twilio's files: all by time and number
    assert {m for (f, m) in methods if f in ("bandwidth", "twilio")} == {"time_and_number"}
    assert methods["genesys-voice", "call_id"] > 100


def test_reconciliation_equals_the_ground_truth_per_format(loaded: Loaded) -> None:
    lines = _scored(loaded)
    for fmt in BILLS_BY_THE_CARD:
        mine = [x for x in lines if x["format"] == fmt]
        wrong = []
        for x in mine:
            want = x["truth"]["discrepancy_type"]
            # the leg's own CDR of a duplicated leg is right; the other line is the duplicate
            got = x["discrepancy_type"]
            if want == "duplicate_cdr" and x["record_type"] == "leg":
                want = "none"
            if got != want:
                wrong.append((x["source_line"], want, got))
        assert wrong == [], f"{fmt}: {wrong[:5]}"
        found = Counter(x["truth"]["discrepancy_type"] for x in mine)
        assert found["none"] > 100 and len(found) >= 4
