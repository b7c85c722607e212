"""Admission over a real socket: a slot is taken before the body is read, and a client that
leaves frees its slot at once and costs no further model call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from attache.app import create_app
from tests.conftest import ServerFactory, SettingsFactory
from tests.fake_upstream import fake_upstream, serve
from tests.fakes import EMPTY_ANSWER, completion

UPSTREAM_LATENCY_S = 3.0


@pytest.fixture
def one_slot(
    make_settings: SettingsFactory, make_server: ServerFactory
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """attache with one extraction slot, before an upstream that takes 3 s to answer."""
    respond = lambda _body: completion(EMPTY_ANSWER)  # noqa: E731
    with fake_upstream(respond, latency_s=UPSTREAM_LATENCY_S) as (base_url, received):
        app = create_app(
            make_settings(base_url=base_url, upstream_retries=2, deadline_s=60),
            make_server(max_concurrent_extractions=1, overloaded_retry_after_s=3),
        )
        with serve(app) as url:
            yield url, received


async def test_a_client_that_leaves_frees_its_slot_and_stops_its_calls(
    one_slot: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = one_slot
    async with httpx.AsyncClient(base_url=url) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/v1/extractions", json={"text": "Talks."}, timeout=0.5)
        await asyncio.sleep(0.3)  # the server notices the disconnect
        started = time.monotonic()
        after = await client.post("/v1/extractions", json={"text": "More talks."}, timeout=30)
    # Admitted, not shed: the first extraction's slot was freed when its client left.
    assert after.status_code == 200, after.text
    assert time.monotonic() - started < UPSTREAM_LATENCY_S * 2
    # One call each: the abandoned extraction was not retried behind its client's back.
    assert len(received) == 2


async def test_a_shed_request_is_refused_before_its_body_is_read(
    one_slot: tuple[str, list[dict[str, Any]]],
) -> None:
    url, _received = one_slot
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        busy = asyncio.create_task(client.post("/v1/extractions", json={"text": "Talks."}))
        await asyncio.sleep(0.5)
        # A request that announces a 1.5 MB body and sends 10 bytes of it: only a refusal that
        # does not wait for the body can answer it.
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /v1/extractions HTTP/1.1\r\nHost: attache\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1500000\r\n\r\n"
            b'{"text": "'
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        writer.close()
        await busy
    status_line, *headers = head.decode("latin-1").split("\r\n")
    assert status_line.startswith("HTTP/1.1 503")
    assert "retry-after: 3" in [h.lower() for h in headers]
