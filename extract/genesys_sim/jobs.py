"""Conversation-detail jobs: the state machine of reference §3.2 and result snapshots.

A job's state is derived from the simulated clock on every read, so no timer threads are
needed; its result set is computed once, in the background, from the data visible when it
was submitted, so paging through it is stable.
"""

from __future__ import annotations

import math
import random
import secrets
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from genesys_sim.intervals import iso

RUNNING = ("QUEUED", "PENDING")
FAILURE_MESSAGE = "The analytics job failed while processing; resubmit the query."


@dataclass
class Job:
    job_id: str
    client_id: str
    interval: str
    submitted: datetime
    pending_at: datetime
    completes_at: datetime
    expires_at: datetime
    fails: bool
    watermark: datetime
    results: Future[list[bytes]]
    cancelled_at: datetime | None = None
    cursors: dict[str, int] = field(default_factory=dict)
    cursor_by_offset: dict[int, str] = field(default_factory=dict)

    def state(self, now: datetime) -> str:
        if self.cancelled_at is not None:
            return "CANCELLED"
        if now < self.pending_at:
            return "QUEUED"
        if now < self.completes_at:
            return "PENDING"
        if self.fails:
            return "FAILED"
        return "FULFILLED" if now < self.expires_at else "EXPIRED"

    def status(self, now: datetime) -> dict[str, Any]:
        """AsyncQueryStatus with the presence rules of reference §3.2."""
        state = self.state(now)
        body: dict[str, Any] = {"state": state, "submissionDate": iso(self.submitted)}
        if state in ("FAILED", "FULFILLED", "EXPIRED"):
            body["completionDate"] = iso(self.completes_at)
        if state in ("FULFILLED", "EXPIRED"):
            body["expirationDate"] = iso(self.expires_at)
        if state == "FAILED":
            body["errorMessage"] = FAILURE_MESSAGE
        return body


class JobCapReached(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"running-job cap reached; retry after {retry_after} s")
        self.retry_after = retry_after


class JobStore:
    def __init__(
        self,
        *,
        seed: int,
        delay_s: float,
        failure_rate: float,
        expiry_s: float,
        max_running: int,
    ) -> None:
        self._delay = timedelta(seconds=delay_s)
        self._expiry = timedelta(seconds=expiry_s)
        self._failure_rate = failure_rate
        self._max_running = max_running
        # Which submissions fail is seeded; job ids stay random so that ids from an earlier
        # simulator run can never be mistaken for live jobs.
        self._fail_rng = random.Random(f"jobs:{seed}")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sim-job")

    def _retry_after(self, client_id: str, now: datetime) -> int | None:
        """Seconds until a slot frees if the client is at its running-job cap, else None."""
        running = [
            j for j in self._jobs.values() if j.client_id == client_id and j.state(now) in RUNNING
        ]
        if len(running) < self._max_running:
            return None
        soonest = min(j.completes_at for j in running)
        return max(1, math.ceil((soonest - now).total_seconds()))

    def submit(
        self,
        client_id: str,
        interval: str,
        now: datetime,
        watermark: datetime,
        compute: Callable[[], list[bytes]],
    ) -> Job:
        """`compute()` returns the job's payloads; it runs in the background from now on.

        Raises JobCapReached when the client already runs its maximum of jobs (checked under
        the same lock as the insert, so concurrent submissions cannot overshoot the cap).
        """
        with self._lock:
            retry_after = self._retry_after(client_id, now)
            if retry_after is not None:
                raise JobCapReached(retry_after)
            fails = self._failure_rate > 0 and self._fail_rng.random() < self._failure_rate
            job = Job(
                job_id=str(uuid.uuid4()),
                client_id=client_id,
                interval=interval,
                submitted=now,
                pending_at=now + self._delay / 2,
                completes_at=now + self._delay,
                expires_at=now + self._delay + self._expiry,
                fails=fails,
                watermark=watermark,
                results=self._pool.submit(compute),
            )
            self._jobs[job.job_id] = job
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def delete(self, job_id: str, now: datetime) -> bool:
        """Cancel a running job (it then reads CANCELLED); forget a finished one (then 404)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return False
            if job.cancelled_at is None and job.state(now) in RUNNING:
                job.cancelled_at = now
                job.results.cancel()
            else:
                del self._jobs[job_id]
            return True

    def cursor_for(self, job: Job, offset: int) -> str:
        """An opaque cursor for `offset`; the same offset always gets the same cursor."""
        with self._lock:
            cursor = job.cursor_by_offset.get(offset)
            if cursor is None:
                cursor = secrets.token_urlsafe(18)
                job.cursors[cursor] = offset
                job.cursor_by_offset[offset] = cursor
            return cursor

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
