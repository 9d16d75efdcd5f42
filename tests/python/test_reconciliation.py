"""Reconciliation against the simulator's ground truth, on both targets.

One warehouse per target: simulator conversations of the demo's seed over a month end (so billing
periods, a rate change and a contract price change are crossed), the carriers' generic CDR files
with their labelled injected discrepancies (`genesys_sim.carrier`), loaded through `load-cdrs`.
One carrier keeps its Call-IDs; the other two behave like carriers behind a B2BUA Edge: each
Call-ID is replaced by one that matches no leg, and their clocks are skewed by seconds, so those
CDRs can only be paired by time and number (the fallback), on busy numbers.

Checked: every injected discrepancy found with its type and no flag on a clean leg; every leg and
every CDR exactly once; fallback precision 100 % and recall >= 99 %; billed totals per carrier and
invoice, and per carrier and billing period, equal the files' to the cent; allocated cost adds up
to the legs' cost exactly.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import raw_loader
from conftest import HMAC_TEST_KEY, _admin_connect, _admin_pg, make_settings
from genesys_finance import cli
from genesys_finance import warehouse as wh
from genesys_finance.dbt_runner import run_dbt
from genesys_finance.masking import Masker
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.settings import PostgresSettings, Settings
from genesys_sim.carrier import read_csv, write_cdr_files
from genesys_sim.generator import ConversationGenerator
from genesys_sim.shapes import iso_ms, parse_iso_ms
from test_extract_support import cli_env

SEED = 7  # the demo's seed: seeds/demo/demo_client_contracts.csv names its queues
START, END = date(2024, 6, 29), date(2024, 7, 2)
PER_DAY = 400
CALL_ID_CARRIER = "genesys_cloud_voice"
# carriers behind a B2BUA: their Call-IDs match no leg, and their clock is off by this much (ms);
# on the busy first day, the Call-ID carrier's CDRs too (so the busy stretch is all fallback)
SKEWED_CARRIERS = {"northwind_telecom": 3_200, "atlantic_carrier": -2_600}
BUSY_DAY_SKEW_MS = 1_700
JITTER_MS = 500  # per call, on top of the carrier's skew
BILLING_DAYS = {  # seeds/demo/demo_billing_periods.csv, restated
    "genesys_cloud_voice": ("UTC", timedelta(hours=7)),
    "northwind_telecom": ("America/New_York", timedelta(0)),
    "atlantic_carrier": ("Europe/London", timedelta(0)),
}
CENT = Decimal("0.01")


def _hash(value: str) -> str:
    return hmac.new(HMAC_TEST_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def _b2bua_call_id(call_id: str) -> str:
    return "b2b-" + hashlib.sha256(call_id.encode()).hexdigest()[:24] + "@edge.carrier.example"


def _jitter(call_id: str) -> int:
    """Deterministic per call, so a duplicate CDR stays identical to its original."""
    return (
        int(hashlib.sha256(call_id.encode()).hexdigest()[:6], 16) % (2 * JITTER_MS + 1) - JITTER_MS
    )


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def _shifted(value: Any, ms: int) -> Any:
    """`value` with every ISO-8601 UTC timestamp in it moved by `ms`."""
    if isinstance(value, dict):
        return {k: _shifted(v, ms) for k, v in value.items()}
    if isinstance(value, list):
        return [_shifted(v, ms) for v in value]
    if isinstance(value, str) and _ISO.match(value):
        return iso_ms(parse_iso_ms(value) + ms)
    return value


class BusyHourGenerator:
    """The simulator's conversations, with three in four of the first day's moved into one busy
    stretch (10:00 UTC + up to 30 s): dozens of calls on the org's few DIDs in the same minute."""

    def __init__(self, inner: ConversationGenerator) -> None:
        self.inner, self.start, self.end = inner, inner.start, inner.end

    def conversations_for_day(self, day: date) -> list[dict[str, Any]]:
        conversations = self.inner.conversations_for_day(day)
        if day != self.start:
            return conversations
        busy = parse_iso_ms(f"{day.isoformat()}T10:00:00Z")
        out = []
        for i, conv in enumerate(conversations):
            if i % 4 != 3:
                conv = _shifted(
                    conv, busy + (i % 30) * 1_000 - parse_iso_ms(conv["conversationStart"])
                )
            out.append(conv)
        return out


