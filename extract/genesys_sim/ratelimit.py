"""Requests-per-minute budget per token over a sliding minute (reference §6.2)."""

from __future__ import annotations

import math
import threading
from collections import deque


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self._limit = per_minute
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, now: float) -> int | None:
        """Count one request; None if allowed, else the Retry-After seconds.

        Refused requests are not counted, so a client that waits as told gets through.
        """
        if self._limit <= 0:
            return None
        with self._lock:
            window = self._seen.setdefault(key, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= self._limit:
                return max(1, math.ceil(window[0] + 60.0 - now))
            window.append(now)
            return None
