"""Model answers take turns on the lane (`attache.lane`) from their first byte.

    transport = paced(lane)                 # the network, read in turns
    transport = paced(lane, replaying)      # a transport of the caller's (record, replay)

Two places:

- Each read of an answer's bytes off the socket (`_PacedStream`, under httpcore's connection
  pool). What happens with the bytes (h11 parsing the status line, headers and body) runs in
  the reading task before its next await. When 200 answers arrive within a few milliseconds,
  200 tasks woke in one pass of the event loop and parsed them all before the loop read its
  sockets again: `GET /health` waited 30 to 130 ms at the 99th percentile
  (`python -m bench.overhead`). Read in turns, 13 to 21 ms.
- The whole answer, once its body is in (`_PacedTransport`): the SDK, instructor and the
  evidence check then parse and validate it in a turn of its own.

httpx builds its connection pool with httpcore's default network backend and has no argument
for another, so `paced` puts the pacing backend on the pool httpx built;
`tests/service/test_pacing.py` fails if a version of either stops reading through it.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
import openai

from attache.lane import Lane, Stage


def paced(
    lane: Lane, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncBaseTransport:
    """`transport` (by default the network, read in turns) handing answers on in turns."""
    if transport is None:
        network = httpx.AsyncHTTPTransport(limits=openai.DEFAULT_CONNECTION_LIMITS)
        pool: Any = network._pool
        pool._network_backend = _PacedBackend(pool._network_backend, lane)
        transport = network
    return _PacedTransport(transport, lane)


class _PacedTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, lane: Lane) -> None:
        self._inner = inner
        self._lane = lane

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        await response.aread()
        await self._lane.turn(Stage.ANSWER)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _PacedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend, lane: Lane) -> None:
        self._inner = inner
        self._lane = lane

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _PacedStream(stream, self._lane)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(path, timeout, socket_options)
        return _PacedStream(stream, self._lane)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PacedStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream, lane: Lane) -> None:
        self._inner = inner
        self._lane = lane

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        data = await self._inner.read(max_bytes, timeout)
        await self._lane.turn(Stage.ANSWER)
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return _PacedStream(stream, self._lane)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)
