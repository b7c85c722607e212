"""API keys, per-key rate limits, and a brake on guessing keys.

With `ATTACHE_API_KEYS` set, every route but `/health` and `/ready` needs one of the keys, in
`X-API-Key: <key>` or `Authorization: Bearer <key>`; several keys may be valid at once so they
can be rotated. The SHA-256 digest of the presented key is compared, in constant time, with the
digest of every configured key: equal lengths, so not even a key's length leaks through timing.
Keys are never logged: requests are told apart by a key's fingerprint (the first 12 hex digits
of its SHA-256).

A client address that presents `ATTACHE_FAILED_AUTH_PER_MINUTE` wrong keys within a minute is
answered 429 (`too-many-failed-authentications`, with `Retry-After`), right key or not, until
the window has moved on (the `limits` library's moving window, in this process's memory).

`ATTACHE_RATE_LIMIT_PER_MINUTE` limits each key (each client address when no keys are set)
with Litestar's rate-limit middleware: past the limit, 429 with `Retry-After`. `/metrics`,
`/health` and `/ready` are outside that quota, so a Prometheus scrape never spends a client's.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from typing import Any

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from litestar.connection import ASGIConnection, Request
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address
from pydantic import SecretStr

from attache.errors import AuthenticationThrottled, Unauthorized

UNGUARDED = ["^/health$", "^/ready$"]
OUTSIDE_QUOTA = [*UNGUARDED, "^/metrics$"]


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class FailedAttempts:
    """Wrong keys per client address, in a moving one-minute window."""

    def __init__(self, per_minute: int) -> None:
        self._limit = RateLimitItemPerMinute(per_minute)
        self._window = MovingWindowRateLimiter(MemoryStorage())

    async def retry_after_s(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None when it may now."""
        if await self._window.test(self._limit, address):
            return None
        stats = await self._window.get_window_stats(self._limit, address)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def record(self, address: str) -> None:
        await self._window.hit(self._limit, address)


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: Any, keys: list[SecretStr], failed_per_minute: int) -> None:
        super().__init__(app, exclude=UNGUARDED)
        self._digests = [_digest(key.get_secret_value()) for key in keys]
        self._failures = FailedAttempts(failed_per_minute)

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        address = get_remote_address(connection)  # type: ignore[arg-type]
        wait = await self._failures.retry_after_s(address)
        if wait is not None:
            raise AuthenticationThrottled(
                "too many wrong API keys from this address; retry later", retry_after_s=wait
            )
        given = _presented_key(connection)
        presented = _digest(given)
        # Compare with every key, whatever matches first: the time taken says nothing.
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(presented, digest)
        if not given or not matched:
            await self._failures.record(address)
            raise Unauthorized("send a valid API key in X-API-Key or Authorization: Bearer")
        return AuthenticationResult(user=fingerprint(given), auth=None)


def _presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = connection.headers.get("x-api-key")
    if header:
        return header.strip()
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def api_key_middleware(keys: list[SecretStr], failed_per_minute: int) -> DefineMiddleware:
    return DefineMiddleware(ApiKeyMiddleware, keys=keys, failed_per_minute=failed_per_minute)


def _rate_limit_identity(request: Request[Any, Any, Any]) -> str:
    # Set by ApiKeyMiddleware when keys are configured; the client address otherwise.
    user = request.scope.get("user")
    return f"key:{user}" if isinstance(user, str) else f"addr:{get_remote_address(request)}"


def rate_limit(per_minute: int) -> RateLimitConfig:
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        exclude=OUTSIDE_QUOTA,
        identifier_for_request=_rate_limit_identity,
    )
