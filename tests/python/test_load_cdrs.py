"""Carrier CDR loader: validation, rejects, idempotent reloads, masking, both targets, the CLI."""

from __future__ import annotations

import csv
import importlib.util
import json
import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import HMAC_TEST_KEY, REFERENCE_DIR
from genesys_finance import cli
from genesys_finance.cdr import CdrFileError, FileReport, builtin, load_cdr_files
from genesys_finance.cdr.mask import CdrMasker
from genesys_finance.cdr.parse import (
    FileContext,
    RowParser,
    parse_decimal,
    parse_int,
    timestamp_parser,
    to_utc,
)
from genesys_finance.masking import Masker
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.settings import Settings
from genesys_finance.warehouse import query

FIXTURES = Path(__file__).parent / "fixtures" / "cdrs"
MARCH = FIXTURES / "cdrs_march.csv"
VOICE = FIXTURES / "genesys_voice_may.csv"
MISSING = FIXTURES / "missing_column.csv"
CLEAR_COLUMNS = (
    "sip_call_id",
    "calling_number",
    "called_number",
    "SIP Call Id",
    "Origin",
    "Destination",
)


def _masker(settings: Settings) -> Masker:
    return Masker.from_settings(settings, env={})


def _load(settings: Settings, *paths: Path, fmt: str = "generic") -> dict[str, FileReport]:
    return {r.name: r for r in load_cdr_files(settings, list(paths), fmt, _masker(settings))}


def _rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    return query(settings, sql)


def _clear_values() -> set[str]:
    """Every clear number and Call-ID in the fixture files, as written and as bare digits."""
    values: set[str] = set()
    for path in FIXTURES.glob("*.csv"):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                for column in CLEAR_COLUMNS:
                    value = (row.get(column) or "").strip()
                    digits = "".join(c for c in value if c.isdigit())
                    if len(digits) > 4:
                        values.update({value, digits, value.removeprefix("tel:")})
    return values


# -- unit: parsers ---------------------------------------------------------------------------


def test_parse_decimal_is_exact() -> None:
    assert parse_decimal("0.0120", 8) == Decimal("0.0120")
    assert parse_decimal("-1.5", 6) == Decimal("-1.5")
    for bad in ("1e-3", "NaN", "Infinity", "1,000.00", "$0.01", "0.1234567", ""):
        with pytest.raises(ValueError):
            parse_decimal(bad, 6)
    with pytest.raises(ValueError, match="integer digits"):
        parse_decimal("12345678901234", 6)


def test_parse_int_is_strict() -> None:
    assert parse_int("60") == 60
    for bad in ("6O", "60.0", "+60", " ", "1e3"):
        with pytest.raises(ValueError, match="not an integer"):
            parse_int(bad)
    with pytest.raises(ValueError, match="negative"):
        parse_int("-60")


def test_parse_timestamp_to_utc() -> None:
    expected = datetime(2024, 5, 14, 13, 0, tzinfo=UTC)
    iso = timestamp_parser("iso8601")
    assert to_utc(iso("2024-05-14T15:00:00+02:00"), None) == expected
    assert to_utc(iso("2024-05-14T13:00:00Z"), None) == expected
    assert to_utc(iso("2024-05-14 13:00:00"), UTC) == expected
    with pytest.raises(ValueError, match="no UTC offset"):
        to_utc(iso("2024-05-14 13:00:00"), None)


def test_problem_messages_never_echo_the_value() -> None:
    from genesys_finance.cdr.parse import CdrReject, column_positions
    from genesys_finance.cdr.reader import RawRecord

    generic = builtin("generic")
    header = list(generic.columns.values())
    ctx = FileContext(
        MARCH,
        "x.csv",
        "0" * 64,
        generic,
        column_positions(generic, header, "x"),
        len(header),
        datetime.now(UTC),
    )
    row = dict.fromkeys(header, "+15555550177")
    reject = RowParser(ctx, _cdr_masker()).parse(RawRecord(7, list(row.values())))
    assert isinstance(reject, CdrReject)
    assert set(reject.field.split(",")) >= {"billed_seconds", "start_time", "direction"}
    assert "5555550177" not in json.dumps(reject.reason)


def _read(path: Path) -> FileReport:
    from genesys_finance.cdr import open_file, read_file

    report = FileReport(path, path.name)
    ctx = open_file(path, builtin("generic"), datetime.now(UTC))
    list(read_file(ctx, RowParser(ctx, _cdr_masker()), report))
    return report


