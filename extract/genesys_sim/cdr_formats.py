"""The simulated carriers' CDRs written in each carrier's own export format, from one ground truth.

`carrier.py` decides what each carrier bills (legs, rating, injected discrepancies); this module
only writes those same CDRs the way each carrier's export looks (docs/cdr-formats.md), with the
quirks a loader must survive:

- generic: times in the carrier's local time zone with their offset (`-05:00`, `+01:00`);
- genesys-voice: the Genesys Cloud Voice usage report, times UTC, whole seconds of duration;
- telnyx: UTC `Z` times, `call_sec` and the billed `billed_sec`;
- twilio: no SIP Call-ID, RFC 2822 times to the second, `price` negative for a charge, no rate;
- bandwidth: no SIP Call-ID (`CallID` is a record id), `YYYY/MM/DD hh:mm:ss AM` UTC times to the
  second, only the 6-second-rounded duration, North American numbers without `+` (`1NPANXXXXXX`
  calling, `NPANXXXXXX` called), amounts in USD without a currency column.

The carrier's clock is not Genesys's: each carrier's times are off by a fixed skew (a few seconds,
`clock_skew_ms`) plus a small per-call jitter, and a share of the legs (`b2bua_rate`) reach the
carrier through a back-to-back user agent that presents its own Call-ID instead of the leg's
`protocolCallId`. The per-format ground truth names, for every CDR line, the leg it belongs to and
the discrepancy injected, so a reconciliation can be scored (precision and recall) per format.
"""

from __future__ import annotations

import csv
import random
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from genesys_sim.carrier import (
    DEFAULT_RATE_CARDS,
    TRUTH_COLUMNS,
    Cdr,
    Tariff,
    Truth,
    _Generator,
    bill_leg,
    carrier_legs,
    invoice_id,
    iter_legs,
    load_tariff,
    orphan_cdrs,
)
from genesys_sim.shapes import iso_ms

FORMATS = ("generic", "genesys-voice", "telnyx", "twilio", "bandwidth")
# Formats whose file carries the SIP Call-ID (the others are matched by time and number).
WITH_CALL_ID = frozenset({"generic", "genesys-voice", "telnyx"})
# The local time zone each simulated carrier writes its generic files in (UTC when not listed).
CARRIER_ZONES = {"northwind_telecom": "Europe/London", "atlantic_carrier": "America/New_York"}
LINE_TRUTH_COLUMNS = (
    "format", "file", "line", "carrier", "cdr_call_id", "leg_call_id", "conversation_id",
    "discrepancy_type", "b2bua", "skew_ms",
)  # fmt: skip


@dataclass(frozen=True)
class CarrierView:
    """One CDR as the carrier recorded it: its own clock, the Call-ID it saw."""

    cdr: Cdr  # Genesys-clock times, the leg's Call-ID (carrier.py's truth)
    start_ms: int
    end_ms: int
    call_id: str  # what the carrier saw: the leg's, or a B2BUA's own
    b2bua: bool
    skew_ms: int
    record_id: int  # the carrier's own row id (Twilio sid, Bandwidth CallID)


@dataclass(frozen=True)
class FormatFiles:
    format: str
    paths: dict[str, Path]  # carrier -> file
    line_truth_path: Path  # one row per CDR line: its leg and injected discrepancy
    leg_truth_path: Path  # carrier.py's per-leg truth (missing CDRs included)


# -- the carrier's view ---------------------------------------------------------------------------


def carrier_skew_ms(carrier: str, seed: int, clock_skew_ms: int) -> int:
    """The carrier's fixed clock offset, in [-clock_skew_ms, clock_skew_ms]."""
    rng = random.Random(f"{seed}:skew:{carrier}")
    return rng.randint(-clock_skew_ms, clock_skew_ms)


def carrier_view(
    cdr: Cdr, copy: int, seed: int, clock_skew_ms: int, jitter_ms: int, b2bua_rate: float
) -> CarrierView:
    """Deterministic per (Call-ID, copy): a duplicate is billed at the same instant."""
    rng = random.Random(f"{seed}:view:{cdr.sip_call_id}")
    skew = carrier_skew_ms(cdr.carrier, seed, clock_skew_ms) + rng.randint(-jitter_ms, jitter_ms)
    b2bua = rng.random() < b2bua_rate
    call_id = str(uuid.UUID(int=rng.getrandbits(128), version=4)) if b2bua else cdr.sip_call_id
    record = rng.getrandbits(40) * 4 + copy
    return CarrierView(cdr, cdr.start_ms + skew, cdr.end_ms + skew, call_id, b2bua, skew, record)


