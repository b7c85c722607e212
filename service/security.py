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

The review page (`/review`) also takes a session cookie: its sign-in form checks a key the same
way and sets `attache_session`, which names the key's fingerprint and an expiry, signed with
HMAC-SHA256 under `ATTACHE_SESSION_SECRET`. It is good until it expires or its key is removed
from `ATTACHE_API_KEYS`, and only on `/review` paths, where every form carries a CSRF token: an
API route never trusts a cookie, so a page elsewhere cannot make a browser call it.

`ATTACHE_RATE_LIMIT_PER_MINUTE` limits each key (each client address when no keys are set)
with Litestar's rate-limit middleware: past the limit, 429 with `Retry-After`. `/metrics`,
`/health` and `/ready` are outside that quota, so a Prometheus scrape never spends a client's.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
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

from attache.errors import AuthenticationThrottled, SignInRequired, Unauthorized
from attache.settings import ServerSettings

UNGUARDED = ["^/health$", "^/ready$", "^/review/sign-in$", "^/review/static/"]
OUTSIDE_QUOTA = [*UNGUARDED, "^/metrics$"]
SESSION_COOKIE = "attache_session"
REVIEW_PATHS = re.compile(r"^/review(/|$)")


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


class KeyRing:
    """The configured keys, as digests: which one, if any, a presented key is."""

    def __init__(self, keys: list[SecretStr]) -> None:
        self._digests = [_digest(key.get_secret_value()) for key in keys]
        self.fingerprints = frozenset(fingerprint(key.get_secret_value()) for key in keys)

    def holds(self, given: str) -> bool:
        presented = _digest(given)
        # Compare with every key, whatever matches first: the time taken says nothing.
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(presented, digest)
        return bool(given) and matched


class Sessions:
    """Signed sign-in tokens: `<key fingerprint>.<expiry, unix seconds>.<HMAC>`."""

    def __init__(self, secret: bytes, ring: KeyRing, hours: float) -> None:
        self._secret = secret
        self._ring = ring
        self.lifetime_s = int(hours * 3600)

    def issue(self, key_fingerprint: str) -> str:
        claim = f"{key_fingerprint}.{int(time.time()) + self.lifetime_s}"
        return f"{claim}.{self._mac(claim)}"

    def holder(self, token: str | None) -> str | None:
        """The fingerprint of the key `token` was issued for, while it holds; else None."""
        claim, _, mac = (token or "").rpartition(".")
        key_fingerprint, _, expiry = claim.partition(".")
        if not (mac and expiry.isdigit()) or not hmac.compare_digest(mac, self._mac(claim)):
            return None
        if int(expiry) < time.time() or key_fingerprint not in self._ring.fingerprints:
            return None
        return key_fingerprint

    def _mac(self, claim: str) -> str:
        return hmac.new(self._secret, claim.encode(), hashlib.sha256).hexdigest()


def session_secret(server: ServerSettings) -> bytes:
    """The secret of sign-in cookies and CSRF tokens (see `ServerSettings.session_secret`)."""
    if server.session_secret is not None:
        return server.session_secret.get_secret_value().encode()
    if server.api_keys:
        # Every replica with the same keys derives the same secret; a key change ends sessions.
        keys = sorted(key.get_secret_value() for key in server.api_keys)
        return hmac.new(b"attache-session", "\n".join(keys).encode(), hashlib.sha256).digest()
    # One process with no keys: nobody signs in, only CSRF tokens use it.
    return secrets.token_bytes(32)


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    def __init__(
        self, app: Any, ring: KeyRing, sessions: Sessions, failures: FailedAttempts
    ) -> None:
        super().__init__(app, exclude=UNGUARDED)
        self._ring = ring
        self._sessions = sessions
        self._failures = failures

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
        if not given and REVIEW_PATHS.match(connection.scope["path"]):
            holder = self._sessions.holder(connection.cookies.get(SESSION_COOKIE))
            if holder is None:
                raise SignInRequired("sign in at /review/sign-in with an API key")
            return AuthenticationResult(user=holder, auth=None)
        if not self._ring.holds(given):
            await self._failures.record(address)
            raise Unauthorized("send a valid API key in X-API-Key or Authorization: Bearer")
        return AuthenticationResult(user=fingerprint(given), auth=None)


def _presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = connection.headers.get("x-api-key")
    if header:
        return header.strip()
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def api_key_middleware(
    ring: KeyRing, sessions: Sessions, failures: FailedAttempts
) -> DefineMiddleware:
    return DefineMiddleware(ApiKeyMiddleware, ring=ring, sessions=sessions, failures=failures)


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
