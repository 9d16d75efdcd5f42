"""Conversation-detail jobs: availability, submit, status, cursor-paged results."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec
import orjson

from genesys_finance.api.errors import ApiError
from genesys_finance.api.http import ApiClient

JOBS_PATH = "/api/v2/analytics/conversations/details/jobs"


class JobState(StrEnum):
    QUEUED = "QUEUED"
    PENDING = "PENDING"
    FULFILLED = "FULFILLED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"

    @property
    def needs_resubmit(self) -> bool:
        return self in (JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED)


@dataclass(frozen=True)
class JobStatus:
    state: JobState
    error_message: str | None = None
    expiration_date: datetime | None = None


@dataclass(frozen=True)
class ResultsPage:
    conversations: list[dict[str, Any]]
    data_availability_date: datetime | None
    has_more: bool


class _ResultsEnvelope(msgspec.Struct):
    """A results page with each conversation left undecoded (a slice of the page's bytes);
    other fields of the page are ignored."""

    conversations: list[msgspec.Raw] | None = None
    cursor: str | None = None
    dataAvailabilityDate: str | None = None  # the API's field name


_ENVELOPE_DECODER = msgspec.json.Decoder(_ResultsEnvelope)


def _decoded(conversations: list[msgspec.Raw], objects_only: bool = True) -> Iterator[Any]:
    """Each conversation decoded when reached, its raw slice dropped once decoded. Without
    `objects_only`, a conversation that is not a JSON object is handed over as it is (the
    extractor quarantines it: `quarantine.py`)."""
    conversations.reverse()  # pop() from the end, in page order
    while conversations:
        conversation = orjson.loads(memoryview(conversations.pop()))
        if objects_only and not isinstance(conversation, dict):
            kind = type(conversation).__name__
            raise ApiError(f"a results page held a conversation that is not an object: {kind}")
        yield conversation


class ResultsUnavailable(ApiError):
    """The server refused a job's results (expired, cancelled or unknown job): resubmit."""


def parse_timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def format_timestamp(value: datetime) -> str:
    """UTC with milliseconds and a trailing Z, as the API writes them."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class DetailJobs:
    """The `/analytics/conversations/details/jobs` endpoints."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def data_availability_date(self) -> datetime:
        body = self.client.get(f"{JOBS_PATH}/availability")
        value = parse_timestamp(body.get("dataAvailabilityDate") if body else None)
        if value is None:
            raise ApiError(f"GET {JOBS_PATH}/availability returned no dataAvailabilityDate")
        return value

    def submit(self, start: datetime, end: datetime) -> str:
        body = {"interval": f"{format_timestamp(start)}/{format_timestamp(end)}", "order": "asc"}
        response = self.client.post(JOBS_PATH, body)
        job_id = response.get("jobId") if response else None
        if not job_id:
            raise ApiError(f"POST {JOBS_PATH} returned no jobId")
        return str(job_id)

    def status(self, job_id: str) -> JobStatus:
        try:
            body = self.client.get(f"{JOBS_PATH}/{job_id}")
        except ApiError as exc:
            if exc.status == 404:  # unknown or deleted: as good as expired
                return JobStatus(JobState.EXPIRED, error_message="job not found")
            raise
        raw_state = str(body.get("state", ""))
        try:
            state = JobState(raw_state)
        except ValueError:
            # An unknown state (the API adds enum values): keep polling until it settles.
            state = JobState.PENDING
        return JobStatus(
            state=state,
            error_message=body.get("errorMessage"),
            expiration_date=parse_timestamp(body.get("expirationDate")),
        )

    def results(self, job_id: str, page_size: int = 1000) -> Iterator[ResultsPage]:
        """Every results page, in order, each conversation decoded (tests and the benchmark)."""
        for page in self._pages(job_id, page_size):
            yield ResultsPage(
                conversations=list(_decoded(page.conversations or [])),
                data_availability_date=parse_timestamp(page.dataAvailabilityDate),
                has_more=bool(page.cursor),
            )

    def download(
        self,
        job_id: str,
        on_page: Callable[[Iterator[dict[str, Any]], datetime | None], None],
        page_size: int = 1000,
        decode_lock: AbstractContextManager[Any] | None = None,
    ) -> int:
        """Like `results`, but hands each page to `on_page` while holding `decode_lock`.

        `on_page(conversations, data_availability_date)` gets the page's conversations
        as an iterator that decodes each one as it is reached: a page of 1,000 conversations
        (~6 MB of JSON) is ~100 MB as Python objects all at once (measured with memray), so only
        the envelope is parsed up front (msgspec, leaving each conversation as raw JSON) and a
        caller that masks and serializes conversation by conversation never holds more than one.
        Decoding and converting a page is CPU-bound (one core under the GIL anyway), so a shared
        lock costs no throughput and bounds how many pages are in conversion at once. Returns the
        page count.
        """
        lock = decode_lock if decode_lock is not None else nullcontext()
        pages = 0
        for page in self._pages(job_id, page_size):
            with lock:
                conversations = page.conversations or []
                available = parse_timestamp(page.dataAvailabilityDate)
                del page  # its raw slices live on in `conversations` only until each is decoded
                on_page(_decoded(conversations, objects_only=False), available)
                del conversations
            pages += 1
        return pages

    def _pages(self, job_id: str, page_size: int) -> Iterator[_ResultsEnvelope]:
        """Every results page's envelope, in order. The cursor is passed back unchanged, never
        parsed; a cursor seen before (the API going round in a loop) is an error, not a hang."""
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {"pageSize": page_size}
            if cursor:
                params["cursor"] = cursor
            page = self._envelope(job_id, self._results_body(job_id, params))
            cursor = page.cursor or None
            yield page
            del page  # not held while the next page is fetched
            if cursor is None:
                return
            if cursor in seen:
                raise ApiError(f"GET {JOBS_PATH}/{job_id}/results repeated a cursor")
            seen.add(cursor)

    @staticmethod
    def _envelope(job_id: str, raw: bytes) -> _ResultsEnvelope:
        if not raw:
            return _ResultsEnvelope()
        try:
            return _ENVELOPE_DECODER.decode(raw)
        except msgspec.DecodeError as exc:  # type and path (`$.cursor`), never a value
            raise ApiError(
                f"GET {JOBS_PATH}/{job_id}/results returned an unreadable page: {str(exc)[:200]}"
            ) from None

    def _results_body(self, job_id: str, params: dict[str, Any]) -> bytes:
        try:
            return self.client.get_raw(f"{JOBS_PATH}/{job_id}/results", params)
        except ApiError as exc:
            if exc.status in (400, 404, 410):
                raise ResultsUnavailable(
                    f"GET {JOBS_PATH}/{job_id}/results refused (HTTP {exc.status})",
                    status=exc.status,
                    code=exc.code,
                ) from exc
            raise

    def delete(self, job_id: str) -> None:
        try:
            self.client.delete(f"{JOBS_PATH}/{job_id}")
        except ApiError as exc:
            if exc.status != 404:
                raise
