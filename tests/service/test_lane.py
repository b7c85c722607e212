"""Turns on the lane: one per pass of the event loop, later stages first, nothing ever held."""

from __future__ import annotations

import asyncio
import gc
import itertools
from typing import Any

import httpx
import respx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from attache.evals.corpus import Article
from attache.extractor import Extractor
from attache.lane import Lane, Stage
from attache.settings import Settings
from tests.fakes import COMPLETIONS, ok


class Passes:
    """Counts the passes of the running event loop: a callback that schedules itself again."""

    def __init__(self) -> None:
        self.count = 0
        self._running = True
        asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self.count += 1
        if self._running:
            asyncio.get_running_loop().call_soon(self._tick)

    def stop(self) -> None:
        self._running = False


async def test_each_turn_returns_in_a_pass_of_its_own_with_a_pass_for_the_sockets_between() -> None:
    lane, passes = Lane(), Passes()
    seen: list[int] = []

    async def work() -> None:
        await lane.turn(Stage.ANSWER)
        seen.append(passes.count)

    await asyncio.gather(*(work() for _ in range(6)))
    passes.stop()
    assert len(set(seen)) == 6
    # Turns two passes apart, give or take where the counter ticks within a pass.
    assert max(seen) - min(seen) >= 2 * 5 - 1


async def test_later_stages_take_their_turn_first() -> None:
    lane = Lane()
    order: list[Stage] = []

    async def work(stage: Stage) -> None:
        await lane.turn(stage)
        order.append(stage)

    tasks = [asyncio.create_task(work(stage)) for stage in (Stage.ARTICLE, *Stage)]
    await lane.turn(Stage.ARTICLE)  # free: taken at once, so the four tasks queue behind it
    await asyncio.gather(*tasks)
    assert order == [Stage.RECORDS, Stage.ANSWER, Stage.ARTICLE, Stage.ARTICLE]


async def test_a_cancelled_waiter_blocks_nobody() -> None:
    lane = Lane()
    leaving = asyncio.create_task(lane.turn(Stage.RECORDS))
    staying = asyncio.create_task(lane.turn(Stage.ARTICLE))
    await lane.turn(Stage.ARTICLE)  # free: taken at once, so both tasks queue behind it
    await asyncio.sleep(0)
    leaving.cancel()
    await asyncio.wait_for(staying, timeout=5)
    assert leaving.cancelled()


def test_a_lane_left_busy_by_a_closed_loop_starts_afresh_on_the_next() -> None:
    lane = Lane()

    async def busy_when_the_loop_closes() -> None:
        await lane.turn(Stage.ARTICLE)

    asyncio.run(busy_when_the_loop_closes())  # its hand-on never ran: the loop closed first
    asyncio.run(asyncio.wait_for(lane.turn(Stage.ARTICLE), timeout=5))


async def test_a_probe_is_answered_while_a_burst_of_answers_is_processed(
    settings: Settings,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    """50 model answers released together. Without turns every one of them is parsed, grounded
    and normalized in the pass of the event loop that would read a probe, before the probe; a
    probe needs two passes (read the request, then answer it)."""
    release, arrived = asyncio.Event(), itertools.count(1)
    burst = 50

    async def answer(_request: httpx.Request) -> httpx.Response:
        if next(arrived) == burst:
            release.set()
        await release.wait()
        return ok(board_of_peace_answer)

    async def probe() -> int:
        await release.wait()
        for _ in range(2):
            await asyncio.sleep(0)
        return sum(task.done() for task in extractions)

    upstream.post(COMPLETIONS).mock(side_effect=answer)
    async with Extractor.open(settings) as extractor:
        extractions = [
            asyncio.create_task(extractor.extract(board_of_peace.request())) for _ in range(burst)
        ]
        done_before_the_probe = await probe()
        responses = await asyncio.gather(*extractions)
    assert all(len(response.records) == 6 for response in responses)
    assert done_before_the_probe <= 2


async def test_the_service_freezes_its_startup_heap_while_it_runs(app: Litestar) -> None:
    async with AsyncTestClient(app=app):
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
