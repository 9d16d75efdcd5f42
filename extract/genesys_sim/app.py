"""Request dispatch: correlation ids, OAuth, the per-token budget, injected faults, routing
and the request log. Transport-free, so it is the same behind any HTTP server.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import orjson

from genesys_sim.auth import TokenStore, parse_basic, parse_bearer
from genesys_sim.clock import Clock
from genesys_sim.endpoints import Endpoints
from genesys_sim.faults import FaultInjector
from genesys_sim.intervals import iso
from genesys_sim.ratelimit import RateLimiter
from genesys_sim.requestlog import RequestLog
from genesys_sim.responses import (
    ApiError,
    Response,
    json_response,
    oauth_error,
    too_many_requests,
)

log = logging.getLogger(__name__)

_JOBS = "/api/v2/analytics/conversations/details/jobs"
_JOB = re.compile(r"^/api/v2/analytics/conversations/details/jobs/([^/]+)$")
_RESULTS = re.compile(r"^/api/v2/analytics/conversations/details/jobs/([^/]+)/results$")
_DIMENSIONS = {
    "/api/v2/routing/queues": "queues",
    "/api/v2/routing/wrapupcodes": "wrapup_codes",
    "/api/v2/authorization/divisions": "divisions",
    "/api/v2/users": "users",
    "/api/v2/telephony/providers/edges/didpools": "did_pools",
    "/api/v2/telephony/providers/edges/dids": "dids",
}


class Headers(Protocol):
    def get(self, name: str, /) -> str | None: ...


Route = Callable[[str, dict[str, str], bytes, datetime], Response]
"""(client id, query, body, now) -> response."""


class SimulatorApp:
    def __init__(
        self,
        *,
        clock: Clock,
        tokens: TokenStore,
        limiter: RateLimiter,
        faults: FaultInjector,
        endpoints: Endpoints,
        request_log: RequestLog,
    ) -> None:
        self.clock = clock
        self._tokens = tokens
        self._limiter = limiter
        self._faults = faults
        self._endpoints = endpoints
        self._log = request_log

    def handle(self, method: str, target: str, headers: Headers, body: bytes) -> Response:
        started = time.perf_counter()
        correlation_id = str(uuid.uuid4())
        split = urlsplit(target)
        path = split.path.rstrip("/") or "/"
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        now = self.clock.now()
        entry: dict[str, Any] = {"time": iso(now), "method": method, "path": path, "query": query}
        if method == "POST" and path == _JOBS:
            entry["interval"] = _requested_interval(body)  # logged even when refused
        try:
            if path == "/oauth/token":
                response = self._token(method, headers, body, now)
            else:
                response = self._api(method, path, query, headers, body, now, entry)
        except ApiError as exc:
            response = exc.response(correlation_id)
        except Exception:  # a simulator bug must still answer like the platform does
            log.exception("simulator error on %s %s", method, path)
            response = ApiError(500, "internal.server.error", "Internal server error").response(
                correlation_id
            )
        response.headers["ININ-Correlation-Id"] = correlation_id
        entry.update(status=response.status, correlationId=correlation_id, **response.log)
        entry["durationMs"] = round((time.perf_counter() - started) * 1000, 3)
        self._log.write(entry)
        return response

    # --- OAuth -------------------------------------------------------------------------

    def _token(self, method: str, headers: Headers, body: bytes, now: datetime) -> Response:
        if method != "POST":
            raise ApiError(405, "method.not.allowed", "Use POST for /oauth/token.")
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        client_id, secret = parse_basic(headers.get("Authorization"))
        if client_id is None:  # form credentials (client_secret_post) are accepted too
            client_id, secret = form.get("client_id"), form.get("client_secret")
        if not self._tokens.credentials_valid(client_id, secret):
            return oauth_error(401, "invalid_client", "client not found")
        if form.get("grant_type") != "client_credentials":
            return oauth_error(
                400, "unsupported_grant_type", "grant_type must be client_credentials"
            )
        assert client_id is not None
        token = self._tokens.issue(client_id, now)
        body_out = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self._tokens.lifetime_s,
        }
        return json_response(200, body_out, clientId=client_id)

    # --- platform API ------------------------------------------------------------------

    def _api(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Headers,
        body: bytes,
        now: datetime,
        entry: dict[str, Any],
    ) -> Response:
        route = self._route(method, path)
        token_value = parse_bearer(headers.get("Authorization"))
        if token_value is None:
            raise ApiError(
                401,
                "authentication.required",
                "No authentication bearer token specified in authorization header.",
            )
        token = self._tokens.lookup(token_value)
        if token is None:
            raise ApiError(401, "bad.credentials", "Invalid login credentials.")
        entry["token"] = token.log_id
        if now >= token.expires:
            raise ApiError(401, "credentials.expired", "The supplied credentials are expired.")
        retry_after = self._limiter.acquire(token.log_id, now.timestamp())
        if retry_after is not None:
            raise too_many_requests(retry_after, "rate_limit")
        fault = self._faults.draw(now.timestamp())
        if fault is not None:
            raise ApiError(
                fault.status,
                fault.code,
                fault.message,
                retry_after=fault.retry_after,
                reason=fault.reason,
            )
        return route(token.client_id, query, body, now)

    def _route(self, method: str, path: str) -> Route:
        e = self._endpoints
        routes: dict[str, Route] = {}
        if path == _JOBS:
            routes["POST"] = lambda c, q, b, n: e.create_job(c, b, n)
        elif path == _JOBS + "/availability":
            routes["GET"] = lambda c, q, b, n: e.availability(n)
        elif match := _RESULTS.match(path):
            job_id = match.group(1)
            routes["GET"] = lambda c, q, b, n: e.job_results(job_id, q, n)
        elif match := _JOB.match(path):
            job_id = match.group(1)
            routes["GET"] = lambda c, q, b, n: e.job_status(job_id, n)
            routes["DELETE"] = lambda c, q, b, n: e.delete_job(job_id, n)
        elif path == "/api/v2/analytics/conversations/aggregates/query":
            routes["POST"] = lambda c, q, b, n: e.aggregates(b, n)
        elif path == "/api/v2/analytics/conversations/details/query":
            routes["POST"] = lambda c, q, b, n: e.details_query(b, n)
        elif path in _DIMENSIONS:
            kind = _DIMENSIONS[path]
            routes["GET"] = lambda c, q, b, n: e.entities(kind, path, q)
        if not routes:
            raise ApiError(404, "not.found", f"No resource at {path}.")
        if method not in routes:
            raise ApiError(405, "method.not.allowed", f"{method} is not allowed on {path}.")
        return routes[method]


def _requested_interval(body: bytes) -> Any:
    try:
        query = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return query.get("interval") if isinstance(query, dict) else None
