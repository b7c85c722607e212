"""Backfills through a provider's batch API: prepare, submit, poll, collect.

    attache provider-batch prepare requests.jsonl -o batch.jsonl     # batch.jsonl + .meta.jsonl
    attache provider-batch submit batch.jsonl                        # prints the batch id
    attache provider-batch status BATCH_ID [--wait]
    attache provider-batch collect batch.jsonl (--batch BATCH_ID | --results FILE) -o out.jsonl

- **prepare** runs each request through the pipeline with the network replaced by a recorder
  (`_Recorder`): every chat request attache would send is kept byte for byte as an OpenAI
  Batch line (`custom_id`, `method`, `url`, `body`), and answered with an empty answer so that
  every chunk of a long article is asked. `custom_id` is the article's cache key
  (`attache.cache.key_for`), with `-N` for the Nth call of a chunked article. The articles
  themselves go to `<batch>.meta.jsonl`, which collect needs to ground the answers.
  The file is what `vllm run-batch -i batch.jsonl -o results.jsonl --model M` reads as well.
- **submit** uploads the file (`files.create`, purpose `batch`) and creates the batch
  (`batches.create`, 24 h window); **status** polls `batches.retrieve`.
- **collect** reads the batch's output (from the API, or a local results file such as vLLM's)
  and runs each article through the same pipeline again, the network replaced by the batch's
  answers (`_Answers`, matched by request body): so each answer is validated, grounded and
  normalized exactly as an online call's would be. A batch cannot re-ask: an answer that fails
  validation keeps the records that hold, as an online call's last answer does
  (`attache.salvage`), or is that article's problem when none does. Output lines are
  `attache batch`'s: `{"id", "line", "response"}` or `{"id", "line", "problem"}`, one per
  article, failures included.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import openai

from attache.batch import Item, extract_each
from attache.cache import key_for
from attache.errors import AttacheError
from attache.extractor import Extractor
from attache.schemas import ExtractionRequest
from attache.schemas.records import RECORD_KINDS
from attache.settings import Settings

__all__ = ["collect", "meta_path", "prepare", "submit", "wait"]

CHAT_URL: Literal["/v1/chat/completions"] = "/v1/chat/completions"
FINISHED = {"completed", "failed", "expired", "cancelled"}
_EMPTY: dict[str, list[Any]] = {kind.field: [] for kind in RECORD_KINDS}


def meta_path(batch_file: Path) -> Path:
    return batch_file.with_name(batch_file.name + ".meta.jsonl")


def _digest(body: bytes) -> str:
    return hashlib.sha256(json.dumps(json.loads(body), sort_keys=True).encode()).hexdigest()


class _Recorder(httpx.AsyncBaseTransport):
    """Keeps each chat request's body and answers it with an empty answer of the right shape."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.bodies.append(body)
        return httpx.Response(200, json=_empty_completion(json.loads(body)))


