"""The processes `bench.overhead` measures attache against, each served by uvicorn on 127.0.0.1.

    python -m uvicorn bench.baselines:fake_upstream_app --host 127.0.0.1 --port P
    BENCH_UPSTREAM=http://127.0.0.1:P/v1 BENCH_MODE=tools \
        python -m uvicorn --factory bench.baselines:bare_app --host 127.0.0.1 --port Q
    ... --factory bench.baselines:instructor_app ...
    python -m bench.baselines probe http://127.0.0.1:Q/health 0.02

- `fake_upstream_app`: an OpenAI-compatible chat completions endpoint answering every call with
  the Board of Peace answer (`tests/data/board_of_peace.answer.json`), shaped for the mode the
  request asks for (`tools` in the body: a tool call; otherwise message content), after the
  delay last set by `POST /delay?ms=N`; `GET /calls` says how many it has answered. A plain
  ASGI app with its answers serialized once, so that at 0 ms it takes as little of the shared
  cores as it can.
- `bare_app`: `POST /v1/extractions` sends the messages attache sends, with the request shape
  of BENCH_MODE built once at startup, through the raw openai SDK, and validates the answer
  with `ExtractionDraft.model_validate_json`: the floor any extraction service pays.
- `instructor_app`: the same handler through `instructor.from_openai(...).create`.
- `probe`: prints `ready`, GETs a URL every interval until stdin closes, then prints the
  latencies (ms) and the number of failed probes as JSON. A process of its own, so that the
  load the benchmark generates cannot delay the probe's own event loop and pass for the
  server's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from textwrap import dedent
from typing import Any

import httpx
import instructor
import openai
from litestar import Litestar, get, post
from litestar.handlers import HTTPRouteHandler
from openai.types.chat import ChatCompletionMessageParam

from attache.pipeline.call import messages_for
from attache.pipeline.chunk import Chunk
from attache.prompts import load
from attache.schemas import ExtractionDraft, ExtractionRequest
from attache.settings import ModelMode, Settings
from tests.fakes import MODEL, completion

REPO = Path(__file__).resolve().parents[1]
# ASGI as the fake uses it: loose dicts, not Litestar's typed events for its own apps.
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

ANSWER_FILE = REPO / "tests" / "data" / "board_of_peace.answer.json"

_INSTRUCTOR_MODE = {
    ModelMode.TOOLS: instructor.Mode.TOOLS,
    ModelMode.JSON_SCHEMA: instructor.Mode.JSON_SCHEMA,
    ModelMode.JSON: instructor.Mode.JSON,
}


def answer() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ANSWER_FILE.read_text(encoding="utf-8"))["answer"]
    return data


# --- the fake upstream -----------------------------------------------------------------------


class FakeUpstream:
    """Plain ASGI: Litestar's own per-request work would be charged to the shared cores."""

    def __init__(self) -> None:
        draft = answer()
        self.tool_call = json.dumps(completion(draft, mode=ModelMode.TOOLS)).encode()
        self.content = json.dumps(completion(draft, mode=ModelMode.JSON)).encode()
        self.delay_s = 0.0
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "http":
            body = await _body(receive)
            await self.answer(scope["path"], scope["query_string"], body, send)

    async def answer(self, path: str, query: bytes, body: bytes, send: Send) -> None:
        if path.endswith("/chat/completions"):
            self.calls += 1
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            await _respond(send, 200, self.tool_call if b'"tools"' in body else self.content)
        elif path == "/delay":
            self.delay_s = float(urllib.parse.parse_qs(query.decode())["ms"][0]) / 1000
            await _respond(send, 204, b"")
        elif path == "/calls":
            await _respond(send, 200, str(self.calls).encode())
        elif path == "/health":
            await _respond(send, 200, b"{}")
        else:
            await _respond(send, 404, b"{}")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        event = (await receive())["type"]
        if event == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif event == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


fake_upstream_app = FakeUpstream()


# --- the two baselines ----------------------------------------------------------------------


