"""Response values and the platform error shapes (reference §2.3, §6.1, §6.3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    log: dict[str, Any] = field(default_factory=dict)
    """Extra fields for the request log (job id, interval, Retry-After, fault reason)."""


def json_response(status: int, payload: Any, **log: Any) -> Response:
    return Response(status, orjson.dumps(payload), log=dict(log))


class ApiError(Exception):
    """Raised by a route; rendered as a platform `ErrorBody`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: int | None = None,
        reason: str | None = None,
        limit: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.retry_after, self.reason = retry_after, reason
        self.limit = limit  # ErrorBody.limit: which org limit was hit (§6.3)

    def response(self, correlation_id: str) -> Response:
        body = {
            "message": self.message,
            "code": self.code,
            "status": self.status,
            "contextId": correlation_id,
            "details": [],
            "errors": [],
        }
        if self.limit is not None:
            body["limit"] = self.limit
        response = Response(self.status, orjson.dumps(body), log={"errorCode": self.code})
        if self.retry_after is not None:
            response.headers["Retry-After"] = str(self.retry_after)
            response.log["retryAfter"] = self.retry_after
        if self.reason:
            response.log["reason"] = self.reason
        return response


# The org limit a running-job cap 429 names in ErrorBody.limit (key from §3.6), so a client can
# tell it from the per-token rate limit: it holds back job submissions only.
JOB_CAP_LIMIT = {
    "key": "analytics.conversation.details.jobs.concurrent.access.max",
    "namespace": "analytics",
}


def too_many_requests(retry_after: int, reason: str) -> ApiError:
    return ApiError(
        429,
        "too.many.requests.retry.after",
        f"Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds",
        retry_after=retry_after,
        reason=reason,
        limit=dict(JOB_CAP_LIMIT) if reason == "job_cap" else None,
    )


def bad_request(message: str, code: str = "bad.request") -> ApiError:
    return ApiError(400, code, message)


def not_found(message: str = "The requested resource was not found.") -> ApiError:
    return ApiError(404, "not.found", message)


def oauth_error(status: int, error: str, description: str) -> Response:
    """The token endpoint's own error shape (not ErrorBody)."""
    body = {"error": error, "description": description, "error_description": description}
    return Response(status, orjson.dumps(body), log={"errorCode": error})