def _empty_completion(body: dict[str, Any]) -> dict[str, Any]:
    answer = json.dumps(_EMPTY)
    message: dict[str, Any] = {"role": "assistant", "content": answer}
    if body.get("tools"):
        name = body["tools"][0]["function"]["name"]
        call = {"id": "call_0", "type": "function", "function": {"name": name, "arguments": answer}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return {
        "id": "prepare",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", ""),
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


async def prepare(items: Iterable[Item], settings: Settings, batch_file: Path) -> int:
    """Write the Batch lines of `items` to `batch_file` and the articles beside it; returns
    the number of lines (calls) written. An item that is not a valid request, or an article
    refused before any call (empty, too long), is kept with its problem: collect reports it."""
    # The key a live call would have: the caller's settings (a batch cannot re-ask; the body
    # does not carry the re-ask count).
    keyed = settings
    settings = settings.model_copy(update={"cache_url": "off", "reasks": 0})
    recorder = _Recorder()
    lines = 0
    meta_file = meta_path(batch_file)
    async with Extractor.open(settings, transport=recorder) as extractor:
        with batch_file.open("w", encoding="utf-8") as out, meta_file.open("w") as meta:
            for item in items:
                kept: dict[str, Any] = {"line": item.line, "id": item.id, "custom_ids": []}
                recorder.bodies.clear()
                try:
                    if item.request is None:
                        raise item.error or AttacheError("no request")
                    await extractor.extract(item.request)
                except AttacheError as exc:
                    meta.write(json.dumps({**kept, "problem": exc.as_problem()}) + "\n")
                    continue
                key = key_for(item.request, keyed, extractor.prompt)
                count = len(recorder.bodies)
                ids = [key] if count == 1 else [f"{key}-{n}" for n in range(1, count + 1)]
                for custom_id, body in zip(ids, recorder.bodies, strict=True):
                    line = {"custom_id": custom_id, "method": "POST", "url": CHAT_URL}
                    out.write(json.dumps({**line, "body": json.loads(body)}) + "\n")
                    lines += 1
                request = item.request.model_dump(mode="json")
                meta.write(json.dumps({**kept, "custom_ids": ids, "request": request}) + "\n")
    return lines


async def submit(client: openai.AsyncOpenAI, batch_file: Path) -> str:
    """Upload `batch_file` and start its batch; returns the batch id."""
    uploaded = await client.files.create(file=batch_file, purpose="batch")
    batch = await client.batches.create(
        input_file_id=uploaded.id,
        endpoint=CHAT_URL,
        completion_window="24h",
        metadata={"created_by": "attache"},
    )
    return batch.id


async def wait(
    client: openai.AsyncOpenAI, batch_id: str, *, every_s: float = 30.0, once: bool = False
) -> Any:
    """The batch, once it has finished (or at once with `once`)."""
    while True:
        batch = await client.batches.retrieve(batch_id)
        if once or batch.status in FINISHED:
            return batch
        await asyncio.sleep(every_s)


async def results_of(client: openai.AsyncOpenAI, batch: Any) -> list[dict[str, Any]]:
    """The batch's output and error lines, read from the API."""
    lines: list[dict[str, Any]] = []
    for file_id in (batch.output_file_id, batch.error_file_id):
        if file_id:
            content = await client.files.content(file_id)
            lines += [json.loads(raw) for raw in content.text.splitlines() if raw.strip()]
    return lines


@dataclass
class _Answers(httpx.AsyncBaseTransport):
    """Answers each chat request with the batch's answer to the same body."""

    by_body: dict[str, tuple[int, bytes]]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        found = self.by_body.get(_digest(await request.aread()))
        if found is None:
            return httpx.Response(
                404, json={"error": {"message": "the batch holds no answer to this request"}}
            )
        status, body = found
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})


async def collect(
    batch_file: Path, results: list[dict[str, Any]], settings: Settings, *, concurrency: int = 8
) -> list[dict[str, Any]]:
    """One output entry per prepared article, from the batch's `results` lines."""
    settings = settings.model_copy(update={"cache_url": "off", "reasks": 0, "upstream_retries": 0})
    sent, articles = await asyncio.to_thread(_read_prepared, batch_file)
    by_body: dict[str, tuple[int, bytes]] = {}
    for result in results:
        response = result.get("response") or {}
        body = response.get("body")
        status = int(response.get("status_code") or 500)
        if body is None:  # an error line: the provider never answered this request
            body, status = {"error": result.get("error") or {"message": "no answer"}}, 500
        if (digest := sent.get(result.get("custom_id", ""))) is not None:
            by_body[digest] = (status, json.dumps(body).encode())

    entries: list[dict[str, Any]] = [
        {"id": a["id"], "line": a["line"], "problem": a["problem"]}
        for a in articles
        if "problem" in a
    ]

    async def items() -> AsyncIterator[Item]:
        for article in articles:
            if "request" in article:
                request = ExtractionRequest.model_validate(article["request"])
                yield Item(article["line"], article["id"], request=request)

    async with Extractor.open(settings, transport=_Answers(by_body)) as extractor:
        async for entry in extract_each(extractor, items(), concurrency):
            entries.append(entry)
    return sorted(entries, key=lambda e: e["line"])


def _read_prepared(batch_file: Path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Each prepared call's body digest by custom_id, and the articles (the meta file)."""
    sent: dict[str, str] = {}
    for raw in batch_file.read_text(encoding="utf-8").splitlines():
        line = json.loads(raw)
        sent[line["custom_id"]] = _digest(json.dumps(line["body"]).encode())
    meta = meta_path(batch_file).read_text(encoding="utf-8").splitlines()
    return sent, [json.loads(raw) for raw in meta]


def failures(entries: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    """The articles that got no answer: (id, problem type)."""
    return [(e["id"], e["problem"]["type"]) for e in entries if "problem" in e]
