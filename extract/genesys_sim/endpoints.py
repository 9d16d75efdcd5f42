"""The API routes past authentication: detail jobs, availability, dimensions, queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson

from genesys_sim.aggregates import aggregate_query
from genesys_sim.config import SimulatorConfig
from genesys_sim.filters import compile_filters
from genesys_sim.intervals import IntervalError, iso, parse_interval
from genesys_sim.jobs import Job, JobCapReached, JobStore
from genesys_sim.responses import (
    ApiError,
    Response,
    bad_request,
    json_response,
    not_found,
    too_many_requests,
)
from genesys_sim.store import ConversationStore
from genesys_sim.syncquery import details_query


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body or b"null")
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}") from exc


def int_param(query: dict[str, str], name: str, default: int, maximum: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request(f"{name} must be an integer, got {raw!r}", "invalid.value") from exc
    if value < 1:
        raise bad_request(f"{name} must be at least 1", "invalid.value")
    if value > maximum:
        raise bad_request(f"{name} must be at most {maximum}", "invalid.value")
    return value


class Endpoints:
    def __init__(
        self,
        config: SimulatorConfig,
        store: ConversationStore,
        jobs: JobStore,
        entities: dict[str, Callable[[], list[dict[str, Any]]]],
        lookback_days: int,
    ) -> None:
        self._config = config
        self._store = store
        self._jobs = jobs
        self._entity_sources = entities
        self._entities: dict[str, list[dict[str, Any]]] = {}
        self._lookback_days = lookback_days

    def watermark(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self._config.data_lag_s)

    # --- detail jobs -------------------------------------------------------------------

    def create_job(self, client_id: str, body: bytes, now: datetime) -> Response:
        query = parse_json(body)
        if not isinstance(query, dict):
            raise bad_request("The request body must be a JSON object.")
        try:
            start, end = parse_interval(query.get("interval"))
        except IntervalError as exc:
            raise bad_request(str(exc), "invalid.date") from exc
        max_days = self._config.max_interval_days
        if end - start > timedelta(days=max_days):
            raise bad_request(f"The interval must not be longer than {max_days} days.")
        limit = query.get("limit")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise bad_request("limit must be a positive integer", "invalid.value")
        matcher = compile_filters(query)

        watermark = self.watermark(now)
        sod = query.get("startOfDayIntervalMatching") is True
        descending = query.get("order") == "desc"

        def compute() -> list[bytes]:
            payloads = self._store.overlapping(
                start,
                end,
                now=now,
                watermark=watermark,
                lookback_days=self._lookback_days,
                start_of_day_matching=sod,
            )
            if matcher is not None:
                payloads = [p for p in payloads if matcher(orjson.loads(p))]
            if descending:
                payloads.reverse()
            return payloads[:limit] if limit else payloads

        try:
            job = self._jobs.submit(client_id, query["interval"], now, watermark, compute)
        except JobCapReached as exc:
            raise too_many_requests(exc.retry_after, "job_cap") from exc
        return json_response(
            202, {"jobId": job.job_id}, jobId=job.job_id, interval=query["interval"]
        )

    def _job(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise not_found(f"Job {job_id} was not found.")
        return job

    def job_status(self, job_id: str, now: datetime) -> Response:
        job = self._job(job_id)
        status = job.status(now)
        return json_response(200, status, jobId=job_id, state=status["state"])

    def delete_job(self, job_id: str, now: datetime) -> Response:
        if not self._jobs.delete(job_id, now):
            raise not_found(f"Job {job_id} was not found.")
        return Response(204, log={"jobId": job_id})

    def job_results(self, job_id: str, query: dict[str, str], now: datetime) -> Response:
        job = self._job(job_id)
        state = job.state(now)
        if state != "FULFILLED":
            raise bad_request(f"Results are not available for a job in state {state}.")
        c = self._config
        page_size = int_param(query, "pageSize", c.page_size_default, c.page_size_max)
        cursor = query.get("cursor")
        offset = 0
        if cursor:
            known = job.cursors.get(cursor)
            if known is None:
                raise bad_request("The cursor is not valid for this job.", "invalid.value")
            offset = known
        payloads = job.results.result()
        page = payloads[offset : offset + page_size]
        parts = [b"{"]
        if page or c.empty_page_style == "empty":
            parts += [b'"conversations":[', b",".join(page), b"],"]
        next_offset = offset + len(page)
        if next_offset < len(payloads):
            parts.append(b'"cursor":"' + self._jobs.cursor_for(job, next_offset).encode() + b'",')
        parts.append(b'"dataAvailabilityDate":"' + iso(job.watermark).encode() + b'"}')
        return Response(200, b"".join(parts), log={"jobId": job_id, "count": len(page)})

    def availability(self, now: datetime) -> Response:
        return json_response(200, {"dataAvailabilityDate": iso(self.watermark(now))})

    # --- queries -----------------------------------------------------------------------

    def aggregates(self, body: bytes, now: datetime) -> Response:
        if not self._config.aggregates_permission:
            raise ApiError(
                403,
                "missing.permissions",
                "Unable to perform the requested action. You are missing the following "
                "permission(s): [analytics:conversationAggregate:view]",
            )
        result = aggregate_query(self._store, parse_json(body), now, self._lookback_days)
        return json_response(200, result)

    def details_query(self, body: bytes, now: datetime) -> Response:
        c = self._config
        result = details_query(
            self._store,
            parse_json(body),
            now,
            page_size_default=c.query_page_size_default,
            page_size_max=c.query_page_size_max,
            max_days_unfiltered=c.query_max_days_unfiltered,
            max_days=c.max_interval_days,
            omit_empty=c.empty_page_style == "omit",
        )
        return Response(200, result)

    # --- dimensions --------------------------------------------------------------------

    def entities(self, kind: str, path: str, query: dict[str, str]) -> Response:
        if kind not in self._entities:
            self._entities[kind] = list(self._entity_sources[kind]())
        items = self._entities[kind]
        c = self._config
        size = int_param(
            query, "pageSize", c.dimension_page_size_default, c.dimension_page_size_max
        )
        number = int_param(query, "pageNumber", 1, 1 << 31)
        page_count = (len(items) + size - 1) // size

        def uri(n: int) -> str:
            return f"{path}?pageSize={size}&pageNumber={n}"

        body: dict[str, Any] = {
            "entities": items[(number - 1) * size : number * size],
            "pageSize": size,
            "pageNumber": number,
            "total": len(items),
            "pageCount": page_count,
            "firstUri": uri(1),
            "selfUri": uri(number),
            "lastUri": uri(max(page_count, 1)),
        }
        if number < page_count:
            body["nextUri"] = uri(number + 1)
        if number > 1:
            body["previousUri"] = uri(number - 1)
        return json_response(200, body)


__all__ = ["ApiError", "Endpoints"]
