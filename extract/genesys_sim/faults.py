"""Seeded fault injection (random 429s, 429 storms, 5xx) and the named fault profiles."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, replace
from typing import Any

from genesys_sim.config import SimulatorConfig

PROFILES: dict[str, dict[str, Any]] = {
    "none": {},
    "flaky": {"random_429_rate": 0.05, "random_5xx_rate": 0.03},
    "storm": {"storm_rate": 0.02, "storm_duration_s": 5.0, "random_429_rate": 0.05},
    "chaos": {
        "token_lifetime_s": 300,
        "job_failure_rate": 0.25,
        "job_expiry_s": 120.0,
        "random_429_rate": 0.08,
        "random_5xx_rate": 0.05,
        "storm_rate": 0.005,
        "storm_duration_s": 3.0,
    },
}

_5XX = (
    (502, "bad.gateway", "Bad gateway"),
    (503, "service.unavailable", "Service unavailable"),
    (504, "request.timeout", "The request timed out"),
)


def apply_profile(config: SimulatorConfig, name: str) -> SimulatorConfig:
    if name not in PROFILES:
        raise ValueError(f"unknown fault profile {name!r}; choose from {', '.join(PROFILES)}")
    return replace(config, **PROFILES[name])


@dataclass(frozen=True)
class Fault:
    status: int
    code: str
    message: str
    retry_after: int | None
    reason: str


class FaultInjector:
    """Decides per request, from one seeded stream, whether to answer with a fault."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._config = config
        self._rng = random.Random(f"faults:{config.seed}")
        self._lock = threading.Lock()
        self._storm_until = 0.0

    def draw(self, now: float) -> Fault | None:
        """`now` is simulated time in epoch seconds."""
        c = self._config
        with self._lock:
            if now < self._storm_until:
                return self._too_many(max(1, int(self._storm_until - now + 0.999)), "storm")
            if c.storm_rate and self._rng.random() < c.storm_rate:
                self._storm_until = now + c.storm_duration_s
                return self._too_many(max(1, int(c.storm_duration_s + 0.999)), "storm")
            if c.random_429_rate and self._rng.random() < c.random_429_rate:
                return self._too_many(c.random_retry_after_s, "random_429")
            if c.random_5xx_rate and self._rng.random() < c.random_5xx_rate:
                status, code, message = self._rng.choice(_5XX)
                return Fault(status, code, message, None, "random_5xx")
        return None

    @staticmethod
    def _too_many(retry_after: int, reason: str) -> Fault:
        message = f"Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds"
        return Fault(429, "too.many.requests.retry.after", message, retry_after, reason)