@dataclass
class Built:
    settings: Settings
    truth: list[dict[str, str]]
    cdr_rows: list[dict[str, str]]  # as loaded (after the B2BUA rewrite)
    cdr_leg: dict[str, str | None]  # hashed CDR Call-ID -> hashed Call-ID of its leg (None: orphan)
    target_path: Path


def _rewrite_for_b2bua(path: Path, out_dir: Path) -> tuple[Path, dict[str, str | None]]:
    rows = read_csv(path)
    carrier_leg: dict[str, str | None] = {}
    for row in rows:
        clear = row["sip_call_id"]
        skew = _skew(row["carrier"], row["start_time"])
        if skew is None:
            carrier_leg[_hash(clear)] = _hash(clear)
            continue
        row["sip_call_id"] = _b2bua_call_id(clear)
        carrier_leg[_hash(row["sip_call_id"])] = _hash(clear)
        shift = skew + _jitter(clear)
        for column in ("start_time", "end_time", "answer_time"):
            if row.get(column):
                row[column] = iso_ms(parse_iso_ms(row[column]) + shift)
    out = out_dir / path.name
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out, carrier_leg


def _skew(carrier: str, start_time: str) -> int | None:
    """The clock skew of a CDR behind a B2BUA; None: it keeps its Call-ID."""
    if carrier in SKEWED_CARRIERS:
        return SKEWED_CARRIERS[carrier]
    return BUSY_DAY_SKEW_MS if start_time.startswith(START.isoformat()) else None


def load_org_numbers(settings: Settings, sim: ConversationGenerator) -> OrgNumbers:
    """The simulated org's DID pools and DIDs into the warehouse (as the extractor lands them), and
    the org's numbers they make, for masking (kept in clear, as the extractor and load-cdrs do)."""
    pools, dids = sim.did_pools(), sim.dids()
    raw_loader.load_org_numbers(settings, pools, dids)
    return OrgNumbers.build(
        ranges=[(p["startPhoneNumber"], p["endPhoneNumber"]) for p in pools],
        numbers=[d["phoneNumber"] for d in dids],
    )


def _postgres_settings(tmp_path: Path) -> PostgresSettings:
    name = f"gf_test_recon_{tmp_path.name[-8:].replace('-', '_')}"
    conn = _admin_connect()
    conn.cursor().execute(f'drop database if exists "{name}"')
    conn.cursor().execute(f'create database "{name}"')
    conn.close()
    admin = _admin_pg()
    return PostgresSettings(admin.host, admin.port, admin.user, admin.password, name)


