"""Turns for CPU work, one per pass of the event loop: the loop keeps reading its sockets.

    lane = Lane()
    await lane.turn(Stage.ANSWER)       # returns in a pass of the loop no other turn returns in
    ...                                 # parse, validate, ground: until the next real await

Why: asyncio runs, in one pass of its loop, every callback that was ready when the pass began.
When 200 model answers arrive together, 200 tasks each wake to several milliseconds of parsing,
grounding and normalization in the same pass, and a `GET /health` that arrived meanwhile is not
even read until the pass ends: a second or more, with the process perfectly healthy. Worker
threads would not help: the work holds the GIL. Turns do. A task waits for its turn before each
stretch of CPU work, the lane wakes one waiting task per pass, and between two passes the loop
reads its sockets, so a probe waits for about one stretch (a few milliseconds), not for every
task that happens to be ready.

Nothing is held: a turn is a place in a queue, taken and left in one step, so an error, a
cancellation or a forgotten caller cannot block anyone. Later stages go first (`Stage`):
an answer already paid for is finished before a new article is parsed, which keeps latency and
memory down under a burst. The lane costs no throughput: one process computes one thing at a
time anyway.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from enum import IntEnum


class Stage(IntEnum):
    """Where a stretch of work stands in an extraction; a higher stage takes its turn first."""

    ARTICLE = 0  # the request body: decode, validate, split, build the model request
    ANSWER = 1  # a model answer: parse, validate, check its quotes
    RECORDS = 2  # ground, normalize, check for injections, build the response


class Lane:
    """One per event loop; see the module docstring."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._busy = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def turn(self, stage: Stage) -> None:
        """Return in a pass of the event loop in which no other turn returns."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A lane outlives a loop in tests and in `attache.sync`: start afresh on a new one.
            self._loop, self._busy, self._waiting = loop, False, []
        if not self._busy:
            self._busy = True
            loop.call_soon(self._hand_on)
            return
        waiter: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiting, (-stage, next(self._order), waiter))
        await waiter

    def _hand_on(self) -> None:
        """Wake the first waiter still waiting, and the next one two passes later: the waiter
        computes in the next pass, and the pass after it is left to the sockets alone, so a
        request that needs two passes (read, then answer) waits behind one turn, not two."""
        while self._waiting:
            _, _, waiter = heapq.heappop(self._waiting)
            if not waiter.done():  # a cancelled waiter has left the queue
                waiter.set_result(None)
                loop = asyncio.get_running_loop()
                loop.call_soon(loop.call_soon, self._hand_on)
                return
        self._busy = False
