"""Admission control: a process runs at most `max_concurrent_extractions` at once.

A request past the limit is shed at once with 503 and `Retry-After`, not queued: a queue
without bound turns a burst into timeouts for everyone and memory no one planned for. The slot
is taken before the request body is read (`AdmissionMiddleware`), so a shed request costs no
parsing, and the bodies held in memory at once are bounded by the limit.

A client that disconnects cancels its extraction (`until_disconnected`): its slot is free at
once and no further model call is made for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from litestar.types import ASGIApp, Receive, Scope, Send

from attache.errors import ClientDisconnected, Overloaded

T = TypeVar("T")


class Admission:
    def __init__(self, limit: int, retry_after_s: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self._retry_after_s = retry_after_s

    @contextmanager
    def slot(self, count: int = 1) -> Iterator[None]:
        """Hold `count` of the process's extraction slots (a batch holds its concurrency)."""
        # One event loop runs every request of the process: the check and the increment
        # cannot interleave with another request's.
        if self.in_flight + count > self.limit:
            raise Overloaded(
                f"{self.in_flight} extractions are in progress, the limit of this process "
                "(ATTACHE_MAX_CONCURRENT_EXTRACTIONS); retry later",
                retry_after_s=self._retry_after_s,
            )
        self.in_flight += count
        try:
            yield
        finally:
            self.in_flight -= count


class AdmissionMiddleware:
    """Holds an admission slot around the whole exchange, body reading included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["litestar_app"].state
        admission: Admission = state.admission
        # A batch route says so in its `opt`: it runs `batch_concurrency` articles at once.
        count = state.batch_concurrency if scope["route_handler"].opt.get("batch") else 1
        with admission.slot(count):
            await self.app(scope, receive, send)


async def until_disconnected(receive: Receive, work: Coroutine[Any, Any, T]) -> T:
    """`work`'s result, unless the client disconnects first: then `work` is cancelled.

    Call it after the body is read: the next ASGI message can only be the disconnect.
    """
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnect(receive))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
        gone.cancel()
    if task.cancelled() or not task.done():
        await asyncio.gather(task, return_exceptions=True)
        raise ClientDisconnected("the client disconnected; its extraction was cancelled")
    return task.result()


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
