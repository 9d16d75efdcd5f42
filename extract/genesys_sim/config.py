"""What the simulator can be told: every unconfirmed API behaviour is a knob (reference §11)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

EmptyPageStyle = Literal["empty", "omit"]


@dataclass(frozen=True)
class SimulatorConfig:
    seed: int = 7
    start: date | None = None
    """First simulated day; default: `end` minus 30 days."""
    end: date | None = None
    """Day after the last simulated day (exclusive); default: the day after `now`."""
    conversations_per_day: int = 200
    client_id: str = "sim-client"
    client_secret: str = "sim-secret"
    now: datetime | None = None
    """Simulated time at startup (it then advances in real time); default: the wall clock."""

    token_lifetime_s: int = 86400

    job_delay_s: float = 3.0
    """Submission to completion; the first half QUEUED, the second PENDING."""
    job_failure_rate: float = 0.0
    job_expiry_s: float = 86400.0
    """FULFILLED to EXPIRED."""
    max_running_jobs: int = 5
    """QUEUED or PENDING jobs per client; one more is answered 429 + Retry-After."""
    max_interval_days: int = 31

    requests_per_minute: int = 300
    """Per token, over a sliding minute; 0 disables the limit."""
    random_429_rate: float = 0.0
    random_5xx_rate: float = 0.0
    random_retry_after_s: int = 1
    storm_rate: float = 0.0
    """Chance that a request starts a 429 storm: every request is refused for `storm_duration_s`."""
    storm_duration_s: float = 5.0

    data_lag_s: float = 7200.0
    """Job data availability watermark = now - lag."""

    page_size_default: int = 100
    page_size_max: int = 1000
    empty_page_style: EmptyPageStyle = "empty"
    """Empty results page: `conversations: []` ("empty") or no key ("omit")."""
    query_page_size_default: int = 25
    query_page_size_max: int = 100
    query_max_days_unfiltered: int = 7
    dimension_page_size_default: int = 25
    dimension_page_size_max: int = 500
    aggregates_permission: bool = True
    """False: the client lacks `analytics:conversationAggregate:view`, so the aggregates query
    answers 403 `missing.permissions` (reference §2.4, §6.3)."""

    request_log: Path | None = None
    cache_max_bytes: int = 1 << 30
    """Serialized conversations kept in memory (least recently used days are evicted)."""
    prewarm: bool = False
    """Generate the whole range in the background at startup, so the first job is fast."""

    def resolved(self, now: datetime) -> SimulatorConfig:
        """A copy with the date range and `now` filled in."""
        end = self.end or (now.date() + timedelta(days=1))
        start = self.start or (end - timedelta(days=30))
        if end <= start:
            raise ValueError(f"end {end} must be after start {start}")
        return replace(self, start=start, end=end, now=now)
