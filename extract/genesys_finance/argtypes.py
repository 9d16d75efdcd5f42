"""argparse value types shared by the commands, so every command rejects bad input alike."""

from __future__ import annotations

import argparse
from datetime import date


def iso_date(value: str) -> date:
    """A `YYYY-MM-DD` day, or an argparse error that shows what was given."""
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from exc


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number
