"""CDR format profiles, per format: simulator files in each carrier's layout load exactly; bad
rows are rejected with file, line, field and reason while good rows load; re-loads change
nothing; a profile of one's own loads with no code. Both targets."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import HMAC_TEST_KEY
from genesys_finance import cli
from genesys_finance.cdr import CdrFileError, builtin, builtin_names, load_cdr_files, open_file
from genesys_finance.cdr.profile import parse_profile
from genesys_finance.masking import Masker
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.settings import ConfigError, Settings
from genesys_finance.warehouse import query
from genesys_sim.cdr_formats import FORMATS, WITH_CALL_ID, views, write_format_files
from genesys_sim.generator import ConversationGenerator
from test_load_cdrs import cli_env  # noqa: F401  (the CLI environment fixture)

START, END = date(2024, 3, 1), date(2024, 3, 2)
SEED = 5
CARRIER = "atlantic_carrier"  # carrier of the simulated file each test loads
ORG = OrgNumbers.build([("+18005550000", "+18005550099")])  # the demo's toll-free DIDs


def _generator() -> ConversationGenerator:
    return ConversationGenerator(seed=SEED, start=START, end=END, conversations_per_day=120)


def _masker() -> Masker:
    return Masker.from_settings(Settings(hmac_key=HMAC_TEST_KEY.encode()), env={})


def _sim_file(tmp_path: Path, fmt: str) -> Path:
    files = write_format_files(_generator(), START, END, tmp_path / "sim", fmt, seed=SEED)
    return files.paths[CARRIER]


def _load(settings: Settings, fmt: str, *paths: Path) -> Any:
    carrier = None if builtin(fmt).has("carrier") else CARRIER
    return load_cdr_files(settings, list(paths), fmt, _masker(), carrier=carrier, org_numbers=ORG)


def _table(settings: Settings, name: str) -> list[tuple[Any, ...]]:
    return query(settings, f"select * from carrier_raw.{name} order by 1")


def test_shipped_profiles_are_the_cli_choices() -> None:
    assert builtin_names() == tuple(sorted(FORMATS))
    assert {"twilio", "bandwidth"} == {f for f in FORMATS if not builtin(f).has("sip_call_id")}


# -- each format, from the simulator's ground truth ------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_simulated_format_loads_exactly(warehouse: Settings, tmp_path: Path, fmt: str) -> None:
    path = _sim_file(tmp_path, fmt)
    [report] = _load(warehouse, fmt, path)
    assert report.consistent and report.rejected == 0 and report.rows_read > 10, report.summary()

    expected = [
        view
        for _, carrier_views in views(_generator(), START, END, seed=SEED)
        for view in carrier_views
        if view.cdr.carrier == CARRIER
    ]
    rows = query(
        warehouse,
        "select source_line, carrier, sip_call_id, start_time, end_time, duration_ms, "
        "billed_seconds, called_number_last4, called_number_prefix, called_number_org, "
        "calling_number_last4, direction, rate_per_minute, billed_amount, currency, invoice_id, "
        "source_format from carrier_raw.cdrs order by source_line",
    )
    assert len(rows) == len(expected) == report.rows_read
    masker = _masker()
    whole_seconds = fmt in ("telnyx", "twilio", "bandwidth")  # their stamps have no ms
    for row, view in zip(rows, expected, strict=True):
        cdr = view.cdr
        line, carrier, call_id, start, end, duration, billed, called4, prefix, org = row[:10]
        assert (carrier, row[-1]) == (CARRIER, fmt)
        assert call_id == (masker.hmac(view.call_id) if fmt in WITH_CALL_ID else None)
        start_ms = view.start_ms - view.start_ms % 1000 if whole_seconds else view.start_ms
        assert start == datetime.fromtimestamp(start_ms / 1000, UTC), (fmt, line)
        assert end >= start
        if fmt == "bandwidth":  # only the 6 s rounded duration
            assert duration is None
        elif fmt == "generic":
            assert duration == view.end_ms - view.start_ms
        else:
            assert duration == -(-(view.end_ms - view.start_ms) // 1000) * 1000
        if fmt == "twilio":  # billed seconds derived: the duration rounded up to the minute
            assert billed == -(-duration // 60_000) * 60
        else:
            assert billed == cdr.billed_seconds
        assert (called4, prefix) == (cdr.called[-4:], cdr.called[:4])
        assert org == (cdr.called if ORG.contains(cdr.called) else None)
        assert row[10] == cdr.calling[-4:]
        assert row[11] == cdr.direction
        assert row[12] == (None if fmt == "twilio" else cdr.rate_per_minute)
        assert row[13] == cdr.billed_amount  # Twilio's negative price is a positive charge
        assert row[14] == cdr.currency
        assert row[15] is not None or fmt == "genesys-voice"


@pytest.mark.parametrize("fmt", FORMATS)
def test_reload_changes_nothing(warehouse: Settings, tmp_path: Path, fmt: str) -> None:
    path = _sim_file(tmp_path, fmt)
    bad = _corrupt(path, builtin(fmt), tmp_path / "bad")
    _load(warehouse, fmt, path, bad)
    before = (_table(warehouse, "cdrs"), _table(warehouse, "cdr_rejects"))
    reports = _load(warehouse, fmt, bad, path)
    assert all(r.consistent for r in reports)
    assert (_table(warehouse, "cdrs"), _table(warehouse, "cdr_rejects")) == before


# -- bad input -------------------------------------------------------------------------------


def _write(path: Path, profile: Any, header: list[str], rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=profile.delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding=profile.encoding)


def _corrupt(path: Path, profile: Any, out_dir: Path) -> Path:
    """A copy of a good file with one bad row per kind of bad input (see BAD below), a
    repeated row, and a last line cut short without a line end."""
    with path.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    col = {f: header.index(c) for f, c in profile.columns.items() if c in header}
    # Distinct CDRs: a carrier's own duplicate differs only in its record id (never loaded).
    distinct = {tuple(row[i] for i in col.values()): row for row in reversed(rows)}
    good = sorted(distinct.values(), key=rows.index)[:8]
    bad: list[list[str]] = []

    def with_value(field: str, value: str) -> None:
        row = list(good[len(bad) % len(good)])
        row[col[field]] = value
        bad.append(row)

    with_value("start_time", "2024-02-30 25:61:00")
    with_value("duration_ms" if "duration_ms" in col else "billed_seconds", "-30")
    with_value("billed_amount", "0.0I2")
    with_value("called_number", "call-me-maybe")
    if "currency" in col:
        with_value("currency", "XYZ")
    with_value("called_number", "+1555\udcff0100")  # a byte that is not UTF-8, below
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"bad_{path.name}"
    body = [*good[:4], *bad, good[0], *good[4:]]  # good[0] again: a repeated row
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body)
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow(good[5])
    cut = line.getvalue()[: len(line.getvalue()) // 2]  # half a line, no line end
    data = (buffer.getvalue() + cut).encode("utf-8", "surrogateescape")
    out.write_bytes(data)
    return out


def _expected_bad(profile: Any) -> list[tuple[str, str]]:
    """(field, reason) of the bad rows `_corrupt` writes, in line order."""
    duration = "duration_ms" if profile.has("duration_ms") else "billed_seconds"
    kinds = [
        ("start_time", "not "),
        (duration, "negative"),
        ("billed_amount", "not a decimal number"),
        ("called_number", "not a phone number"),
    ]
    if profile.has("currency"):
        kinds.append(("currency", "not an ISO 4217 currency code"))
    kinds.append(("row", "bytes that are not valid utf-8 text"))
    return kinds


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_rows_rejected_good_rows_load(warehouse: Settings, tmp_path: Path, fmt: str) -> None:
    profile = builtin(fmt)
    bad = _corrupt(_sim_file(tmp_path, fmt), profile, tmp_path / "bad")
    [report] = _load(warehouse, fmt, bad)
    kinds = _expected_bad(profile)
    # Lines: header 1, four good rows 2-5, the bad rows, the repeated row, 4 good, the cut line.
    first_bad, repeated = 6, 6 + len(kinds)
    last = repeated + 5
    assert (report.rows_read, report.loaded, report.rejected) == (last - 1, 9, len(kinds) + 1)
    assert report.consistent
    rejects = query(
        warehouse,
        "select source_line, field, reason, source_file from carrier_raw.cdr_rejects "
        "order by source_line",
    )
    assert [(line, field) for line, field, _, _ in rejects] == [
        *[(first_bad + i, field) for i, (field, _) in enumerate(kinds)],
        (last, "row"),
    ]
    for (line, field, reason, source_file), (_, why) in zip(rejects, kinds, strict=False):
        assert source_file == bad.name
        assert reason.startswith(f"{bad.name} line {line}: {field}")
        assert why in reason, reason
        column = profile.columns.get(field)
        if column and column.lower() != field:
            assert f"{field} ({column}): " in reason  # the file's own column is named
    assert "truncated last line" in rejects[-1][2]
    assert report.duplicates == [(repeated, 2)]  # loaded (billed twice), and reported
    assert report.duplicate_notes() == [f"{bad.name} line {repeated}: same CDR as line 2"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_column_fails_on_the_header(tmp_path: Path, fmt: str) -> None:
    profile = builtin(fmt)
    path = _sim_file(tmp_path, fmt)
    with path.open(newline="") as handle:
        header, *rows = list(csv.reader(handle))
    gone = header.index(profile.columns["start_time"])
    out = tmp_path / "no_start.csv"
    _write(
        out, profile, header[:gone] + header[gone + 1 :], [r[:gone] + r[gone + 1 :] for r in rows]
    )
    with pytest.raises(CdrFileError) as error:
        open_file(out, profile, datetime.now(UTC))
    assert str(error.value) == (
        f"no_start.csv: missing required column(s): {profile.columns['start_time']} (profile {fmt})"
    )


# -- a profile of one's own ------------------------------------------------------------------

OWN_PROFILE = """
name: euro-carrier
carrier: euro_telecom
delimiter: ";"
encoding: latin-1
columns:
  start_time: Début
  end_time: Fin
  utc_offset: Décalage
  duration_ms: Durée
  calling_number: Appelant
  called_number: Appelé
  direction: Sens
  billed_amount: Montant
