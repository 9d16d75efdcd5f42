"""The report's period: whole calendar months, so leg-level and monthly marts cover one span."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _from_index(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """`[start, end)` in UTC days, both on the first of a month."""

    start: date
    end: date

    @classmethod
    def covering(cls, start: date, end: date) -> Period:
        """The whole months that contain `[start, end)`: the monthly marts
        (`fct_billing_per_minute`, `fct_revenue_attribution`) cannot be cut inside a month, so the
        leg-level marts are read over the same whole months and every figure adds up."""
        if end <= start:
            raise ValueError(f"--end ({end}) must be after --start ({start})")
        last = end if end.day == 1 else _from_index(_month_index(end) + 1)
        return cls(start.replace(day=1), last)

    @property
    def months(self) -> int:
        return _month_index(self.end) - _month_index(self.start)

    @property
    def label(self) -> str:
        last = _from_index(_month_index(self.end) - 1)
        first = self.start.strftime("%b %Y")
        return first if self.months == 1 else f"{first} – {last.strftime('%b %Y')}"