def _cdr_masker() -> CdrMasker:
    return CdrMasker(_masker(Settings(hmac_key=HMAC_TEST_KEY.encode())), OrgNumbers())


def test_broken_quoting_rejects_only_that_line(tmp_path: Path) -> None:
    good = MARCH.read_text().splitlines()[1]
    path = tmp_path / "quoting.csv"
    path.write_text(f'{MARCH.read_text().splitlines()[0]}\n{good}\n"a"b{good}\n{good}\n')
    report = _read(path)
    assert (report.rows_read, report.rows_valid, report.rows_rejected) == (3, 2, 1)
    assert report.reasons == ["quoting.csv line 3: row: malformed CSV (quoting)"]


def test_bytes_not_in_the_encoding_reject_only_their_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    good = MARCH.read_text().splitlines()[:2]
    bad = good[1].replace("acme_telecom", "acm\u00e9_telecom").encode("latin-1")
    path.write_bytes("\n".join(good).encode() + b"\n" + bad + b"\n" + good[1].encode() + b"\n")
    report = _read(path)
    assert (report.rows_read, report.rows_valid, report.rows_rejected) == (3, 2, 1)
    assert report.reasons == ["latin1.csv line 3: row: bytes that are not valid utf-8 text"]


# -- loads on both targets -------------------------------------------------------------------


def test_good_and_bad_rows(warehouse: Settings) -> None:
    report = _load(warehouse, MARCH)["cdrs_march.csv"]
    assert (report.rows_read, report.loaded, report.rejected) == (9, 3, 6)
    assert report.consistent

    rejects = _rows(
        warehouse,
        "select source_line, field, reason, source_file "
        "from carrier_raw.cdr_rejects order by source_line",
    )
    assert [(line, field) for line, field, _, _ in rejects] == [
        (5, "billed_seconds"),
        (6, "direction"),
        (8, "start_time,rate_per_minute"),
        (9, "called_number,billed_amount"),
        (10, "row"),
        (11, "billed_seconds,currency"),
    ]
    assert rejects[0][2] == "cdrs_march.csv line 5: billed_seconds: not an integer"
    for line, field, reason, source_file in rejects:
        assert source_file == "cdrs_march.csv"
        assert reason.startswith(f"cdrs_march.csv line {line}: ")
        assert all(f"{name}: " in reason for name in field.split(","))


def test_values_are_typed_exactly(warehouse: Settings) -> None:
    _load(warehouse, MARCH)
    masker = _masker(warehouse)
    rows = _rows(
        warehouse,
        "select source_line, carrier, sip_call_id, start_time, answer_time, duration_ms, "
        "billed_seconds, calling_number_last4, calling_number_prefix, called_number_last4, "
        "called_number_prefix, direction, rate_per_minute, billed_amount, currency, invoice_id, "
        "source_format from carrier_raw.cdrs order by source_line",
    )
    first, second, third = rows
    assert first[2] == masker.hmac("ca110000-0000-4000-8000-000000000001")
    assert first[3] == datetime(2024, 5, 14, 13, 2, 11, 412000, tzinfo=UTC)
    assert first[4] == datetime(2024, 5, 14, 13, 2, 11, 690000, tzinfo=UTC)
    assert first[5:11] == (448428, 449, "0100", "1555", "0199", "1800")
    assert first[11:] == (
        "inbound",
        Decimal("0.012"),
        Decimal("0.0898"),
        "USD",
        "INV-2024-03",
        "generic",
    )
    assert isinstance(first[12], Decimal)
    assert second[3] == datetime(2024, 5, 14, 13, 0, tzinfo=UTC)  # +02:00 converted to UTC
    assert second[7:11] == ("0123", "4420", "5678", "3461")
    # Withheld caller, national called number (no prefix), no invoice id, no answer time.
    assert third[4:11] == (None, None, 30, None, None, "0142", None)
    assert third[15] is None


def test_column_types(warehouse: Settings) -> None:
    _load(warehouse, MARCH)
    mark = "?" if warehouse.target == "duckdb" else "%s"
    types = {
        name: (str(data_type).lower(), precision, scale)
        for name, data_type, precision, scale in query(
            warehouse,
            "select column_name, data_type, numeric_precision, numeric_scale "
            f"from information_schema.columns where table_schema = {mark} and table_name = {mark}",
            ("carrier_raw", "cdrs"),
        )
    }
    assert types["rate_per_minute"][1:] == (18, 8)
    assert types["billed_amount"][1:] == (18, 6)
    for name in ("start_time", "end_time", "answer_time", "loaded_at"):
        assert types[name][0] == "timestamp with time zone"
    assert types["billed_seconds"][0] == "bigint"


