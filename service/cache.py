"""The result cache: the same article asked the same way is answered once.

- **Key** (`key_for`): the SHA-256 of a canonical JSON of everything that decides the answer:
  the article's text, `published_at` and types; the prompt (its version and its text), the
  schema the model sees, attache's version; the model, the endpoint, the mode and every other
  setting that enters a request or decides what a response keeps (`KEYED_SETTINGS`). The
  article's `id` is not in it: it is echoed, not read.
- **Value**: an envelope of JSON bytes, `{"stored_at", "response"}`, never pickle; only
  successful answers are kept, for `ATTACHE_CACHE_TTL_S`.
- **Store**: Litestar's store interface, chosen by `ATTACHE_CACHE_URL` (`open_store`): a folder
  on disk by default (`file:~/.cache/attache/results`, no setup), `redis://` or `valkey://` for
  replicas that share it, `memory:` for one process, `off` for none.
- **Single flight**: identical requests in flight in one process make one model call
  (`Flight`): the others wait for it, and the call is cancelled only when every requester has
  left. Across replicas sharing Redis, a lock per key (redis-py's `Lock`, with a 15 s expiry
  renewed while the call runs) lets one replica call the model while the others poll the store;
  a holder that crashed stops renewing, so its lock expires and another replica takes over.
- **Fails open**: a store or lock that cannot be reached costs the cache, not the request (a
  warning is logged and the model is called).

A response answered from the cache (or by another requester's call) says so in `cache.hit`,
carries the caller's `id`, and costs no tokens: its usage is zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis
from redis.exceptions import LockError, RedisError

from attache.model_schema import model_facing
from attache.prompts import Prompt
from attache.schemas import CacheInfo, Cost, ExtractionDraft, ExtractionRequest, ExtractionResponse
from attache.schemas.api import Timings, TokenUsage
from attache.settings import Settings

__all__ = ["KEYED_SETTINGS", "ResultCache", "key_for", "open_store"]

logger = logging.getLogger("attache.cache")

KEYED_SETTINGS = (
    "model", "base_url", "mode", "temperature", "max_output_tokens", "token_limit_param",
    "reasks", "reask_temperature", "chunk_chars", "chunk_overlap_chars", "passes", "salvage",
    "keep_ungrounded", "injection_policy",
)  # fmt: skip
"""Settings that decide an answer: each is in the key."""

LOCK_TTL_S = 15.0
"""How long a replica's claim on a key outlives the replica; renewed every third of it."""
POLL_S = 0.2
"""How often a replica waiting on another's call looks for its answer."""
_NAMESPACE = "attache"
_SCHEMA = json.dumps(model_facing(ExtractionDraft.model_json_schema()), sort_keys=True)
_VERSION = version("attache")
_STORE_ERRORS = (RedisError, OSError)


