"""Simulated UTC time: a fixed or wall-clock origin that advances in real time.

Tests may `advance` it to reach token or job expiry without sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self, origin: datetime | None = None) -> None:
        origin = origin or datetime.now(UTC)
        if origin.tzinfo is None:  # naive means UTC, as everywhere in the API
            origin = origin.replace(tzinfo=UTC)
        self._origin = origin.astimezone(UTC)
        self._t0 = time.monotonic()
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    @property
    def origin(self) -> datetime:
        return self._origin

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return self._origin + offset + timedelta(seconds=time.monotonic() - self._t0)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