def test_reload_changes_nothing(warehouse: Settings) -> None:
    _load(warehouse, MARCH, VOICE, fmt="generic")
    snapshot = [
        _rows(warehouse, "select * from carrier_raw.cdrs order by cdr_id"),
        _rows(warehouse, "select * from carrier_raw.cdr_rejects order by reject_id"),
    ]
    report = _load(warehouse, MARCH)["cdrs_march.csv"]
    assert (report.rows_read, report.loaded, report.rejected) == (9, 3, 6)
    assert snapshot == [
        _rows(warehouse, "select * from carrier_raw.cdrs order by cdr_id"),
        _rows(warehouse, "select * from carrier_raw.cdr_rejects order by reject_id"),
    ]


def test_genesys_voice_format(warehouse: Settings) -> None:
    report = _load(warehouse, VOICE, fmt="genesys-voice")["genesys_voice_may.csv"]
    assert (report.rows_read, report.loaded, report.rejected) == (4, 3, 1)
    assert report.reasons == [
        "genesys_voice_may.csv line 5: duration_ms (Duration (Seconds)): not an integer"
    ]
    rows = _rows(
        warehouse,
        "select carrier, start_time, duration_ms, billed_seconds, rate_per_minute, "
        "billed_amount, invoice_id, direction, called_number_prefix, source_format "
        "from carrier_raw.cdrs order by source_line",
    )
    assert rows[0] == (
        "genesys_cloud_voice",
        datetime(2024, 5, 14, 10, tzinfo=UTC),
        34000,
        36,
        Decimal("0.0119"),
        Decimal("0.0071"),
        None,
        "outbound",
        "1317",
        "genesys-voice",
    )
    assert rows[1][1] == datetime(2024, 5, 14, 11, tzinfo=UTC)  # no offset: read as UTC
    assert rows[2][2:6] == (749000, 750, Decimal("0.015"), Decimal("0.1875"))


def test_missing_column_fails_the_whole_file(warehouse: Settings) -> None:
    reports = _load(warehouse, MISSING, MARCH)
    missing = reports["missing_column.csv"]
    assert missing.error == (
        "missing_column.csv: missing required column(s): billed_seconds (profile generic)"
    )
    assert not missing.consistent
    assert reports["cdrs_march.csv"].consistent
    assert _rows(warehouse, "select count(distinct source_file) from carrier_raw.cdrs") == [(1,)]


def test_voice_file_as_generic_gets_a_hint() -> None:
    from genesys_finance.cdr import open_file

    with pytest.raises(CdrFileError, match="use --format genesys-voice"):
        open_file(VOICE, builtin("generic"), datetime.now(UTC))


def test_call_ids_join_the_masked_payload(warehouse: Settings) -> None:
    _load(warehouse, MARCH)
    conversation = json.loads((REFERENCE_DIR / "example-conversation.json").read_text())
    masked = _masker(warehouse).mask_conversation(conversation)
    call_id = masked["participants"][0]["sessions"][0]["protocolCallId"]
    assert _rows(
        warehouse, f"select source_line from carrier_raw.cdrs where sip_call_id = '{call_id}'"
    ) == [(2,)]


def _all_carrier_text(settings: Settings) -> str:
    tables = _rows(
        settings,
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('carrier_raw', 'carrier_raw_staging')",
    )
    assert len(tables) >= 2
    cells = []
    for schema, table in tables:
        for row in _rows(settings, f'select * from {schema}."{table}"'):
            cells.extend(str(cell) for cell in row)
    return "\n".join(cells)


def test_no_clear_numbers_or_call_ids_in_any_table(warehouse: Settings) -> None:
    _load(warehouse, MARCH, MISSING)
    _load(warehouse, VOICE, fmt="genesys-voice")
    text = _all_carrier_text(warehouse)
    assert "cdrs_march.csv" in text  # the scan does see the data
    leaked = sorted(value for value in _clear_values() if value in text)
    assert leaked == []


