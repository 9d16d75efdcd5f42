"""Errors of the API layer. Messages name the request, never a credential or payload content."""

from __future__ import annotations


class ApiError(RuntimeError):
    """A request failed for good (after retries, or with a status that retrying cannot fix)."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AuthenticationError(ApiError):
    """The token endpoint refused the client credentials."""
