"""`attache serve` as a newcomer runs it: a real process, a real socket, a real upstream."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from attache.evals.corpus import Article
from attache.schemas import ExtractionResponse
from tests.fake_upstream import fake_upstream, free_port
from tests.fakes import MODEL, completion


@pytest.fixture
def served(board_of_peace_answer: dict[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    with fake_upstream(lambda _body: completion(board_of_peace_answer)) as (base_url, received):
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ATTACHE_")},
            "ATTACHE_BASE_URL": base_url,
            "ATTACHE_MODEL": MODEL,
            "ATTACHE_PORT": str(port),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "attache", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(url, process)
            yield url, received
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            assert process.stderr is not None
            raise RuntimeError(f"attache serve exited: {process.stderr.read().decode()}")
        try:
            httpx.get(f"{url}/health", timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
        else:
            return
    raise RuntimeError("attache serve did not come up within 30 s")


def test_served_api_extracts_from_an_openai_compatible_endpoint(
    served: tuple[str, list[dict[str, Any]]], board_of_peace: Article
) -> None:
    url, received = served
    assert httpx.get(f"{url}/ready").json()["model"] == MODEL
    response = httpx.post(
        f"{url}/v1/extractions",
        content=board_of_peace.text.encode(),
        headers={"Content-Type": "text/plain"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = ExtractionResponse.model_validate(response.json())
    assert len(body.invitations) == 2
    assert body.usage.upstream_calls == 1
    assert len(received) == 1
    assert received[0]["model"] == MODEL
