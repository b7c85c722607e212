"""Record a model's raw HTTP answers, and replay them offline.

A recording is a folder: `manifest.json` (model, mode, endpoint, prompt version, time, git
revision, and `synthetic`), and one `<article id>.jsonl` per article, one line per upstream
answer in the order the pipeline asked: status, the headers that matter, the body, how long it
took, and the SHA-256 of the request body that got it.

Replaying serves those answers in the same order and checks each request against its hash: a
changed prompt, schema or setting makes the request differ, and a stale recording fails loudly
instead of scoring answers to questions no longer asked. Recordings are made only against a
real endpoint (`attache eval run --record`); `synthetic` recordings are written by tests to
exercise the harness, and every report made from one says so.
"""

from __future__ import annotations

import hashlib
import time
from contextvars import ContextVar
from pathlib import Path

import httpx
from pydantic import BaseModel

from attache.schemas.common import Frozen

# Which article the pipeline is working on; set by the runner for each article's task.
current_article: ContextVar[str] = ContextVar("attache_eval_article")

_KEPT_HEADERS = ("content-type", "retry-after", "retry-after-ms")


class Manifest(Frozen):
    model: str
    mode: str
    base_url: str | None
    prompt_version: str
    recorded_at: str
    git_revision: str | None
    synthetic: bool = False
    note: str | None = None


class Answer(BaseModel):
    status: int
    headers: dict[str, str]
    body: str
    elapsed_ms: float
    request_sha256: str | None


class ReplayError(RuntimeError):
    """The pipeline asked something the recording does not hold."""


def request_digest(request: httpx.Request) -> str:
    return hashlib.sha256(request.content).hexdigest()


def write_manifest(folder: Path, manifest: Manifest) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n")


def read_manifest(folder: Path) -> Manifest:
    return Manifest.model_validate_json((folder / "manifest.json").read_text())


def append_answer(folder: Path, article_id: str, answer: Answer) -> None:
    with (folder / f"{article_id}.jsonl").open("a", encoding="utf-8") as out:
        out.write(answer.model_dump_json() + "\n")


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes requests to the network and appends each answer to the article's file."""

    def __init__(self, folder: Path, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._folder = folder
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        append_answer(
            self._folder,
            current_article.get(),
            Answer(
                status=response.status_code,
                headers={k: v for k, v in response.headers.items() if k in _KEPT_HEADERS},
                body=body.decode("utf-8", "replace"),
                elapsed_ms=(time.perf_counter() - started) * 1000,
                request_sha256=request_digest(request),
            ),
        )
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    async def aclose(self) -> None:
        await self._inner.aclose()


class ReplayTransport(httpx.AsyncBaseTransport):
    """Answers from a recording, in order, per article; never touches the network."""

    def __init__(self, folder: Path) -> None:
        self._answers: dict[str, list[Answer]] = {}
        for path in folder.glob("*.jsonl"):
            lines = path.read_text(encoding="utf-8").splitlines()
            self._answers[path.stem] = [Answer.model_validate_json(line) for line in lines]
        self._served: dict[str, int] = {}
        self.errors: list[str] = []

    def elapsed_ms(self, article_id: str) -> float:
        served = self._served.get(article_id, 0)
        return sum(a.elapsed_ms for a in self._answers.get(article_id, [])[:served])

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        article_id = current_article.get()
        index = self._served.get(article_id, 0)
        answers = self._answers.get(article_id, [])
        if index >= len(answers):
            return self._fail(f"{article_id}: the recording holds {len(answers)} answer(s)")
        answer = answers[index]
        if answer.request_sha256 is not None and answer.request_sha256 != request_digest(request):
            return self._fail(
                f"{article_id}: request {index + 1} differs from the recorded one (prompt, "
                "schema or settings changed since recording)"
            )
        self._served[article_id] = index + 1
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body)

    def _fail(self, message: str) -> httpx.Response:
        self.errors.append(message)
        raise ReplayError(message)
