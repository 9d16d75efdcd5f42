"""OAuth client-credentials tokens: issue, look up, expire."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Token:
    client_id: str
    expires: datetime
    log_id: str
    """A short hash of the token: lets the request log group calls per token without the secret."""


class TokenStore:
    def __init__(self, client_id: str, client_secret: str, lifetime_s: int) -> None:
        self._client_id, self._client_secret = client_id, client_secret
        self._lifetime = lifetime_s
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()

    @property
    def lifetime_s(self) -> int:
        return self._lifetime

    def credentials_valid(self, client_id: str | None, client_secret: str | None) -> bool:
        # Constant time, as any credential check should be.
        if client_id is None or client_secret is None:
            return False
        id_ok = secrets.compare_digest(client_id.encode(), self._client_id.encode())
        secret_ok = secrets.compare_digest(client_secret.encode(), self._client_secret.encode())
        return id_ok and secret_ok

    def issue(self, client_id: str, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        log_id = hashlib.sha256(token.encode()).hexdigest()[:12]
        with self._lock:
            self._tokens[token] = Token(client_id, now + timedelta(seconds=self._lifetime), log_id)
        return token

    def lookup(self, token: str) -> Token | None:
        with self._lock:
            return self._tokens.get(token)


def parse_basic(header: str | None) -> tuple[str | None, str | None]:
    """(client_id, client_secret) from an HTTP Basic header, or (None, None)."""
    if not header or header[:6].lower() != "basic ":
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else (None, None)


def parse_bearer(header: str | None) -> str | None:
    """The token of `Bearer x` or `bearer x` (Genesys' own tools send both)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