def _shape(mode: ModelMode) -> tuple[dict[str, Any], str]:
    """The request fields and the system-message suffix instructor would add for `mode`, built
    once: the bare handler pays no per-request schema work."""
    schema = ExtractionDraft.model_json_schema()
    name = ExtractionDraft.__name__
    match mode:
        case ModelMode.TOOLS:
            tool = {
                "type": "function",
                "function": {
                    "name": name,
                    "description": (ExtractionDraft.__doc__ or "").strip(),
                    "parameters": schema,
                },
            }
            choice = {"type": "function", "function": {"name": name}}
            return {"tools": [tool], "tool_choice": choice}, ""
        case ModelMode.JSON_SCHEMA:
            return {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": name, "schema": schema},
                }
            }, ""
        case _:
            # instructor's own words (JSON mode), so both send the same number of tokens.
            suffix = "\n\n" + dedent(
                f"""
                As a genius expert, your task is to understand the content and provide
                the parsed objects in json that match the following json_schema:\n

                {json.dumps(schema, indent=2, ensure_ascii=False)}

                Make sure to return an instance of the JSON, not the schema itself
                """
            )
            return {"response_format": {"type": "json_object"}}, suffix


def _settings() -> tuple[str, ModelMode]:
    return os.environ["BENCH_UPSTREAM"], ModelMode(os.environ.get("BENCH_MODE", "tools"))


def _openai(base_url: str) -> openai.AsyncOpenAI:
    # The client attache builds, minus its metering hooks: same timeout and SDK retries.
    defaults = Settings()
    return openai.AsyncOpenAI(
        base_url=base_url,
        api_key="unused",
        timeout=httpx.Timeout(defaults.upstream_timeout_s, connect=10.0),
        max_retries=defaults.upstream_retries,
    )


def _messages(data: dict[str, Any], suffix: str = "") -> list[ChatCompletionMessageParam]:
    request = ExtractionRequest.model_validate(data)
    messages = messages_for(load(), Chunk(0, request.text), request)
    if suffix:
        messages[0] = {"role": "system", "content": load().system + suffix}
    return messages


@get("/health", sync_to_thread=False)
def _health() -> dict[str, str]:
    return {"status": "ok"}


def _app(extract: HTTPRouteHandler) -> Litestar:
    # attache runs at ATTACHE_LOG_LEVEL=WARNING in the benchmark; the SDK's INFO line per
    # upstream request (httpx), through Litestar's default logging queue, would be charged to
    # the baselines alone.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return Litestar([extract, _health], logging_config=None)


def bare_app() -> Litestar:
    base_url, mode = _settings()
    shape, suffix = _shape(mode)
    client = _openai(base_url)
    defaults = Settings()

    @post("/v1/extractions", status_code=200)
    async def extract(data: dict[str, Any]) -> ExtractionDraft:
        response = await client.chat.completions.create(
            model=MODEL,
            messages=_messages(data, suffix),
            max_tokens=defaults.max_output_tokens,
            temperature=defaults.temperature,
            **shape,
        )
        message = response.choices[0].message
        raw = message.content
        if message.tool_calls:
            call = message.tool_calls[0]
            raw = call.function.arguments if call.type == "function" else None
        return ExtractionDraft.model_validate_json(raw or "")

    return _app(extract)


def instructor_app() -> Litestar:
    base_url, mode = _settings()
    client = instructor.from_openai(_openai(base_url), mode=_INSTRUCTOR_MODE[mode])
    defaults = Settings()

    @post("/v1/extractions", status_code=200)
    async def extract(data: dict[str, Any]) -> ExtractionDraft:
        # strict=False as attache passes it; everything else (max_retries, hooks) as instructor
        # sets it by default.
        draft: ExtractionDraft = await client.create(
            model=MODEL,
            response_model=ExtractionDraft,
            messages=_messages(data),
            max_tokens=defaults.max_output_tokens,
            temperature=defaults.temperature,
            strict=False,
        )
        return draft

    return _app(extract)


# --- the /health prober ---------------------------------------------------------------------


async def _probe(url: str, interval_s: float, stop: threading.Event) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(timeout=10) as client:
        # Connected and warm before the benchmark starts its load: it waits for this line.
        (await client.get(url)).raise_for_status()
        print("ready", flush=True)
        while not stop.is_set():
            started = time.perf_counter()
            try:
                response = await client.get(url)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            elapsed = time.perf_counter() - started
            latencies.append(elapsed * 1000)
            errors += not ok
            await asyncio.sleep(max(0.0, interval_s - elapsed))
    return {"ms": latencies, "errors": errors}


def probe_main(url: str, interval_s: float) -> None:
    stop = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    print(json.dumps(asyncio.run(_probe(url, interval_s, stop))), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "probe":
        probe_main(sys.argv[2], float(sys.argv[3]))
    else:
        sys.exit("usage: python -m bench.baselines probe URL INTERVAL_S")
