"""A paced, retrying JSON client for the Genesys Cloud platform API.

* Pacing: every request (retries included) takes a slot from a per-minute budget shared by all
  threads, so the API's own limit (300/min per token) is rarely hit.
* 429 is the client's, not one thread's (the budget is per token, and every thread uses the
  token): a rate-limit 429 holds every request of every thread until its `Retry-After` has
  passed. A 429 for too many concurrent jobs (its ErrorBody's `limit.key` names the concurrent
  jobs limit) holds back only new job submissions (a POST to a `.../jobs` collection): polling
  and downloading go on. A 429 that does not say which limit is read as the rate limit, the safe
  reading. The token is never renewed on a 429 (a new token does not reset the budget).
* 401: renew the token once and replay the request.
* 5xx and connection errors: exponential back-off, then an `ApiError` naming the request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter

from genesys_finance.api.auth import GenesysClientCredentials
from genesys_finance.api.errors import ApiError, AuthenticationError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
DEFAULT_RETRY_AFTER_S = 3.0  # the .NET SDK's default when a 429 has no Retry-After


class RequestPacer:
    """The client's shared pacing state: a per-minute budget and the API's holds, for every thread.

    `pause_for` (a rate-limit 429) holds every request; `hold_submissions_for` (a concurrent-jobs
    429) holds job submissions only. A thread that reserved a slot before a hold began checks again
    once its slot comes, so no request leaves inside a hold the client already knows of.
    """

    def __init__(self, requests_per_minute: float) -> None:
        self.interval_s = 60.0 / requests_per_minute if requests_per_minute > 0 else 0.0
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._paused_until = 0.0  # monotonic: no request before this
        self._submissions_held_until = 0.0  # monotonic: no job submission before this

    def wait_for_slot(self, submission: bool = False) -> None:
        """Block until this thread may send (a job submission when `submission`)."""
        while True:
            with self._lock:
                now = time.monotonic()
                resume = self._resume_at(submission)
                if resume <= now:
                    slot = max(now, self._next_slot)
                    self._next_slot = slot + self.interval_s
            if resume > now:
                time.sleep(resume - now)
                continue
            if slot <= now:
                return
            time.sleep(slot - now)
            with self._lock:
                if self._resume_at(submission) <= time.monotonic():
                    return
            # A hold began while this thread waited for its slot: wait for it, then a new slot.

    def _resume_at(self, submission: bool) -> float:
        if submission:
            return max(self._paused_until, self._submissions_held_until)
        return self._paused_until

    def pause_for(self, seconds: float) -> None:
        """Hold every thread's requests for `seconds` from now (a rate-limit 429)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def hold_submissions_for(self, seconds: float) -> None:
        """Hold every thread's job submissions for `seconds` from now (a concurrent-jobs 429)."""
        with self._lock:
            until = time.monotonic() + seconds
            self._submissions_held_until = max(self._submissions_held_until, until)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    """Attempts for a request failing with 5xx or a connection error."""
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    max_rate_limited_waits: int = 50
    """429s tolerated for one request before giving up."""
    timeout_s: float = 60.0

    def backoff_s(self, failures: int) -> float:
        return float(min(self.backoff_max_s, self.backoff_initial_s * 2 ** (failures - 1)))


@dataclass
class RequestStats:
    requests: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    token_renewals_after_401: int = 0


