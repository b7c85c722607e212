"""`attache serve` as a newcomer runs it: a real process, a real socket, a real upstream."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from attache.evals.corpus import Article
from attache.schemas import ExtractionResponse
from tests.fake_upstream import fake_upstream, free_port
from tests.fakes import MODEL, completion


@dataclass
class Served:
    url: str
    received: list[dict[str, Any]]
    process: subprocess.Popen[bytes]
    workers: int

    def logs(self) -> str:
        """Stop the service; what it wrote on stderr."""
        self.process.terminate()
        _, stderr = self.process.communicate(timeout=10)
        return stderr.decode()


@pytest.fixture(params=[1, 2], ids=["1 worker", "2 workers"])
def served(
    request: pytest.FixtureRequest, board_of_peace_answer: dict[str, Any], tmp_path: Path
) -> Iterator[Served]:
    with fake_upstream(lambda _body: completion(board_of_peace_answer)) as (base_url, received):
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ATTACHE_")},
            "ATTACHE_BASE_URL": base_url,
            "ATTACHE_MODEL": MODEL,
            "ATTACHE_PORT": str(port),
            "ATTACHE_DATABASE_URL": f"sqlite:///{tmp_path / 'review.db'}",
            # httpx, unlike a browser, sends no Secure cookie to http://127.0.0.1.
            "ATTACHE_SECURE_COOKIES": "false",
        }
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and command
            [sys.executable, "-m", "attache", "serve", "--workers", str(request.param)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(url, process)
            yield Served(url, received, process, request.param)
        finally:
            process.terminate()
            process.communicate(timeout=10)


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
    served: Served, board_of_peace: Article
) -> None:
    url, received = served.url, served.received
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


def test_the_review_page_forms_work_whichever_worker_answers(
    served: Served, board_of_peace: Article
) -> None:
    # No keys: `attache serve` chooses one secret for its workers, so a CSRF token made by one
    # verifies in the others.
    # A connection per request, so the workers share the requests (a kept-alive one stays with
    # the worker that accepted it).
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=served.url, timeout=30, limits=fresh) as browser:
        for attempt in range(8):
            page = browser.get("/review")
            token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
            assert token, page.text
            pasted = browser.post(
                "/review/articles",
                data={"_csrf_token": token.group(1), "text": board_of_peace.text, "id": "bop"},
            )
            assert pasted.status_code == 303, (attempt, pasted.text)
    assert len(served.received) == 1  # the first extracted it; the others opened it


def test_access_logs_never_hold_a_query_string(served: Served) -> None:
    assert httpx.get(f"{served.url}/health?api_key=sk-live-topsecret").status_code == 200
    refused = httpx.post(
        f"{served.url}/v1/extractions?token=sk-live-alsosecret",
        content=b"Talks.",
        headers={"Content-Type": "text/plain"},
    )
    assert refused.status_code == 400
    logs = served.logs()
    assert "/health?<redacted>" in logs  # the request is logged, its query string is not
    assert "topsecret" not in logs
    assert "alsosecret" not in logs


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_workers_are_processes_that_each_serve(served: Served, board_of_peace: Article) -> None:
    # One process serves alone; N workers are N child processes of the supervisor.
    assert len(_children(served.process.pid)) >= (served.workers if served.workers > 1 else 0)
    for _ in range(4):
        response = httpx.post(
            f"{served.url}/v1/extractions", json={"text": board_of_peace.text}, timeout=30
        )
        assert response.status_code == 200, response.text
