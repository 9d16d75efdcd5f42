"""Test helper: land masked conversations in `genesys_raw.conversations` directly with SQL.

The dbt tests use it instead of the extractor, so they depend only on the raw-table contract of
docs/internals.md (the same columns and types the dlt pipeline writes). Conversations are masked
with `genesys_finance.masking` when it is available, else with a small stand-in that produces the
same masked shape for the fields the dbt models read.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from genesys_finance import warehouse
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.settings import Settings
from genesys_oracles.voice_legs import voice_legs

CONVERSATION_COLUMNS = (
    "conversation_id",
    "conversation_start",
    "conversation_end",
    "payload",
    "extracted_at",
    "job_id",
)

DIMENSIONS = ("queues", "wrapup_codes", "divisions", "users")


def _ddl(target: str) -> list[str]:
    json_type = "jsonb" if target == "postgres" else "json"
    dims = [
        f"create table if not exists genesys_raw.{name} (id text primary key, name text, "
        f"division_id text, payload {json_type}, extracted_at timestamptz)"
        for name in DIMENSIONS
    ]
    return [
        "create schema if not exists genesys_raw",
        "create schema if not exists carrier_raw",
        "create table if not exists genesys_raw.conversations ("
        " conversation_id text primary key, conversation_start timestamptz,"
        f" conversation_end timestamptz, payload {json_type}, extracted_at timestamptz,"
        " job_id text)",
        "create table if not exists genesys_raw.extract_jobs ("
        " job_id text primary key, interval_start timestamptz, interval_end timestamptz,"
        " state text, submitted_at timestamptz, updated_at timestamptz)",
        *dims,
        "create table if not exists carrier_raw.cdrs ("
        " cdr_id text primary key, carrier text, sip_call_id text, start_time timestamptz,"
        " end_time timestamptz, answer_time timestamptz, duration_ms bigint,"
        " billed_seconds bigint, calling_number_last4 text, called_number_last4 text,"
        " calling_number_prefix text, called_number_prefix text, calling_number_org text,"
        " called_number_org text, direction text,"
        " rate_per_minute decimal(18, 8), billed_amount decimal(18, 6), currency text,"
        " invoice_id text, source_format text, source_file text, source_line bigint,"
        " file_sha256 text, loaded_at timestamptz)",
        "create table if not exists genesys_raw.did_pools (id text primary key,"
        f" start_phone_number text, end_phone_number text, provider text, payload {json_type},"
        " extracted_at timestamptz)",
        "create table if not exists genesys_raw.dids (id text primary key, phone_number text,"
        f" did_pool_id text, owner_type text, payload {json_type}, extracted_at timestamptz)",
        "create table if not exists carrier_raw.cdr_rejects ("
        " reject_id text primary key, source_file text, source_line bigint, file_sha256 text,"
        " field text, reason text, loaded_at timestamptz)",
    ]


def create_raw_tables(settings: Settings) -> None:
    """Create the raw schemas and tables (empty) with exactly the documented columns."""
    with warehouse.connect(settings) as conn:
        cur = conn.cursor()
        for statement in _ddl(settings.target):
            cur.execute(statement)


# --- masking -------------------------------------------------------------------------------------

_DIGITS = re.compile(r"\D")
_E164 = re.compile(r"^tel:\+(\d+)$")
_REDACT_SESSION = (
    "remote",
    "remoteNameDisplayable",
    "callbackUserName",
    "addressFrom",
    "addressTo",
    "addressSelf",
    "addressOther",
)
_LAST4 = ("ani", "dnis", "sessionDnis")


def _last4(value: str) -> str:
    digits = _DIGITS.sub("", value)
    return digits[-4:] if digits else "REDACTED"


def _fallback_mask(conv: dict[str, Any], key: bytes, prefix_digits: int = 4) -> dict[str, Any]:
    """Mask the PII fields the dbt layer reads, in the shape of docs/internals.md."""
    out = orjson.loads(orjson.dumps(conv))
    for participant in out.get("participants", []):
        if "participantName" in participant:
            participant["participantName"] = "REDACTED"
        if "attributes" in participant:
            participant["attributes"] = {k: "REDACTED" for k in participant["attributes"]}
        for session in participant.get("sessions", []):
            for name in _LAST4:
                if name in session:
                    match = _E164.match(session[name])
                    if match:
                        session[f"{name}Prefix"] = match.group(1)[:prefix_digits]
                    session[name] = _last4(session[name])
            for name in _REDACT_SESSION:
                if name in session:
                    session[name] = "REDACTED"
            if "protocolCallId" in session:
                session["protocolCallId"] = hmac.new(
                    key, session["protocolCallId"].encode(), hashlib.sha256
                ).hexdigest()
            for segment in session.get("segments", []):
                segment.pop("wrapUpNote", None)
            flow = session.get("flow")
            if flow:
                for name in ("entryReason", "transferTargetAddress", "transferTargetName"):
                    if name in flow:
                        flow[name] = "REDACTED"
    return out


def mask_conversations(
    settings: Settings,
    conversations: Iterable[dict[str, Any]],
    org_numbers: OrgNumbers | None = None,
) -> list[dict[str, Any]]:
    """Masked copies, with the project's masking module when it exists (`org_numbers`: the org's
    own numbers, kept in clear)."""
    key = settings.hmac_key or b"test-hmac-key-not-a-secret"
    try:
        from genesys_finance.masking import Masker
    except ImportError:
        return [_fallback_mask(conv, key) for conv in conversations]
    masker = Masker.from_settings(settings, env={}, org_numbers=org_numbers)
    return [masker.mask_conversation(conv) for conv in conversations]


# --- loading -------------------------------------------------------------------------------------


def _ts(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _rows(
    conversations: Sequence[dict[str, Any]], extracted_at: datetime, job_id: str
) -> list[tuple[Any, ...]]:
    return [
        (
            conv["conversationId"],
            _ts(conv.get("conversationStart")),
            _ts(conv.get("conversationEnd")),
            orjson.dumps(conv).decode(),
            extracted_at,
            job_id,
        )
        for conv in conversations
    ]


def load_conversations(
    settings: Settings,
    conversations: Sequence[dict[str, Any]],
    extracted_at: datetime | None = None,
    job_id: str = "test-job",
    mask: bool = True,
) -> int:
    """Upsert conversations (masked unless `mask=False`: already masked) like the dlt merge does."""
    create_raw_tables(settings)
    if not conversations:
        return 0
    extracted_at = extracted_at or datetime.now(UTC)
    payloads = mask_conversations(settings, conversations) if mask else list(conversations)
    rows = _rows(payloads, extracted_at, job_id)
    with warehouse.connect(settings) as conn:
        if settings.target == "duckdb":
            _load_duckdb(conn, rows)
        else:
            _load_postgres(conn, rows)
    return len(rows)


def _load_duckdb(conn: Any, rows: list[tuple[Any, ...]]) -> None:
    import pyarrow as pa

    # Payloads compressed as the extractor stores them (zstd), so dbt reads what it would read.
    conn.execute("set force_compression = 'zstd'")

    columns = list(zip(*rows, strict=True))
    table = pa.table(
        {
            name: pa.array(values, type=pa.timestamp("us", tz="UTC"))
            if name in ("conversation_start", "conversation_end", "extracted_at")
            else pa.array(values, type=pa.string())
            for name, values in zip(CONVERSATION_COLUMNS, columns, strict=True)
        }
    )
    conn.register("incoming_conversations", table)
    conn.execute("begin")
    conn.execute(
        "delete from genesys_raw.conversations where conversation_id in "
        "(select conversation_id from incoming_conversations)"
    )
    conn.execute(
        f"insert into genesys_raw.conversations ({', '.join(CONVERSATION_COLUMNS)}) "
        "select conversation_id, conversation_start, conversation_end, cast(payload as json), "
        "extracted_at, job_id from incoming_conversations"
    )
    conn.execute("commit")
    conn.unregister("incoming_conversations")


def _load_postgres(conn: Any, rows: list[tuple[Any, ...]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(
            [value.isoformat() if isinstance(value, datetime) else value for value in row]
        )
    buffer.seek(0)
    cur = conn.cursor()
    cur.execute("begin")
    cur.execute(
        "create temporary table incoming_conversations "
        "(like genesys_raw.conversations including defaults) on commit drop"
    )
    cur.copy_expert(
        f"copy incoming_conversations ({', '.join(CONVERSATION_COLUMNS)}) from stdin with csv",
        buffer,
    )
    cur.execute(
        "delete from genesys_raw.conversations c using incoming_conversations i "
        "where c.conversation_id = i.conversation_id"
    )
    cur.execute("insert into genesys_raw.conversations select * from incoming_conversations")
    cur.execute("commit")


def _mask_entity(settings: Settings, kind: str, entity: dict[str, Any]) -> dict[str, Any]:
    try:
        from genesys_finance.masking import Masker
    except ImportError:
        masked = dict(entity)
        if kind == "users":
            masked = {k: v for k, v in masked.items() if k not in ("email", "addresses")}
            masked["name"] = "REDACTED"
        return masked
    return Masker.from_settings(settings, env={}).mask_entity(kind, entity)


def load_dimensions(
    settings: Settings,
    entities: dict[str, Sequence[dict[str, Any]]],
    extracted_at: datetime | None = None,
) -> None:
    """Replace the dimension tables: `entities` maps a table name (queues, ...) to API dicts."""
    create_raw_tables(settings)
    extracted_at = extracted_at or datetime.now(UTC)
    mark = warehouse.placeholder(settings)
    json_cast = "cast({} as jsonb)" if settings.target == "postgres" else "cast({} as json)"
    with warehouse.connect(settings) as conn:
        cur = conn.cursor()
        for table, items in entities.items():
            if table not in DIMENSIONS:
                raise ValueError(f"unknown dimension {table!r}")
            cur.execute(f"delete from genesys_raw.{table}")
            for item in items:
                division = item.get("division") or {}
                payload = _mask_entity(settings, table, item)
                name = payload.get("name")
                cur.execute(
                    f"insert into genesys_raw.{table} values ({mark}, {mark}, {mark}, "
                    f"{json_cast.format(mark)}, {mark})",
                    [
                        item["id"],
                        name,
                        None if table == "divisions" else division.get("id"),
                        orjson.dumps(payload).decode(),
                        extracted_at,
                    ],
                )


def load_org_numbers(
    settings: Settings,
    pools: Sequence[dict[str, Any]],
    dids: Sequence[dict[str, Any]] = (),
    extracted_at: datetime | None = None,
) -> None:
    """Replace `genesys_raw.did_pools` and `dids` with API-shaped entities (`startPhoneNumber`,
    `endPhoneNumber`, `provider`; `phoneNumber`, `didPool.id`, `ownerType`): the org's numbers,
    in clear as the extractor lands them."""
    create_raw_tables(settings)
    extracted_at = extracted_at or datetime.now(UTC)
    mark = warehouse.placeholder(settings)
    json_cast = "cast({} as jsonb)" if settings.target == "postgres" else "cast({} as json)"
    values = f"values ({mark}, {mark}, {mark}, {mark}, {json_cast.format(mark)}, {mark})"
    with warehouse.connect(settings) as conn:
        cur = conn.cursor()
        cur.execute("delete from genesys_raw.did_pools")
        cur.execute("delete from genesys_raw.dids")
        for pool in pools:
            cur.execute(
                f"insert into genesys_raw.did_pools {values}",
                [
                    pool["id"],
                    pool.get("startPhoneNumber"),
                    pool.get("endPhoneNumber"),
                    pool.get("provider"),
                    orjson.dumps(pool).decode(),
                    extracted_at,
                ],
            )
        for did in dids:
            cur.execute(
                f"insert into genesys_raw.dids {values}",
                [
                    did["id"],
                    did.get("phoneNumber"),
                    (did.get("didPool") or {}).get("id"),
                    did.get("ownerType"),
                    orjson.dumps(did).decode(),
                    extracted_at,
                ],
            )


# --- expectations: a plain Python walk of the same payloads -------------------------------------

COMPLETE_VARIANTS = {
    "tActiveCallback": "tActiveCallbackComplete",
    "tCoaching": "tCoachingComplete",
    "tHeld": "tHeldComplete",
    "tMonitoring": "tMonitoringComplete",
    "tPark": "tParkComplete",
    "tTalk": "tTalkComplete",
}


def metric_column(name: str) -> str:
    snake = re.sub("([A-Z])", r"_\1", name).lower()
    return snake + ("_ms" if name.startswith("t") else "")


def expected_flattening(conversations: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts, per-session metric totals and leg answered durations (the `voice_legs` oracle),
    computed from masked payloads."""
    out: dict[str, Any] = {
        "conversations": len(conversations),
        "participants": 0,
        "sessions": 0,
        "segments": 0,
        "metrics": 0,
        "session_metrics": {},
        "legs": {},
    }
    for conv in conversations:
        for participant in conv.get("participants", []):
            out["participants"] += 1
            for session in participant.get("sessions", []):
                out["sessions"] += 1
                segments = session.get("segments", [])
                metrics = session.get("metrics", [])
                out["segments"] += len(segments)
                out["metrics"] += len(metrics)
                totals: dict[str, int] = {}
                for metric in metrics:
                    totals[metric["name"]] = totals.get(metric["name"], 0) + int(metric["value"])
                for base, complete in COMPLETE_VARIANTS.items():
                    if complete in totals:
                        totals[base] = totals.pop(complete)
                key = (conv["conversationId"], session["sessionId"])
                out["session_metrics"][key] = {metric_column(k): v for k, v in totals.items()}
        for leg in voice_legs(conv):
            out["legs"][(leg.conversation_id, leg.session_id)] = leg.answered_duration_ms
    return out


def fetch(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    return warehouse.query(settings, sql)


FLATTENED_MODELS = (
    "staging.stg_genesys__conversations",
    "staging.stg_genesys__participants",
    "staging.stg_genesys__sessions",
    "staging.stg_genesys__segments",
    "staging.stg_genesys__session_metrics",
    "intermediate.int_session_metrics_pivoted",
    "intermediate.int_voice_legs",
)


def snapshot(
    settings: Settings,
    relations: Sequence[str] = FLATTENED_MODELS,
    exclude: Collection[str] = (),
) -> dict[str, list[tuple[str, ...]]]:
    """Every row of each relation as sorted tuples of text (comparable across runs), without the
    columns named in `exclude` (bookkeeping of the run that wrote a row, such as `built_at`)."""
    result: dict[str, list[tuple[str, ...]]] = {}
    with warehouse.connect(settings) as conn:
        cur = conn.cursor()
        for relation in relations:
            cur.execute(f"select * from {relation}")
            keep = [i for i, col in enumerate(cur.description) if col[0] not in exclude]
            rows = [
                tuple("" if row[i] is None else str(row[i]) for i in keep) for row in cur.fetchall()
            ]
            result[relation] = sorted(rows)
    return result
