"""Helpers shared by the extract tests (no tests here): the oracle and warehouse readers."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from genesys_finance import warehouse
from genesys_finance.masking import Masker
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.settings import Settings
from genesys_sim.server import SimulatorHandle

YEAR_START, YEAR_END = date(2024, 1, 1), date(2025, 1, 1)
YEAR_SIM: dict[str, Any] = {
    "start": date(2023, 12, 25),
    "end": YEAR_END,
    "conversations_per_day": 20,
    "now": datetime(2025, 1, 10, tzinfo=UTC),
    "job_delay_s": 0.15,
}
JOBS_PATH = "/api/v2/analytics/conversations/details/jobs"


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def expected_conversations(
    sim: SimulatorHandle, settings: Settings, start: date, end: date
) -> dict[str, Any]:
    """conversation id -> the masked payload the warehouse must hold (JSON round-tripped)."""
    masker = Masker.from_settings(settings, env={}, org_numbers=sim_org_numbers(sim))
    return {
        conv["conversationId"]: orjson.loads(orjson.dumps(masker.mask_conversation(conv)))
        for conv in sim.generator.iter_conversations(day_start(start), day_start(end))
    }


def sim_org_numbers(sim: SimulatorHandle) -> OrgNumbers:
    """The simulated org's numbers, read from its catalog (not through the extractor)."""
    gen = sim.generator
    ranges = [(p["startPhoneNumber"], p["endPhoneNumber"]) for p in gen.did_pools()]
    return OrgNumbers.build(ranges, [d["phoneNumber"] for d in gen.dids()])


def loaded_conversations(settings: Settings) -> dict[str, Any]:
    rows = warehouse.query(
        settings, "select conversation_id, payload from genesys_raw.conversations"
    )
    ids = [row[0] for row in rows]
    assert len(ids) == len(set(ids)), "duplicate conversation rows"
    return {row[0]: _json(row[1]) for row in rows}


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


def assert_exact(settings: Settings, expected: dict[str, Any]) -> None:
    loaded = loaded_conversations(settings)
    assert set(loaded) == set(expected), (
        f"missing {len(set(expected) - set(loaded))}, extra {len(set(loaded) - set(expected))}"
    )
    different = [cid for cid, payload in expected.items() if loaded[cid] != payload]
    assert not different, f"{len(different)} payloads differ, e.g. {different[:3]}"


def ledger_rows(settings: Settings) -> list[dict[str, Any]]:
    cols = ["job_id", "interval_start", "interval_end", "state", "run_completed_at"]
    rows = warehouse.query(settings, f"select {', '.join(cols)} from genesys_raw.extract_jobs")
    return [dict(zip(cols, row, strict=True)) for row in rows]


def submissions_by_interval(log: list[dict[str, Any]]) -> dict[str, list[str]]:
    """interval -> job ids the simulator accepted (202), in order."""
    out: dict[str, list[str]] = defaultdict(list)
    for entry in log:
        if entry["method"] == "POST" and entry["path"] == JOBS_PATH and entry["status"] == 202:
            out[entry["interval"]].append(entry["jobId"])
    return out


def text_columns(settings: Settings, schema: str = "genesys_raw") -> list[tuple[str, str]]:
    rows = warehouse.query(
        settings,
        "select table_name, column_name from information_schema.columns where table_schema = "
        f"'{schema}' and (data_type in ('text', 'character varying', 'json', 'jsonb', 'VARCHAR', "
        "'JSON'))",
    )
    return [(str(t), str(c)) for t, c in rows]


def scan_for_pii(
    settings: Settings, pii_by_conversation: dict[str, set[str]], other_pii: set[str] = frozenset()
) -> Counter[str]:
    """Occurrences of clear PII in any text/JSON column of any table of genesys_raw.

    A conversation row is searched for every PII value of that conversation (a linear scan: the
    full cross product of all values and rows would take minutes); every other table is searched
    for all of them.
    """
    everything = {p for values in pii_by_conversation.values() for p in values} | set(other_pii)
    hits: Counter[str] = Counter()
    columns: dict[str, list[str]] = defaultdict(list)
    for table, column in text_columns(settings):
        columns[table].append(column)
    for table, names in columns.items():
        select = ", ".join(f'cast("{c}" as text)' for c in names)
        keyed = table == "conversations"
        key = "conversation_id" if keyed else "null"
        for row in warehouse.query(settings, f'select {key}, {select} from genesys_raw."{table}"'):
            needles = pii_by_conversation.get(row[0], set()) if keyed else everything
            for name, value in zip(names, row[1:], strict=True):
                if value is not None and any(n in str(value) for n in needles if len(n) >= 4):
                    hits[f"{table}.{name}"] += 1
    return hits


def cli_env(settings: Settings) -> dict[str, str]:
    pg = settings.postgres
    assert settings.api_url and settings.client_id and settings.client_secret
    assert settings.hmac_key is not None
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GENESYS_", "PG"))},
        "GENESYS_API_URL": settings.api_url,
        "GENESYS_LOGIN_URL": settings.login_url or settings.api_url,
        "GENESYS_CLIENT_ID": settings.client_id,
        "GENESYS_CLIENT_SECRET": settings.client_secret,
        "GENESYS_FINANCE_TARGET": settings.target,
        "GENESYS_FINANCE_DUCKDB": str(settings.duckdb_path),
        "GENESYS_FINANCE_HMAC_KEY": settings.hmac_key.decode(),
        "PGHOST": pg.host,
        "PGPORT": str(pg.port),
        "PGUSER": pg.user,
        "PGPASSWORD": pg.password,
        "PGDATABASE": pg.database,
    }


def cli_path() -> Path:
    return Path(__file__).resolve().parents[2] / ".venv" / "bin" / "genesys-finance"
