"""A local OpenAI-compatible server for tests that need a real socket (a served attache).

It answers `POST /v1/chat/completions` with whatever its `respond` callable returns and records
each request body. It binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from litestar import Litestar, Request, post
from litestar.types import ASGIApp

Respond = Callable[[dict[str, Any]], dict[str, Any]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def fake_upstream(
    respond: Respond, *, latency_s: float = 0.0
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Serve `respond` in a thread, each answer `latency_s` late; yields the base URL and the
    list of received bodies."""
    received: list[dict[str, Any]] = []

    @post("/v1/chat/completions", status_code=200)
    async def completions(request: Request[Any, Any, Any]) -> dict[str, Any]:
        body: dict[str, Any] = await request.json()
        received.append(body)
        await asyncio.sleep(latency_s)
        return respond(body)

    with serve(Litestar([completions])) as url:
        yield f"{url}/v1", received


@contextmanager
def serve(app: ASGIApp, *, log_level: str = "warning") -> Iterator[str]:
    """Serve `app` with uvicorn on a free loopback port, in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