def _drop_postgres(pg: PostgresSettings) -> None:
    conn = _admin_connect()
    cur = conn.cursor()
    cur.execute(
        "select pg_terminate_backend(pid) from pg_stat_activity "
        "where datname = %s and pid <> pg_backend_pid()",
        (pg.database,),
    )
    cur.execute(f'drop database if exists "{pg.database}"')
    conn.close()


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    target = str(request.param)
    tmp_path = tmp_path_factory.mktemp(f"recon_{target}")
    pg = _postgres_settings(tmp_path) if target == "postgres" else None
    # no API is called: load-cdrs reads the same environment as every command, API included
    settings = make_settings(target, tmp_path, pg, api_url="http://127.0.0.1:9")
    try:
        sim = ConversationGenerator(
            seed=SEED, start=START, end=END, conversations_per_day=PER_DAY,
            now=datetime(2024, 8, 1, tzinfo=UTC),
        )  # fmt: skip
        gen = BusyHourGenerator(sim)
        conversations = [
            c
            for n in range((END - START).days)
            for c in gen.conversations_for_day(START + timedelta(n))
        ]
        # the org's numbers first: the extractor and load-cdrs keep them in clear, as here
        org = load_org_numbers(settings, sim)
        masker = Masker.from_settings(settings, env={}, org_numbers=org)
        raw_loader.load_conversations(
            settings, [masker.mask_conversation(c) for c in conversations], mask=False,
            extracted_at=datetime(2024, 8, 1, tzinfo=UTC),
        )  # fmt: skip
        raw_loader.load_dimensions(
            settings,
            {"queues": sim.queues(), "wrapup_codes": sim.wrapup_codes(),
             "divisions": sim.divisions(), "users": sim.users()},
        )  # fmt: skip
        files = write_cdr_files(gen, START, END, tmp_path / "written", seed=SEED)
        loaded_dir = tmp_path / "loaded"
        loaded_dir.mkdir()
        paths, cdr_leg = [], {}
        for path in files.cdr_paths:
            out, mapping = _rewrite_for_b2bua(path, loaded_dir)
            paths.append(out)
            cdr_leg.update(mapping)
        truth = read_csv(files.ground_truth_path)
        for row in truth:  # orphans: their Call-ID names no leg
            if row["discrepancy_type"] == "orphan_cdr":
                clear = row["sip_call_id"]
                cdr_leg[_hash(_b2bua_call_id(clear))] = None
                cdr_leg[_hash(clear)] = None
        with pytest.MonkeyPatch.context() as mp:
            for name, value in cli_env(settings).items():
                mp.setenv(name, value)
            assert cli.main(["load-cdrs", *map(str, paths)]) == 0
        run_dbt(settings, ["build"], target_path=tmp_path / "target")
        yield Built(
            settings, truth, [r for p in paths for r in read_csv(p)], cdr_leg, tmp_path / "target"
        )
    finally:
        if pg is not None:
            _drop_postgres(pg)


def _rows(settings: Settings, sql: str) -> list[dict[str, Any]]:
    with wh.connect(settings) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


RECON_SQL = """
select r.*, l.sip_call_id as leg_call_id, c.sip_call_id as cdr_call_id
from finance.fct_billing_reconciliation r
left join intermediate.int_voice_legs l on r.leg_id = l.leg_id
left join staging.stg_carrier__cdrs c on r.cdr_id = c.cdr_id
"""


def test_every_leg_and_every_cdr_exactly_once(built: Built) -> None:
    recon = _rows(built.settings, RECON_SQL)
    legs = _rows(built.settings, "select leg_id from intermediate.int_voice_legs")
    cdrs = _rows(built.settings, "select cdr_id from staging.stg_carrier__cdrs")
    leg_rows = Counter(r["leg_id"] for r in recon if r["record_type"] == "leg")
    assert leg_rows == Counter(r["leg_id"] for r in legs)
    assert max(leg_rows.values()) == 1
    cdr_ids = Counter(r["cdr_id"] for r in recon if r["cdr_id"] is not None)
    assert cdr_ids == Counter(r["cdr_id"] for r in cdrs)
    assert len(cdrs) == len(built.cdr_rows) > 500


def test_every_injected_discrepancy_found_and_no_clean_leg_flagged(built: Built) -> None:
    recon = _rows(built.settings, RECON_SQL)
    found: dict[str, str] = {}
    for row in recon:
        if row["record_type"] == "leg":
            found.setdefault(row["leg_call_id"], row["discrepancy_type"])
    duplicated = {r["leg_call_id"] for r in recon if r["discrepancy_type"] == "duplicate_cdr"}
    for leg in duplicated:
        assert found[leg] == "none"  # the leg's own CDR is right; the second one is the finding
        found[leg] = "duplicate_cdr"
    expected = {
        _hash(t["sip_call_id"]): t["discrepancy_type"]
        for t in built.truth
        if t["discrepancy_type"] != "orphan_cdr"
    }
    assert Counter(expected.values())["none"] > 500
    assert set(Counter(expected.values())) >= {
        "duration_overbilled", "duration_underbilled", "rate_mismatch", "missing_cdr",
        "duplicate_cdr",
    }  # fmt: skip
    wrong = {
        leg: (want, found.get(leg)) for leg, want in expected.items() if found.get(leg) != want
    }
    assert wrong == {}, f"{len(wrong)} legs misjudged, e.g. {list(wrong.items())[:5]}"

    orphans = {r["cdr_call_id"] for r in recon if r["discrepancy_type"] == "orphan_cdr"}
    loaded = {_hash(r["sip_call_id"]) for r in built.cdr_rows}
    assert orphans == {cdr for cdr, leg in built.cdr_leg.items() if leg is None} & loaded
    assert len(orphans) > 5
    assert not any(r["is_ambiguous"] for r in recon)


