"""Run progress: a tqdm bar on stderr when it is a terminal, else a periodic log line.

Only counts and interval labels are shown: never payload content.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("genesys_finance.extract")

LOG_EVERY_S = 10.0


@dataclass
class Counts:
    intervals: int = 0
    submitted: int = 0
    running: int = 0
    fulfilled: int = 0
    completed: int = 0
    resubmitted: int = 0
    pages: int = 0
    conversations: int = 0
    loaded: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        return self.loaded / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def line(self) -> str:
        return (
            f"jobs submitted={self.submitted} running={self.running} "
            f"fulfilled={self.fulfilled} done={self.completed}/{self.intervals} "
            f"pages={self.pages} conversations={self.conversations} "
            f"loaded={self.loaded} ({self.rate:,.0f} conv/s)"
        )


class Progress:
    """Thread-safe counters with a display. `quiet` turns the bar off (log lines remain)."""

    def __init__(self, intervals: int, *, quiet: bool = False, log_every_s: float = LOG_EVERY_S):
        self.counts = Counts(intervals=intervals)
        self._lock = threading.Lock()
        self._log_every_s = log_every_s
        self._last_log = time.monotonic()
        self._bar: Any = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=intervals, unit="interval", file=sys.stderr, dynamic_ncols=True)

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self.counts, name, getattr(self.counts, name) + delta)
            self._refresh(completed=deltas.get("completed", 0))

    def _refresh(self, completed: int) -> None:
        c = self.counts
        if self._bar is not None:
            if completed:
                self._bar.update(completed)
            self._bar.set_postfix_str(
                f"run={c.running} ful={c.fulfilled} pages={c.pages} "
                f"conv={c.loaded:,} {c.rate:,.0f}/s",
                refresh=False,
            )
            return
        now = time.monotonic()
        if now - self._last_log >= self._log_every_s:
            self._last_log = now
            log.info("extract progress: %s", c.line())

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