def key_for(request: ExtractionRequest, settings: Settings, prompt: Prompt) -> str:
    """The cache key of `request` under `settings` and `prompt` (see the module docstring)."""
    published = request.published_at.isoformat() if request.published_at else None
    decided = {
        "text": request.text,
        "published_at": published,
        "types": sorted(request.types),
        "prompt": [prompt.label, prompt.system, prompt.user_template.template],
        "schema": _SCHEMA,
        "attache": _VERSION,
        **{name: _plain(getattr(settings, name)) for name in KEYED_SETTINGS},
    }
    canonical = json.dumps(decided, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _plain(value: object) -> object:
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


@contextlib.asynccontextmanager
async def open_store(url: str) -> AsyncIterator[tuple[Store, Redis | None] | None]:
    """The store `url` names, and the Redis client for its locks when it is Redis; None: off."""
    scheme, _, rest = url.partition(":")
    scheme = scheme.lower()
    if scheme in {"off", "none", ""}:
        yield None
    elif scheme == "memory":
        yield MemoryStore(), None
    elif scheme == "file":
        store = FileStore(_folder(rest), create_directories=True)
        with contextlib.suppress(OSError):
            await store.delete_expired()  # a folder is never swept otherwise
        yield store, None
    elif scheme in {"redis", "rediss", "valkey", "valkeys"}:
        client = Redis.from_url(url.replace("valkey", "redis", 1), decode_responses=False)
        try:
            yield RedisStore(client, namespace=_NAMESPACE), client
        finally:
            await client.aclose()
    else:
        raise ValueError(
            f"ATTACHE_CACHE_URL: unknown scheme {scheme!r}; use file:, redis://, valkey://, "
            "memory: or off"
        )


def _folder(written: str) -> Path:
    return Path(written.removeprefix("//")).expanduser()


@dataclass
class Flight:
    """One model call for a key, and how many requesters wait on it."""

    task: asyncio.Task[tuple[bytes, ExtractionResponse | None]]
    waiters: int = 0


@dataclass
class ResultCache:
    store: Store
    ttl_s: int
    locks: Redis | None = None
    _flights: dict[str, Flight] = field(default_factory=dict)

    async def answer(
        self,
        key: str,
        request: ExtractionRequest,
        compute: Callable[[], Awaitable[ExtractionResponse]],
        *,
        refresh: bool = False,
    ) -> ExtractionResponse:
        """The cached answer for `key`, or `compute()`'s, stored; `refresh` skips the lookup."""
        started = time.perf_counter()
        if not refresh and (kept := await self._get(key)) is not None:
            return _served(kept, key, request, started)
        flight = self._flights.get(key)
        if flight is None:
            flight = Flight(asyncio.create_task(self._fill(key, compute)))
            self._flights[key] = flight
            flight.task.add_done_callback(lambda _: self._flights.pop(key, None))
            leader = True
        else:
            leader = False
        flight.waiters += 1
        try:
            envelope, computed = await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                flight.task.cancel()  # nobody waits for it any more: stop the model call
        if leader and computed is not None:
            stored_at = dt.datetime.fromisoformat(json.loads(envelope)["stored_at"])
            return computed.model_copy(
                update={"cache": CacheInfo(hit=False, key=key, stored_at=stored_at)}
            )
        return _served(envelope, key, request, started)

    async def _fill(
        self, key: str, compute: Callable[[], Awaitable[ExtractionResponse]]
    ) -> tuple[bytes, ExtractionResponse | None]:
        """The envelope for `key`, and the response when this process computed it."""
        if self.locks is None:
            return await self._compute_and_store(key, compute)
        name = f"{_NAMESPACE}:lock:{key}"
        while True:
            lock = self.locks.lock(name, timeout=LOCK_TTL_S, blocking=False)
            try:
                claimed = await lock.acquire()
            except _STORE_ERRORS as exc:
                logger.warning("cache lock unavailable (%s): calling the model", exc)
                return await self._compute_and_store(key, compute)
            if claimed:
                break
            # Another replica is calling the model for this key: wait for its answer, or for
            # its claim to lapse (it failed, or crashed and stopped renewing).
            while await self._holds(name):
                if (kept := await self._get(key)) is not None:
                    return kept, None
                await asyncio.sleep(POLL_S)
            if (kept := await self._get(key)) is not None:
                return kept, None
        renewing = asyncio.create_task(_renew(lock))
        try:
            return await self._compute_and_store(key, compute)
        finally:
            renewing.cancel()
            with contextlib.suppress(LockError, *_STORE_ERRORS):
                await lock.release()

    async def _holds(self, name: str) -> bool:
        assert self.locks is not None  # noqa: S101 - only called with locks
        try:
            return bool(await self.locks.exists(name))
        except _STORE_ERRORS:
            return False

    async def _compute_and_store(
        self, key: str, compute: Callable[[], Awaitable[ExtractionResponse]]
    ) -> tuple[bytes, ExtractionResponse]:
        response = await compute()
        envelope = json.dumps(
            {
                "stored_at": dt.datetime.now(dt.UTC).isoformat(),
                "response": response.model_dump(mode="json", exclude={"cache"}),
            },
            ensure_ascii=False,
        ).encode("utf-8")
        try:
            await self.store.set(key, envelope, expires_in=self.ttl_s)
        except _STORE_ERRORS as exc:
            logger.warning("cache store unavailable (%s): the answer is not kept", exc)
        return envelope, response

    async def _get(self, key: str) -> bytes | None:
        try:
            return await self.store.get(key)
        except _STORE_ERRORS as exc:
            logger.warning("cache store unavailable (%s): calling the model", exc)
            return None


async def _renew(lock: Any) -> None:
    while True:
        await asyncio.sleep(LOCK_TTL_S / 3)
        with contextlib.suppress(LockError, *_STORE_ERRORS):
            await lock.reacquire()


def _served(
    envelope: bytes, key: str, request: ExtractionRequest, started: float
) -> ExtractionResponse:
    """An answer someone else's call produced: the caller's id, no tokens spent."""
    data = json.loads(envelope)
    response = ExtractionResponse.model_validate(data["response"])
    return response.model_copy(
        update={
            "id": request.id,
            "usage": TokenUsage(),
            "cost": None
            if response.cost is None
            else Cost(amount=0, currency=response.cost.currency),
            "timings": Timings(total_ms=(time.perf_counter() - started) * 1000, model_ms=0.0),
            "cache": CacheInfo(
                hit=True, key=key, stored_at=dt.datetime.fromisoformat(data["stored_at"])
            ),
        }
    )
