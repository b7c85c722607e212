"""API keys and per-key rate limits.

With `ATTACHE_API_KEYS` set, every route but `/health` and `/ready` needs one of the keys, in
`X-API-Key: <key>` or `Authorization: Bearer <key>`; several keys may be valid at once so they
can be rotated. Keys are compared in constant time against every configured key, and never
logged: requests are told apart by a key's fingerprint (the first 12 hex digits of its SHA-256).

`ATTACHE_RATE_LIMIT_PER_MINUTE` limits each key (each client address when no keys are set)
with Litestar's rate-limit middleware: past the limit, 429 with `Retry-After`.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from litestar.connection import ASGIConnection, Request
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address
from pydantic import SecretStr

from attache.errors import Unauthorized

UNGUARDED = ["^/health$", "^/ready$"]


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: Any, keys: list[SecretStr]) -> None:
        super().__init__(app, exclude=UNGUARDED)
        self._keys = [key.get_secret_value().encode() for key in keys]

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        given = _presented_key(connection)
        # Compare with every key, whatever matches first: the time taken says nothing.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(given.encode(), key)
        if not given or not matched:
            raise Unauthorized("send a valid API key in X-API-Key or Authorization: Bearer")
        return AuthenticationResult(user=fingerprint(given), auth=None)


def _presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = connection.headers.get("x-api-key")
    if header:
        return header.strip()
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def api_key_middleware(keys: list[SecretStr]) -> DefineMiddleware:
    return DefineMiddleware(ApiKeyMiddleware, keys=keys)


def _rate_limit_identity(request: Request[Any, Any, Any]) -> str:
    # Set by ApiKeyMiddleware when keys are configured; the client address otherwise.
    user = request.scope.get("user")
    return f"key:{user}" if isinstance(user, str) else f"addr:{get_remote_address(request)}"


def rate_limit(per_minute: int) -> RateLimitConfig:
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        exclude=UNGUARDED,
        identifier_for_request=_rate_limit_identity,
    )
