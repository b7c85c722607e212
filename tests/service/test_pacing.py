"""Answers take turns on the lane: each read off the socket, then the whole answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from attache.lane import Lane, Stage
from attache.pacing import paced

BODY = json.dumps({"choices": []}).encode()
# The answer in three pieces, a pause between them: three reads off the socket.
PIECES = [
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
    b"Content-Length: %d\r\n\r\n" % len(BODY),
    BODY,
]


class CountingLane(Lane):
    def __init__(self) -> None:
        super().__init__()
        self.turns: list[Stage] = []

    async def turn(self, stage: Stage) -> None:
        self.turns.append(stage)
        await super().turn(stage)


@pytest.fixture
async def slow_upstream() -> AsyncIterator[str]:
    """A server on a free port that writes its answer in `PIECES`, 50 ms apart."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        for piece in PIECES:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/"


async def test_an_answer_off_the_network_is_read_in_turns(slow_upstream: str) -> None:
    lane = CountingLane()
    async with httpx.AsyncClient(transport=paced(lane)) as client:
        response = await client.get(slow_upstream)
    assert response.content == BODY
    # A turn for each piece read, and one for the whole answer. Without the pacing backend
    # (httpx or httpcore building their pool another way) only the last one is taken.
    assert lane.turns.count(Stage.ANSWER) >= len(PIECES) + 1


async def test_a_transport_of_the_callers_hands_the_whole_answer_on_in_one_turn() -> None:
    lane = CountingLane()
    replaying = httpx.MockTransport(lambda _: httpx.Response(200, content=BODY))
    async with httpx.AsyncClient(transport=paced(lane, replaying)) as client:
        response = await client.get("http://upstream.test/")
    assert response.content == BODY
    assert lane.turns == [Stage.ANSWER]
