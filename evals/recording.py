"""Record a model's raw HTTP answers, and replay them offline.

A recording is a folder: `manifest.json` (model, mode, endpoint, prompt version, the other
settings that shape a request or the scores, time, git revision, the server and the model
file's SHA-256 where the recorder gave them, and `synthetic`), and one
`<article id>.jsonl` per article, one line per upstream answer in the order they came:
status, the headers that matter, the body, how long it took, and the SHA-256 of the request
body that got it; and `scores.json`, the run's metrics without its timings (`scores`), which a
replay reproduces exactly (`tests/evals/test_recordings.py` checks every recording in
`evals/recordings/`).

Replaying restores the recorded settings and serves each request the answer recorded for its
body's hash (in any order: the calls of one article may run at once). A changed prompt, schema
or setting makes the request differ, and a stale recording fails loudly, naming the request
field that differs, instead of scoring answers to questions no longer asked. Recordings are
made only against a real endpoint (`attache eval run --record`); `synthetic` recordings are
written by tests to exercise the harness, and every report made from one says so.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any, NoReturn

import httpx
import openai
from pydantic import BaseModel, Field

from attache.schemas.common import Frozen

# Which article the pipeline is working on; set by the runner for each article's task.
current_article: ContextVar[str] = ContextVar("attache_eval_article")

_KEPT_HEADERS = ("content-type", "retry-after", "retry-after-ms")


# The settings that shape the requests a run sends, besides model, mode and prompt version:
# a replay restores them, so it asks what was recorded. Re-asks and SDK retries decide how many
# requests an article sends, and so which recorded answer meets which request. The last three
# enter no request but decide what a response keeps, and so the scores.
RUN_SETTINGS = (
    "max_output_tokens", "token_limit_param", "temperature", "reasks", "reask_temperature",
    "upstream_retries", "chunk_chars", "chunk_overlap_chars", "passes", "salvage",
    "keep_ungrounded", "injection_policy",
)  # fmt: skip


class Manifest(Frozen):
    model: str
    mode: str
    base_url: str | None
    prompt_version: str
    recorded_at: str
    git_revision: str | None
    synthetic: bool = False
    note: str | None = None
    server: str | None = None
    """The server and its version, as the recorder named it: `llama-cpp-python 0.3.36`."""
    model_file: str | None = None
    """The file of the weights the server ran, by name (`--model-file`)."""
    model_sha256: str | None = None
    settings: dict[str, bool | str | int | float] = Field(default_factory=dict)
    """Every other setting that entered a request or decides the scores (`RUN_SETTINGS`)."""


class Answer(BaseModel):
    status: int
    headers: dict[str, str]
    body: str
    elapsed_ms: float
    request_sha256: str | None
    request_fields: dict[str, str] = Field(default_factory=dict)
    """Each top-level field of the request: a scalar as JSON, anything larger by its SHA-256, so
    a mismatch can name the field that differs."""


class ReplayError(RuntimeError):
    """The pipeline asked something the recording does not hold."""


class _NotRecorded(openai.OpenAIError):
    """Raised into the SDK for a request the recording cannot answer. The SDK passes its own
    errors on at once, where any other exception from the transport is retried and reported as
    a "Connection error": a replay uses no network, and a retry would ask the same again."""


def request_digest(request: httpx.Request) -> str:
    return hashlib.sha256(request.content).hexdigest()


def request_fields(request: httpx.Request) -> dict[str, str]:
    try:
        body = json.loads(request.content)
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    fields: dict[str, str] = {}
    for key, value in body.items():
        parts = (
            enumerate(value) if key == "messages" and isinstance(value, list) else [(None, value)]
        )
        for index, part in parts:
            name = key if index is None else f"{key}[{index}]"
            text = json.dumps(part, sort_keys=True)
            fields[name] = text if len(text) <= 80 else "sha256:" + _sha(text)[:16]
    return fields


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def differences(recorded: dict[str, str], current: dict[str, str]) -> str:
    """`field: recorded X, now Y` for each field that differs, or a note that none was kept."""
    if not recorded:
        return "the recording kept no request fields to compare"
    names = sorted(set(recorded) | set(current))
    changed = [
        f"{name}: recorded {recorded.get(name, 'absent')}, now {current.get(name, 'absent')}"
        for name in names
        if recorded.get(name) != current.get(name)
    ]
    return "; ".join(changed) or "the same fields, in another order or encoding"


def write_manifest(folder: Path, manifest: Manifest) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n")


def read_manifest(folder: Path) -> Manifest:
    return Manifest.model_validate_json((folder / "manifest.json").read_text())


# Metrics that measure the machine, not the answers: a replay takes the recorded upstream time
# but not the pipeline's own.
_TIMINGS = ("latency_ms_per_article", "latency_ms")


def scores(metrics: dict[str, Any]) -> dict[str, Any]:
    """`metrics` without its timings: what a replay of the recording reproduces exactly."""
    kept = {k: v for k, v in metrics.items() if k not in _TIMINGS}
    if "per_article" in kept:
        kept["per_article"] = [
            {k: v for k, v in row.items() if k not in _TIMINGS} for row in kept["per_article"]
        ]
    return kept


def write_scores(folder: Path, metrics: dict[str, Any]) -> None:
    (folder / "scores.json").write_text(json.dumps(scores(metrics), indent=1) + "\n")


def read_scores(folder: Path) -> dict[str, Any]:
    recorded: dict[str, Any] = json.loads((folder / "scores.json").read_text())
    return recorded


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
                request_fields=request_fields(request),
            ),
        )
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    async def aclose(self) -> None:
        await self._inner.aclose()


class ReplayTransport(httpx.AsyncBaseTransport):
    """Answers from a recording, per article; never touches the network.

    A request gets the first answer not yet served that was recorded for the same body: the
    calls of one article (chunks, per-type passes) may run at once and reach the network in
    another order than they did when recorded. (A recording without request digests is
    answered in order.)
    """

    def __init__(self, folder: Path) -> None:
        self._answers: dict[str, list[Answer]] = {}
        for path in folder.glob("*.jsonl"):
            lines = path.read_text(encoding="utf-8").splitlines()
            self._answers[path.stem] = [Answer.model_validate_json(line) for line in lines]
        self._served: dict[str, list[int]] = {}
        self.errors: dict[str, str] = {}
        """Per article, the first request the recording could not answer."""

    def elapsed_ms(self, article_id: str) -> float:
        answers = self._answers.get(article_id, [])
        return sum(answers[i].elapsed_ms for i in self._served.get(article_id, []))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        article_id = current_article.get()
        served = self._served.setdefault(article_id, [])
        answers = self._answers.get(article_id, [])
        left = [i for i in range(len(answers)) if i not in served]
        if not left:
            self._fail(article_id, f"the recording holds {len(answers)} answer(s)")
        digest = request_digest(request)
        index = next((i for i in left if answers[i].request_sha256 in (None, digest)), None)
        if index is None:
            nearest = answers[left[0]]
            self._fail(
                article_id,
                f"request {len(served) + 1} differs from the recorded one: "
                + differences(nearest.request_fields, request_fields(request)),
            )
        served.append(index)
        answer = answers[index]
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body)

    def _fail(self, article_id: str, message: str) -> NoReturn:
        self.errors.setdefault(article_id, f"{article_id}: {message}")
        raise _NotRecorded(message)