def test_fallback_matching_precision_and_recall(built: Built) -> None:
    pairs = _rows(
        built.settings,
        """
        select m.match_method, m.start_diff_ms, c.carrier, c.sip_call_id as cdr_call_id,
            l.sip_call_id as leg_call_id
        from intermediate.int_cdr_leg_matches m
        inner join staging.stg_carrier__cdrs c on m.cdr_id = c.cdr_id
        inner join intermediate.int_voice_legs l on m.leg_id = l.leg_id
        """,
    )
    by_method = Counter((p["carrier"], p["match_method"]) for p in pairs)
    assert {m for (c, m) in by_method if c == CALL_ID_CARRIER} == {"call_id", "time_and_number"}
    fallback = [p for p in pairs if p["match_method"] == "time_and_number"]
    assert {p["carrier"] for p in fallback} == {CALL_ID_CARRIER, *SKEWED_CARRIERS}
    correct = sum(built.cdr_leg[p["cdr_call_id"]] == p["leg_call_id"] for p in fallback)
    assert correct == len(fallback), "precision must be 100 %: a wrong match moves money"
    skewed = [r for r in built.cdr_rows if r["sip_call_id"].startswith("b2b-")]
    belong = sum(built.cdr_leg[_hash(r["sip_call_id"])] is not None for r in skewed)
    assert correct / belong >= 0.99, f"recall {correct}/{belong}"
    # the skew was really there, and the numbers really busy
    assert max(abs(p["start_diff_ms"]) for p in fallback) > 2_000
    assert _busiest_org_number_minute(skewed) >= 5


def _busiest_org_number_minute(rows: list[dict[str, str]]) -> int:
    """Most CDRs of one org number (and carrier) starting in one minute."""
    per_minute = Counter(
        (r["carrier"], r["called_number"] if r["direction"] == "inbound" else r["calling_number"],
         r["start_time"][:16])
        for r in rows
    )  # fmt: skip
    return max(per_minute.values())


def _billing_period(carrier: str, row: dict[str, str]) -> date:
    """The billing period rule restated: the carrier's local day, shifted by its day start."""
    zone, day_start = BILLING_DAYS[carrier]
    instant = datetime.fromisoformat(
        (row.get("answer_time") or row["start_time"]).replace("Z", "+00:00")
    )
    local = instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None) - day_start
    return date(local.year, local.month, 1)


def test_billed_totals_tie_out_per_carrier_invoice_and_period(built: Built) -> None:
    by_invoice: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    by_period: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for row in built.cdr_rows:
        by_invoice[row["carrier"], row["invoice_id"]] += Decimal(row["billed_amount"])
        by_period[row["carrier"], _billing_period(row["carrier"], row)] += Decimal(
            row["billed_amount"]
        )
    assert len({period for _, period in by_period}) >= 2  # the month end is crossed

    def decimal_sums(sql: str) -> dict[tuple[Any, ...], Decimal]:
        return {
            (r["carrier"], r["k"]): Decimal(r["billed"]).quantize(CENT)
            for r in _rows(built.settings, sql)
        }

    recon_invoice = decimal_sums(
        "select carrier, invoice_id as k, sum(billed_amount) as billed "
        "from finance.fct_billing_reconciliation where cdr_id is not null group by 1, 2"
    )
    assert recon_invoice == {k: v.quantize(CENT) for k, v in by_invoice.items()}
    expected_period = {k: v.quantize(CENT) for k, v in by_period.items()}
    recon_period = decimal_sums(
        "select carrier, billing_period as k, sum(billed_amount) as billed "
        "from finance.fct_billing_reconciliation where cdr_id is not null group by 1, 2"
    )
    assert recon_period == expected_period
    per_minute = decimal_sums(
        "select carrier, billing_period as k, sum(billed_amount) as billed "
        "from finance.fct_billing_per_minute group by 1, 2 having sum(billed_amount) <> 0"
    )
    assert per_minute == expected_period
    # and exactly, not only to the cent
    (exact,) = _rows(
        built.settings, "select sum(billed_amount) as billed from finance.fct_billing_per_minute"
    )
    assert Decimal(exact["billed"]) == sum(Decimal(r["billed_amount"]) for r in built.cdr_rows)