# -- one writer per format ------------------------------------------------------------------------


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _local_iso(ms: int, zone: str | None) -> str:
    if zone is None:
        return iso_ms(ms)
    return _utc(ms).astimezone(ZoneInfo(zone)).isoformat(timespec="milliseconds")


def _seconds(ms: int) -> int:
    return -(-ms // 1000)


def _generic(v: CarrierView) -> dict[str, str]:
    c, zone = v.cdr, CARRIER_ZONES.get(v.cdr.carrier)
    return {
        "carrier": c.carrier,
        "sip_call_id": v.call_id,
        "start_time": _local_iso(v.start_ms, zone),
        "end_time": _local_iso(v.end_ms, zone),
        "billed_seconds": str(c.billed_seconds),
        "calling_number": f"+{c.calling}",
        "called_number": f"+{c.called}",
        "direction": c.direction,
        "rate_per_minute": f"{c.rate_per_minute:f}",
        "billed_amount": f"{c.billed_amount:f}",
        "currency": c.currency,
        "invoice_id": invoice_id(c.carrier, c.start_ms),
        "answer_time": _local_iso(v.start_ms, zone),
        "duration_ms": str(v.end_ms - v.start_ms),
    }


def _genesys_voice(v: CarrierView) -> dict[str, str]:
    c = v.cdr
    toll_free = c.direction == "inbound" and c.called.startswith("1800")
    call_type = "Toll-Free Inbound" if toll_free else c.direction.title()
    return {
        "SIP Call Id": v.call_id,
        "Origin": f"+{c.calling}",
        "Destination": f"+{c.called}",
        "Usage Group": {"Toll-Free Inbound": "PCV-TFI", "Inbound": "PCV-IN"}.get(
            call_type, "PCV-OUT"
        ),
        "Usage Group Display": f"Genesys Cloud Voice {call_type}",
        "Call Type": call_type,
        "Direction": c.direction.title(),
        "Start time": iso_ms(v.start_ms),
        "End Time": iso_ms(v.end_ms),
        "Duration (Seconds)": str(_seconds(v.end_ms - v.start_ms)),
        "Adjusted Duration (seconds)": str(c.billed_seconds),
        "Adjusted Duration (minutes)": f"{Decimal(c.billed_seconds) / 60:.4f}",
        "Usage Rate Per Minute": f"{c.rate_per_minute:f}",
        "Total cost": f"{c.billed_amount:f}",
        "Currency": c.currency,
    }


def _telnyx(v: CarrierView) -> dict[str, str]:
    c = v.cdr
    return {
        "id": str(uuid.UUID(int=v.record_id, version=4)),
        "record_type": "sip_trunking_detail_record",
        "sip_call_id": v.call_id,
        "cli": f"+{c.calling}",
        "cld": f"+{c.called}",
        "direction": c.direction,
        "started_at": _utc(v.start_ms).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "finished_at": _utc(v.end_ms).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "call_sec": str(_seconds(v.end_ms - v.start_ms)),
        "billed_sec": str(c.billed_seconds),
        "rate": f"{c.rate_per_minute:f}",
        "cost": f"{c.billed_amount:f}",
        "currency": c.currency,
    }


def _twilio(v: CarrierView) -> dict[str, str]:
    c = v.cdr
    fmt = "%a, %d %b %Y %H:%M:%S +0000"
    return {
        "sid": f"CA{v.record_id:032x}",
        "from": f"+{c.calling}",
        "to": f"+{c.called}",
        "direction": "inbound" if c.direction == "inbound" else "outbound-api",
        "status": "completed",
        "start_time": _utc(v.start_ms).strftime(fmt),
        "end_time": _utc(v.end_ms).strftime(fmt),
        "duration": str(_seconds(v.end_ms - v.start_ms)),
        "price": f"{-c.billed_amount:f}",
        "price_unit": c.currency,
    }


def _nanp(digits: str, with_country: bool) -> str:
    """A North American number as Bandwidth writes it; others stay E.164."""
    if digits.startswith("1") and len(digits) == 11:
        return digits if with_country else digits[1:]
    return f"+{digits}"


def _bandwidth(v: CarrierView) -> dict[str, str]:
    c = v.cdr
    fmt = "%Y/%m/%d %I:%M:%S %p"
    if c.direction == "inbound":
        call_type = "TOLL-FREE ORIGINATION" if c.called.startswith("1800") else "LOCAL ORIGINATION"
    else:
        call_type = "INTERSTATE TERMINATION" if c.called.startswith("1") else "INTL TERMINATION"
    return {
        "AccountNumber": "1234567",
        "CallStartDateTime": _utc(v.start_ms).strftime(fmt),
        "CallEndDateTime": _utc(v.end_ms).strftime(fmt),
        "CallType": call_type,
        "CallSource": _nanp(c.calling, with_country=True),
        "CallDestination": _nanp(c.called, with_country=False),
        "Duration": str(c.billed_seconds),
        "PerMinRate": f"{c.rate_per_minute:f}",
        "Amount": f"{c.billed_amount:f}",
        "CallID": str(v.record_id),
        "BdrID": str(v.record_id),
    }


_WRITERS: dict[str, Callable[[CarrierView], dict[str, str]]] = {
    "generic": _generic,
    "genesys-voice": _genesys_voice,
    "telnyx": _telnyx,
    "twilio": _twilio,
    "bandwidth": _bandwidth,
}


def columns(fmt: str) -> list[str]:
    sample = Cdr(
        "c", "x", 0, 1000, 6, "15550100", "18005550100", "inbound", Decimal(1), Decimal(1), "USD"
    )
    return list(_WRITERS[fmt](carrier_view(sample, 0, 0, 0, 0, 0.0)))


# -- files ----------------------------------------------------------------------------------------


def _billed(
    generator: _Generator,
    start: date,
    end: date,
    seed: int,
    discrepancy_rate: float,
    rate_card_path: Path,
) -> Iterator[tuple[Truth, list[Cdr]]]:
    """carrier.py's truth and CDRs, legs first, then the orphan CDRs."""
    card = load_tariff(rate_card_path)
    billed = 0
    for leg in iter_legs(generator, start, end):
        truth, rows = bill_leg(leg, card, seed, discrepancy_rate)
        billed += bool(rows)
        yield truth, rows
    for truth, cdr in orphan_cdrs(card, start, end, max(1, round(billed * discrepancy_rate)), seed):
        yield truth, [cdr]


def views(
    generator: _Generator,
    start: date,
    end: date,
    seed: int = 0,
    discrepancy_rate: float = 0.03,
    clock_skew_ms: int = 3_000,
    jitter_ms: int = 250,
    b2bua_rate: float = 0.02,
    rate_card_path: Path = DEFAULT_RATE_CARDS,
) -> Iterator[tuple[Truth, list[CarrierView]]]:
    """Every leg's (and orphan's) truth with the CDRs its carrier recorded, in file order."""
    for truth, rows in _billed(generator, start, end, seed, discrepancy_rate, rate_card_path):
        yield (
            truth,
            [
                carrier_view(cdr, copy, seed, clock_skew_ms, jitter_ms, b2bua_rate)
                for copy, cdr in enumerate(rows)
            ],
        )


class CarrierFiles:
    """Streams CDR lines to one file per carrier, each in its carrier's format (`format_of`: one
    format for all, or carrier -> format), opened on the carrier's first line."""

    def __init__(self, out_dir: Path, format_of: str | Mapping[str, str], tag: str) -> None:
        self.out_dir = out_dir
        self.format_of = format_of
        self.tag = tag
        self.paths: dict[str, Path] = {}
        self._handles: dict[str, tuple[IO[str], csv.DictWriter[str], str]] = {}
        self._lines: dict[str, int] = {}
        out_dir.mkdir(parents=True, exist_ok=True)

    def fmt(self, carrier: str) -> str:
        fmt = self.format_of if isinstance(self.format_of, str) else self.format_of[carrier]
        if fmt not in _WRITERS:
            raise ValueError(f"unknown CDR format {fmt!r} (one of {', '.join(FORMATS)})")
        return fmt

    def write(self, view: CarrierView) -> tuple[Path, int]:
        """Write one line; its file and line number (header = line 1)."""
        carrier = view.cdr.carrier
        if carrier not in self._handles:
            fmt = self.fmt(carrier)
            path = self.paths[carrier] = self.out_dir / f"cdrs_{carrier}_{fmt}_{self.tag}.csv"
            handle = path.open("w", newline="", encoding="utf-8")
            writer = csv.DictWriter(handle, columns(fmt), lineterminator="\n")
            writer.writeheader()
            self._handles[carrier] = (handle, writer, fmt)
            self._lines[carrier] = 1
        _, writer, fmt = self._handles[carrier]
        writer.writerow(_WRITERS[fmt](view))
        self._lines[carrier] += 1
        return self.paths[carrier], self._lines[carrier]

    def close(self) -> None:
        for handle, _, _ in self._handles.values():
            handle.close()
        self._handles.clear()


def conversation_views(
    conversations: Iterable[dict[str, Any]],
    tariff: Tariff,
    seed: int = 0,
    discrepancy_rate: float = 0.03,
    clock_skew_ms: int = 3_000,
    jitter_ms: int = 250,
    b2bua_rate: float = 0.02,
) -> Iterator[CarrierView]:
    """The CDRs the carriers record for these (unmasked) conversations, as `views` bills them, for a
    caller that already holds the conversations (the benchmark: no second generation pass)."""
    for conversation in conversations:
        for leg in carrier_legs(conversation):
            _, rows = bill_leg(leg, tariff, seed, discrepancy_rate)
            for copy, cdr in enumerate(rows):
                yield carrier_view(cdr, copy, seed, clock_skew_ms, jitter_ms, b2bua_rate)


def write_format_files(
    generator: _Generator,
    start: date,
    end: date,
    out_dir: Path,
    fmt: str,
    seed: int = 0,
    discrepancy_rate: float = 0.03,
    clock_skew_ms: int = 3_000,
    jitter_ms: int = 250,
    b2bua_rate: float = 0.02,
    rate_card_path: Path = DEFAULT_RATE_CARDS,
) -> FormatFiles:
    """One `fmt` file per carrier for conversations started on days `[start, end)`, plus the
    per-line and per-leg ground truth. Streams: memory holds the open files, not the period."""
    files = CarrierFiles(out_dir, fmt, f"{start:%Y%m%d}_{end:%Y%m%d}")
    files.fmt("any")  # an unknown format fails before anything is written
    tag = f"{fmt}_{start:%Y%m%d}_{end:%Y%m%d}"
    line_truth = out_dir / f"truth_lines_{tag}.csv"
    leg_truth = out_dir / f"truth_legs_{tag}.csv"
    try:
        with (
            line_truth.open("w", newline="", encoding="utf-8") as lf,
            leg_truth.open("w", newline="", encoding="utf-8") as tf,
        ):
            lines_out = csv.DictWriter(lf, LINE_TRUTH_COLUMNS, lineterminator="\n")
            legs_out = csv.DictWriter(tf, TRUTH_COLUMNS, lineterminator="\n")
            lines_out.writeheader()
            legs_out.writeheader()
            billed = views(
                generator, start, end, seed, discrepancy_rate, clock_skew_ms, jitter_ms,
                b2bua_rate, rate_card_path,
            )  # fmt: skip
            for truth, carrier_views in billed:
                legs_out.writerow(truth.row())
                for view in carrier_views:
                    cdr = view.cdr
                    path, line = files.write(view)
                    lines_out.writerow(
                        {
                            "format": fmt,
                            "file": path.name,
                            "line": line,
                            "carrier": cdr.carrier,
                            "cdr_call_id": view.call_id if fmt in WITH_CALL_ID else "",
                            "leg_call_id": cdr.sip_call_id if truth.conversation_id else "",
                            "conversation_id": truth.conversation_id,
                            "discrepancy_type": truth.discrepancy_type,
                            "b2bua": str(view.b2bua).lower(),
                            "skew_ms": view.skew_ms,
                        }
                    )
    finally:
        files.close()
    return FormatFiles(fmt, files.paths, line_truth, leg_truth)