# -- CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(warehouse: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    pg = warehouse.postgres
    env = {
        "GENESYS_FINANCE_TARGET": warehouse.target,
        "GENESYS_FINANCE_DUCKDB": str(warehouse.duckdb_path),
        "GENESYS_FINANCE_HMAC_KEY": HMAC_TEST_KEY,
        "PGHOST": pg.host,
        "PGPORT": str(pg.port),
        "PGUSER": pg.user,
        "PGPASSWORD": pg.password,
        "PGDATABASE": pg.database,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GENESYS_FINANCE_PII_POLICY", raising=False)
    _only_importable_commands(monkeypatch)
    return warehouse


def _only_importable_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands other engineers are still writing must not break this one's parser."""
    monkeypatch.setattr(
        cli,
        "COMMANDS",
        {
            name: module
            for name, module in cli.COMMANDS.items()
            if importlib.util.find_spec(module) is not None
        },
    )


def test_cli_end_to_end(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert cli.main(["load-cdrs", str(MARCH)]) == 0
    assert cli.main(["load-cdrs", "--format", "genesys-voice", str(VOICE)]) == 0
    assert cli.main(["load-cdrs", str(MISSING), str(MARCH)]) == 1
    out = capsys.readouterr()
    assert "cdrs_march.csv: 9 rows read, 3 loaded, 6 rejected (ok)" in out.out
    assert "genesys_voice_may.csv: 4 rows read, 3 loaded, 1 rejected (ok)" in out.out
    assert "rejected: cdrs_march.csv line 5: billed_seconds: not an integer" in out.out
    assert "missing required column(s): billed_seconds" in out.out
    logged = out.out + out.err + caplog.text
    assert [value for value in _clear_values() if value in logged] == []
    counts = _rows(
        cli_env,
        "select source_format, count(*) from carrier_raw.cdrs group by source_format order by 1",
    )
    assert counts == [("generic", 3), ("genesys-voice", 3)]


def test_cli_without_hmac_key_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GENESYS_FINANCE_DUCKDB", str(tmp_path / "w.duckdb"))
    monkeypatch.delenv("GENESYS_FINANCE_HMAC_KEY", raising=False)
    monkeypatch.delenv("GENESYS_FINANCE_TARGET", raising=False)
    _only_importable_commands(monkeypatch)
    assert cli.main(["load-cdrs", str(MARCH)]) == 2
    assert "GENESYS_FINANCE_HMAC_KEY is not set" in capsys.readouterr().err


def test_simulator_files_load_without_rejects(tmp_path: Path) -> None:
    generator = pytest.importorskip("genesys_sim.generator")
    carrier = pytest.importorskip("genesys_sim.carrier")
    from conftest import make_settings

    gen = generator.ConversationGenerator(
        seed=3, start=date(2024, 3, 1), end=date(2024, 3, 3), conversations_per_day=60
    )
    files = carrier.write_cdr_files(
        gen, date(2024, 3, 1), date(2024, 3, 3), tmp_path / "cdrs", seed=3,
        genesys_voice_report=True,
    )  # fmt: skip
    settings = make_settings("duckdb", tmp_path)
    reports = load_cdr_files(settings, files.cdr_paths, "generic", _masker(settings))
    reports += load_cdr_files(settings, [files.genesys_voice_path], "genesys-voice")
    assert all(r.consistent and r.rejected == 0 and r.rows_read > 0 for r in reports), [
        r.summary() for r in reports
    ]


def test_repeat_candidates_are_the_lines_sharing_start_and_end() -> None:
    """Lines sharing both instants with another line, across batches; a shared start alone or
    a shared end alone is not enough; too many to list gives None (compare every line)."""
    import pyarrow as pa

    from genesys_finance.cdr import load

    ts = pa.timestamp("us", tz="UTC")
    t = [datetime(2024, 3, 1, 9, m, tzinfo=UTC) for m in range(8)]

    def batch(rows: list[tuple[int, datetime, datetime]]) -> Any:
        lines, starts, ends = zip(*rows, strict=True)
        table = pa.table(
            {
                "start_time": pa.array(starts, ts),
                "end_time": pa.array(ends, ts),
                "source_line": pa.array(lines, pa.int64()),
            }
        )
        return load.repeat_keys(table)

    first = batch([(2, t[0], t[1]), (3, t[0], t[2]), (4, t[3], t[1])])
    second = batch([(5, t[4], t[5]), (6, t[0], t[1]), (7, t[1], t[0])])
    third = batch([(8, t[6], t[7]), (9, t[4], t[5]), (10, t[0], t[1])])
    assert load.repeat_candidates([first, second, third]) == [2, 5, 6, 9, 10]
    assert load.repeat_candidates([first]) == []
    assert load.repeat_candidates([]) == []
    many = load.MAX_REPEAT_CANDIDATES + 1
    same = batch([(line, t[0], t[1]) for line in range(2, many + 2)])
    assert load.repeat_candidates([same]) is None