def test_allocated_cost_adds_up_to_the_legs_cost_exactly(built: Built) -> None:
    (legs,) = _rows(
        built.settings,
        "select sum(expected_cost) as cost, sum(rated_seconds) as seconds, "
        "sum(answered_duration_ms) as ms from intermediate.int_voice_legs_rated",
    )
    # (the simulator's legs each stay in one queue: the split of a shared leg, remainder included,
    # is the dbt unit test test_per_minute_split_is_exact_and_places_the_remainder)
    cost = Decimal(legs["cost"])
    assert cost > 0
    for table in ("fct_billing_per_minute", "fct_revenue_attribution"):
        (total,) = _rows(
            built.settings,
            f"select sum(true_cost) as cost, sum(answered_ms) as ms from finance.{table}",
        )
        assert (Decimal(total["cost"]), int(total["ms"])) == (cost, int(legs["ms"])), table
    (per_minute,) = _rows(
        built.settings, "select sum(rated_seconds) as seconds from finance.fct_billing_per_minute"
    )
    assert int(per_minute["seconds"]) == int(legs["seconds"])
    (conversations,) = _rows(
        built.settings, "select sum(true_cost) as cost from finance.fct_conversation_costs"
    )
    assert Decimal(conversations["cost"]) == cost


def test_revenue_attribution_prices_contracted_queues_and_margin_is_revenue_minus_cost(
    built: Built,
) -> None:
    rows = _rows(built.settings, "select * from finance.fct_revenue_attribution")
    clients = {r["client"] for r in rows if r["revenue"] > 0}
    assert {"Acme Insurance", "Globex Retail", "Initech"} <= clients
    assert all(r["margin"] == r["revenue"] - r["true_cost"] for r in rows)
    assert all(r["revenue"] == 0 for r in rows if r["client"] is None)
    # Acme's Tier 1 price changes on 2024-07-01: both months are billed, at different prices
    acme = {
        r["month"]: r for r in rows if r["client"] == "Acme Insurance" and r["billable_seconds"]
    }
    assert len(acme) == 2


def test_semantic_layer_and_exposures_are_in_the_manifest(built: Built) -> None:
    manifest = json.loads((built.target_path / "manifest.json").read_text(encoding="utf-8"))
    metrics = {m["name"] for m in manifest["metrics"].values()}
    assert {"true_cost", "billed_amount", "billing_variance", "cost_per_billable_minute",
            "margin"} <= metrics  # fmt: skip
    models = {s["node_relation"]["alias"] for s in manifest["semantic_models"].values()}
    assert {"fct_billing_reconciliation", "fct_conversation_costs", "fct_billing_per_minute",
            "fct_revenue_attribution"} <= models  # fmt: skip
    read = {
        n.split(".")[-1] for e in manifest["exposures"].values() for n in e["depends_on"]["nodes"]
    }
    marts = {
        n["name"] for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["fqn"][1:3] == ["marts", "finance"]
    }  # fmt: skip
    assert marts <= read and len(marts) == 5
    # the time spine the semantic layer needs was built
    (days,) = _rows(built.settings, "select count(*) as n from intermediate.int_time_spine_day")
    assert days["n"] > 7000
