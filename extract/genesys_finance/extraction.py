"""What an extraction run is asked (`ExtractOptions`) and what it reports (`ExtractSummary`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from genesys_finance.api.http import RetryPolicy
from genesys_finance.runlock import DEFAULT_WAIT_S
from genesys_finance.spool import DEFAULT_MAX_BYTES


class ExtractError(RuntimeError):
    """The run failed; the message names the interval and job (never payload content)."""


@dataclass(frozen=True)
class ExtractOptions:
    max_parallel_jobs: int = 4
    requests_per_minute: float = 300
    lookback_days: float = 2
    chunk_days: int | None = None
    """None: calendar months; else fixed chunks of this many days (at most 31)."""
    page_size: int = 1000
    max_attempts: int = 3
    """Jobs per interval (the first included) before the run gives up on it."""
    poll_initial_s: float = 1.0
    poll_max_s: float = 15.0
    commit_every: int = 20_000
    """Conversations per dlt load at most; a crash re-fetches at most the uncommitted tail.
    Into Postgres 20,000 ran 3-5 % faster than 10,000 and 40,000 no faster; memory does not
    depend on it since dlt writes page-sized row groups (bench/RESULTS.md)."""
    spool_max_bytes: int = DEFAULT_MAX_BYTES
    """Disk for masked pages fetched but not yet loaded; workers wait when it is full."""
    initial_start: date | None = None
    """Start of the first incremental run, when the ledger is empty and no --start is given."""
    skip_dimensions: bool = False
    quiet: bool = False
    pii_policy: str | None = None
    """PII policy YAML merged over the default (else GENESYS_FINANCE_PII_POLICY)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lock_wait_s: float = DEFAULT_WAIT_S
    """How long a run waits for another run on the same warehouse (`runlock.py`)."""


@dataclass
class ExtractSummary:
    start: datetime
    end: datetime
    data_availability_date: datetime
    intervals: int
    intervals_already_complete: int = 0
    jobs_submitted: int = 0
    jobs_resumed: int = 0
    resubmissions: int = 0
    pages: int = 0
    conversations: int = 0
    """Conversation versions loaded (overlapping jobs return some twice; the merge keeps one)."""
    quarantined: int = 0
    """Conversations received but unusable (`quarantine.py`): received = loaded + quarantined."""
    dimensions: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    elapsed_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.conversations / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def line(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in self.dimensions.items()) or "skipped"
        return (
            f"extracted {self.start.isoformat()} .. {self.end.isoformat()}: "
            f"{self.intervals} intervals ({self.intervals_already_complete} already complete), "
            f"jobs submitted={self.jobs_submitted} resumed={self.jobs_resumed} "
            f"resubmitted={self.resubmissions}, pages={self.pages}, "
            f"conversations={self.conversations} (quarantined={self.quarantined}) "
            f"in {self.elapsed_s:.1f} s "
            f"({self.rate:,.0f} conv/s); dimensions: {dims}; requests={self.requests} "
            f"(429s={self.rate_limited}, 5xx/connection retries={self.server_errors})"
        )