timestamps: {format: "%d/%m/%Y %H:%M:%S"}
duration: {unit: s}
billed_seconds: {round_duration_up_to: 1}
numbers: {format: national, default_country: "44", national_digits: 10, trunk_prefix: "0"}
direction: {inbound: [entrant], outbound: [sortant]}
currency: {fixed: GBP}
invoice_id: {period_template: "EU-%Y-%m", timezone: Europe/London, day_start_hours: 6}
"""


def test_own_profile_loads_with_no_code(warehouse: Settings, tmp_path: Path) -> None:
    profile_path = tmp_path / "euro.yml"
    profile_path.write_text(OWN_PROFILE, encoding="utf-8")
    data = tmp_path / "euro.csv"
    data.write_bytes(
        "Début;Fin;Décalage;Durée;Appelant;Appelé;Sens;Montant\n"
        "01/03/2024 05:30:00;01/03/2024 05:31:05;+01:00;65;020 7946 0123;+33612345678;entrant;0,1\n"
        "01/03/2024 07:30:00;01/03/2024 07:30:30;+0000;30;07700 900123;02079460999;sortant;0.0250\n"
        "01/03/2024 08:00:00;01/03/2024 08:00:30;+00:00;30;12345;02079460999;sortant;0.0100\n"
        .encode("latin-1")
    )  # fmt: skip
    from genesys_finance.cdr import from_file

    [report] = load_cdr_files(warehouse, [data], from_file(profile_path), _masker())
    assert (report.rows_read, report.loaded, report.rejected) == (3, 1, 2), report.reasons
    assert report.reasons == [
        "euro.csv line 2: billed_amount (Montant): not a decimal number",
        "euro.csv line 4: calling_number (Appelant): not a national number of country +44",
    ]
    [row] = query(
        warehouse,
        "select carrier, start_time, duration_ms, billed_seconds, calling_number_last4, "
        "calling_number_prefix, called_number_prefix, currency, invoice_id, source_format, "
        "sip_call_id from carrier_raw.cdrs",
    )
    assert row == (
        "euro_telecom",
        datetime(2024, 3, 1, 7, 30, tzinfo=UTC),
        30_000,
        30,
        "0123",
        "4477",  # 07700 900123 -> +447700900123
        "4420",
        "GBP",
        "EU-2024-03",
        "euro-carrier",
        None,
    )


def test_invoice_period_follows_the_day_boundary() -> None:
    from genesys_finance.cdr.mask import CdrMasker
    from genesys_finance.cdr.parse import FileContext, RowParser
    from genesys_finance.cdr.reader import RawRecord

    profile = parse_profile(OWN_PROFILE.replace("encoding: latin-1", ""), "own.yml")
    header = list(profile.columns.values())
    ctx = FileContext(
        Path("x.csv"),
        "x.csv",
        "0" * 64,
        profile,
        {f: i for i, f in enumerate(profile.columns)},
        len(header),
        datetime.now(UTC),
    )
    parser = RowParser(ctx, CdrMasker(_masker(), OrgNumbers()))

    def invoice(day_time: str) -> Any:
        start = datetime.strptime(day_time, "%d/%m/%Y %H:%M").strftime("%d/%m/%Y %H:%M:%S")
        cells = [start, start, "+00:00", "1", "02079460123", "02079460999", "entrant", "1"]
        return parser.parse(RawRecord(2, cells)).invoice_id  # type: ignore[union-attr]

    # Periods start at 06:00 London time: 1 April 05:59 BST (04:59 UTC) is still March.
    assert invoice("01/04/2024 04:59") == "EU-2024-03"
    assert invoice("01/04/2024 05:00") == "EU-2024-04"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("name: euro-carrier", "`name` must be a non-empty string"),
        ("  start_time: Début", "columns: `start_time` is required"),
        ("carrier: euro_telecom", "give the carrier either as `columns.carrier`"),
        ("encoding: latin-1", None),
        ('delimiter: ";"', None),
    ],
)
def test_profile_errors_name_the_key(change: str, message: str | None) -> None:
    text = OWN_PROFILE.replace(change, "")
    if message is None:  # defaults exist for these keys
        assert parse_profile(text, "own.yml").name == "euro-carrier"
        return
    with pytest.raises(ConfigError, match="CDR profile own.yml: " + message.replace("`", ".")):
        parse_profile(text, "own.yml")


def test_profile_rejects_unknown_keys_and_zones() -> None:
    with pytest.raises(ConfigError, match=r"unknown key\(s\) colums"):
        parse_profile(OWN_PROFILE + "colums: {}\n", "own.yml")
    bad_zone = OWN_PROFILE.replace("timezone: Europe/London", "timezone: Mars/Olympus")
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        parse_profile(bad_zone, "own.yml")


# -- CLI -------------------------------------------------------------------------------------


def test_cli_formats_and_format_file(
    cli_env: Settings,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    twilio = _sim_file(tmp_path, "twilio")
    assert cli.main(["load-cdrs", "--format", "twilio", "--carrier", CARRIER, str(twilio)]) == 0
    profile_path = tmp_path / "bw.yml"
    profile_path.write_text(
        _profile_text("bandwidth").replace("name: bandwidth", "name: my-bandwidth")
    )
    bandwidth = _sim_file(tmp_path, "bandwidth")
    assert cli.main(["load-cdrs", "--format-file", str(profile_path), str(bandwidth)]) == 0
    with pytest.raises(SystemExit):
        cli.main(["load-cdrs", "--format", "vonage", str(twilio)])
    out = capsys.readouterr()
    assert f"{twilio.name}: " in out.out and "(ok)" in out.out
    assert "invalid choice: 'vonage'" in out.err
    counts = query(
        cli_env,
        "select source_format, carrier, count(*) > 0 from carrier_raw.cdrs group by 1, 2 order by 1",  # noqa: E501
    )
    assert counts == [("my-bandwidth", "bandwidth", True), ("twilio", CARRIER, True)]


def _profile_text(name: str) -> str:
    from importlib import resources

    return resources.files("genesys_finance.cdr").joinpath("profiles", f"{name}.yml").read_text()


def test_skew_and_b2bua_are_in_the_ground_truth(tmp_path: Path) -> None:
    files = write_format_files(
        _generator(),
        START,
        END,
        tmp_path,
        "generic",
        seed=SEED,
        b2bua_rate=0.5,
        clock_skew_ms=4_000,
    )
    with files.line_truth_path.open(newline="") as handle:
        lines = list(csv.DictReader(handle))
    legs = [line for line in lines if line["conversation_id"]]
    b2bua = [line for line in legs if line["b2bua"] == "true"]
    assert 0 < len(b2bua) < len(legs)
    assert all(line["cdr_call_id"] != line["leg_call_id"] for line in b2bua)
    assert all(line["cdr_call_id"] == line["leg_call_id"] for line in legs if line not in b2bua)
    skews = {int(line["skew_ms"]) for line in lines}
    assert max(abs(s) for s in skews) <= 4_250 and len(skews) > 3
    assert {line["discrepancy_type"] for line in lines} >= {"none", "orphan_cdr"}
    per_file = {(line["file"], int(line["line"])) for line in lines}
    assert len(per_file) == len(lines)  # one truth row per CDR line


# Values at the edges of the column-wise rules (Bandwidth's strptime times, national numbers,
# `contains` directions; Twilio's RFC 2822 times, withheld numbers, derived billed seconds), as
# rows of cells joined by `;`.
_EDGE_ROWS: dict[str, list[str]] = {
    "generic": [  # ISO-8601: Z, offsets of either sign, T or space, fractions; no offset
        "carrier;sip_call_id;start_time;end_time;billed_seconds;calling_number;called_number;"
        "direction;rate_per_minute;billed_amount;currency;invoice_id",
        "acme;id-1;2024-03-01T10:00:00Z;2024-03-01T10:01:00.5Z;60;+18005550010;+14795742288;"
        "inbound;0.01;0.01;USD;INV-1",
        "acme;id-2;2024-03-01T10:00:00+05:30;2024-03-01T10:01:00.123456+05:30;60;+18005550010;"
        "+14795742288;outbound;0.01;0.01;USD;INV-1",
        "acme;id-3;2024-03-01 10:00:00-04:00;2024-03-01 10:01:00-04:00;60;+18005550010;"
        "+14795742288;inbound;0.01;0.01;USD;INV-1",
        "acme;id-4;2024-03-01T10:00:00;2024-03-01T10:01:00;60;+18005550010;+14795742288;"
        "inbound;0.01;0.01;USD;INV-1",
        "acme;id-5;2024-03-01T10:00:00.1234567Z;2024-03-01T10:01:00z;60;+18005550010;"
        "+14795742288;inbound;0.01;0.01;USD;INV-1",
        "acme;id-6;2024-03-01T10:00:00Z;2024-03-01T09:59:00-01:00;60;+18005550010;+14795742288;"
        "inbound;0.01;0.01;USD;INV-1",
    ],
    "bandwidth": [
        "CallStartDateTime;CallEndDateTime;CallType;CallSource;CallDestination;Duration;"
        "PerMinRate;Amount",
        "2024/03/01 12:00:00 AM;2024/03/01 12:02:39 AM;LOCAL ORIGINATION;18005550010;"
        "4795742288;162;0.008;0.0216",
        "2024/02/30 01:02:03 PM;2024/03/01 01:02:09 PM;LOCAL ORIGINATION;18005550010;"
        "4795742288;6;0.008;0.0008",
        "2024/03/01 1:02:03 PM;2024/03/01 01:02:09 PM;LOCAL ORIGINATION;8005550010;"
        "+442079460104;6;0.008;0.0008",
        "2024/03/01 01:02:03 pm;2024/03/01 01:02:09 PM;INTERSTATE TERMINATION;"
        "8005550010;14795742288;6;0.008;0.0008",
        "2024/03/01 01:02:03  PM;2024/03/01 01:02:09 PM;termination;18005550010;"
        "479574228;6;0.008;0.0008",
        "2024/03/01 11:59:59 PM;2024/03/02 12:00:05 AM;ORIGINATION TERMINATION;"
        "18005550010;4795742288;6;0.008;0.0008",
        "2024/03/31 11:59:59 PM;2024/04/01 12:00:05 AM;LOCAL ORIGINATION;(800) 555-0010;"
        "1-479-574-2288;6;0.008;0.0008",
        "2024/03/01 13:02:03 PM;2024/03/01 01:02:09 PM;LOCAL ORIGINATION;18005550010;"
        "4795742288;6;0.008;0.0008",
    ],
    "twilio": [
        "from;to;direction;start_time;end_time;duration;price;price_unit",
        "+18005550010;+14795742288;inbound;Fri, 01 Mar 2024 00:00:00 +0000;"
        "Fri, 01 Mar 2024 00:02:39 +0000;159;-0.0216;USD",
        "+18005550010;+14795742288;outbound-api;Mon, 01 Mar 2024 00:00:00 +0000;"
        "Fri, 01 Mar 2024 00:00:01 +0000;0;-0.0000;USD",
        "Anonymous;+14795742288;inbound;Fri, 01 Mar 2024 00:00:00 -0000;"
        "Fri, 01 Mar 2024 01:00:00 +0100;60;-0.0216;USD",
        "+18005550010;restricted;outbound-dial;Fri, 1 Mar 2024 00:00:00 +0000;"
        "Fri, 01 Mar 2024 00:01:01 +0000;61;-0.0216;usd",
        "+18005550010;+14795742288;inbound;Fri, 30 Feb 2024 00:00:00 +0000;"
        "Fri, 01 Mar 2024 00:00:09 +0000;9;-0.0216;USD",
        "+18005550010;+14795742288;inbound;Fri, 01 Mar 2024 00:00:00 +0000;"
        "Fri, 01 Mar 2024 00:00:09 +0000;;-0.0216;USD",
        "+18005550010;+14795742288;sideways;Fri, 01 Mar 2024 00:00:00 +0000;"
        "Fri, 01 Mar 2024 00:00:09 +0000;9;0.0216;USD",
    ],
}


@pytest.mark.parametrize("fmt", sorted(_EDGE_ROWS))
def test_column_path_reads_edge_values_like_the_row_parser(tmp_path: Path, fmt: str) -> None:
    """Values at the edges of the column-wise rules give the row parser's rows and rejects;
    the plain ones go column-wise."""
    from genesys_finance.cdr.batch import BatchParser, fast_path_fits
    from genesys_finance.cdr.load import arrow_schemas, rows_table
    from genesys_finance.cdr.mask import CdrMasker
    from genesys_finance.cdr.parse import CdrRow, RowParser
    from genesys_finance.cdr.reader import records

    path = tmp_path / f"{fmt}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(r.split(";") for r in _EDGE_ROWS[fmt])
    profile = builtin(fmt)
    ctx = open_file(path, profile, datetime.now(UTC))
    parser = RowParser(ctx, CdrMasker(_masker(), ORG), CARRIER)
    assert fast_path_fits(parser)
    items = list(records(path, profile.encoding, profile.delimiter, ctx.ends_with_newline))[1:]
    one_by_one = [parser.parse(item) for item in items]
    rows = [r for r in one_by_one if isinstance(r, CdrRow)]
    expected = rows_table(rows, arrow_schemas()[0])
    batch = BatchParser(parser, arrow_schemas()[0])
    table, rejects = batch.parse(items)
    assert table.sort_by("source_line").equals(expected.sort_by("source_line"))
    assert rejects == [r for r in one_by_one if not isinstance(r, CdrRow)]
    assert 0 < len(rejects) < len(items) - 1 and len(rows) > 1
    assert batch.slow_records < len(items)  # the plain lines went column-wise
    if fmt == "generic":  # every stamp with an offset column-wise: only ids 4 and 5 one by one
        assert batch.slow_records == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_column_path_reads_like_the_row_parser(tmp_path: Path, fmt: str) -> None:
    """The batch (column) parser and the row parser give the same rows and rejects."""
    from genesys_finance.cdr.batch import BatchParser, fast_path_fits
    from genesys_finance.cdr.load import arrow_schemas, rows_table
    from genesys_finance.cdr.mask import CdrMasker
    from genesys_finance.cdr.parse import CdrRow, RowParser
    from genesys_finance.cdr.reader import records

    profile = builtin(fmt)
    path = _corrupt(_sim_file(tmp_path, fmt), profile, tmp_path / "bad")
    ctx = open_file(path, profile, datetime.now(UTC))
    carrier = None if profile.has("carrier") else CARRIER
    parser = RowParser(ctx, CdrMasker(_masker(), ORG), carrier)
    items = list(records(path, profile.encoding, profile.delimiter, ctx.ends_with_newline))[1:]
    one_by_one = [parser.parse(item) for item in items]
    schema = arrow_schemas()[0]
    expected = rows_table([r for r in one_by_one if isinstance(r, CdrRow)], schema)
    batch = BatchParser(parser, schema)
    table, rejects = batch.parse(items)
    assert table.sort_by("source_line").equals(expected.sort_by("source_line"))
    assert rejects == [r for r in one_by_one if not isinstance(r, CdrRow)]
    if fast_path_fits(parser):  # only the bad rows, the repeated good one aside, go one by one
        assert batch.slow_records == len(rejects)
    assert fast_path_fits(parser)  # every built-in profile