class ApiClient:
    """JSON over HTTP with bearer auth, pacing and retries. Safe to share between threads."""

    def __init__(
        self,
        api_url: str,
        login_url: str,
        client_id: str,
        client_secret: str,
        *,
        requests_per_minute: float = 300,
        retry: RetryPolicy | None = None,
        pool_size: int = 16,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.pacer = RequestPacer(requests_per_minute)
        self.stats = RequestStats()
        self._stats_lock = threading.Lock()
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.auth = GenesysClientCredentials(
            access_token_url=f"{login_url.rstrip('/')}/oauth/token",
            client_id=client_id,
            client_secret=client_secret,
            session=self.session,
        )

    def close(self) -> None:
        self.session.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def get_raw(self, path: str, params: Mapping[str, Any] | None = None) -> bytes:
        """The undecoded body, for callers that decide when (and under which lock) to parse."""
        return bytes(self.request("GET", path, params=params, decode=False) or b"")

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        decode: bool = True,
    ) -> Any:
        """Send one request until it succeeds; return the decoded JSON body (None if empty)."""
        url = f"{self.api_url}{path}"
        name = f"{method} {path}"
        data = orjson.dumps(body) if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        failures = rate_limited = 0
        renewed_after_401 = False
        submission = is_job_submission(method, path)
        while True:
            self.pacer.wait_for_slot(submission)
            self._count("requests")
            token: str | None = None
            try:
                token = self.auth.current_token()
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers={**headers, "Authorization": f"Bearer {token}"},
                    timeout=self.retry.timeout_s,
                    stream=True,
                )
                content = _read_body(response)
            except AuthenticationError:
                raise
            except ApiError as exc:  # the token endpoint failed transiently
                failures += 1
                self._count("server_errors")
                self._give_up_or_wait(name, failures, f"token request: {exc}")
                continue
            except (requests.ConnectionError, requests.Timeout) as exc:
                failures += 1
                self._count("connection_errors")
                self._give_up_or_wait(name, failures, type(exc).__name__)
                continue

            status = response.status_code
            if status < 300:
                if not decode:
                    return content
                return orjson.loads(content) if content else None
            if status == 429:
                rate_limited += 1
                self._count("rate_limited")
                if rate_limited > self.retry.max_rate_limited_waits:
                    raise ApiError(
                        f"{name} still rate limited (HTTP 429) after {rate_limited - 1} waits",
                        status=429,
                    )
                wait_s = _retry_after_s(response)
                if submission and is_concurrent_jobs_limit(content):
                    log.debug(
                        "%s: HTTP 429 (concurrent jobs), submissions wait %.1f s", name, wait_s
                    )
                    self.pacer.hold_submissions_for(wait_s)
                else:
                    log.debug(
                        "%s: HTTP 429, every request waits %.1f s (Retry-After)", name, wait_s
                    )
                    self.pacer.pause_for(wait_s)
                continue  # wait_for_slot waits out the hold
            if status == 401 and not renewed_after_401:
                renewed_after_401 = True
                self._count("token_renewals_after_401")
                self.auth.renew_after_rejection(token)
                continue
            if status in RETRYABLE_STATUS:
                failures += 1
                self._count("server_errors")
                self._give_up_or_wait(name, failures, f"HTTP {status}")
                continue
            code = _error_code(content)
            raise ApiError(
                f"{name} failed with HTTP {status}" + (f" ({code})" if code else ""),
                status=status,
                code=code,
            )

    def _give_up_or_wait(self, name: str, failures: int, reason: str) -> None:
        if failures >= self.retry.max_attempts:
            raise ApiError(f"{name} failed after {failures} attempts: {reason}")
        wait_s = self.retry.backoff_s(failures)
        log.debug("%s: %s, retrying in %.1f s", name, reason, wait_s)
        time.sleep(wait_s)

    def _count(self, field: str) -> None:
        with self._stats_lock:
            setattr(self.stats, field, getattr(self.stats, field) + 1)


def is_job_submission(method: str, path: str) -> bool:
    """Creating an async job (`POST .../details/jobs` and its kin): what a job cap holds back."""
    return method == "POST" and path.rstrip("/").endswith("/jobs")


def is_concurrent_jobs_limit(content: bytes) -> bool:
    """The 429's ErrorBody names the concurrent-jobs limit (`limit.key`, e.g. the org limit
    `...details.jobs.concurrent.access.max`, genesys-analytics-api.md §3.6 and §6.3)."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return False
    limit = body.get("limit") if isinstance(body, dict) else None
    key = limit.get("key") if isinstance(limit, dict) else None
    return isinstance(key, str) and "concurrent" in key


def _retry_after_s(response: requests.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return DEFAULT_RETRY_AFTER_S


def _read_body(response: requests.Response) -> bytes:
    """The whole (decompressed) body in one buffer.

    `response.content` reads a body in 10 KB chunks and joins them: a 6 MB results page then
    exists twice, in every worker fetching one. A failure while reading is a connection error
    (retried), as it is for requests' own read."""
    try:
        return response.raw.read(decode_content=True) or b""
    except urllib3.exceptions.HTTPError as exc:  # reset, read timeout, bad gzip, TLS error
        raise requests.ConnectionError(exc) from exc
    finally:
        response.close()


def _error_code(content: bytes) -> str | None:
    """The `code` of a Genesys ErrorBody, if any (the message may echo request data: not kept)."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return str(code) if code else None
