"""OAuth client credentials for Genesys Cloud, on top of dlt's `OAuth2ClientCredentials`.

dlt's class caches the token and requests a new one once it has expired. Genesys wants the client
id and secret as HTTP Basic (not form fields), the token renewed *before* it expires, renewal after
a 401, and one token shared by many threads; this subclass adds those.
"""

from __future__ import annotations

import threading
import time
from base64 import b64encode
from typing import Any

from dlt.sources.helpers.rest_client.auth import OAuth2ClientCredentials
from requests import PreparedRequest

from genesys_finance.api.errors import ApiError, AuthenticationError

RENEW_AT_FRACTION = 0.9
"""Renew when this fraction of `expires_in` has elapsed, so no request carries a dying token."""


class GenesysClientCredentials(OAuth2ClientCredentials):
    """Bearer auth for `requests`: `POST {login_url}/oauth/token` with HTTP Basic credentials."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._lock = threading.Lock()
        self._renew_at = 0.0  # monotonic seconds
        self.tokens_issued = 0

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.current_token()}"
        return request

    def current_token(self) -> str:
        with self._lock:
            if self.access_token is None or time.monotonic() >= self._renew_at:
                self.obtain_token()
            return str(self.access_token)

    def renew_after_rejection(self, rejected_token: str | None) -> None:
        """A request got 401: renew, unless another thread already replaced that token."""
        with self._lock:
            if rejected_token is None or self.access_token == rejected_token:
                self.access_token = None
                self._renew_at = 0.0

    def build_access_token_request(self) -> dict[str, Any]:
        basic = b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return {
            "headers": {
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            "data": {"grant_type": "client_credentials", **self.access_token_request_data},
        }

    def obtain_token(self) -> None:
        response = self.session.post(self.access_token_url, **self.build_access_token_request())
        if response.status_code in (400, 401, 403):
            raise AuthenticationError(
                f"POST {self.access_token_url} refused the client credentials "
                f"(HTTP {response.status_code}): check GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET",
                status=response.status_code,
            )
        if response.status_code != 200:
            # 429 and 5xx: the API client's retry loop decides whether to try again.
            raise ApiError(
                f"POST {self.access_token_url} failed with HTTP {response.status_code}",
                status=response.status_code,
            )
        body = response.json()
        self.parse_native_representation(self.parse_access_token(body))
        lifetime = self.parse_expiration_in_seconds(body)
        self._renew_at = time.monotonic() + lifetime * RENEW_AT_FRACTION
        self.tokens_issued += 1
