"""Tokens before the article, as the model's own server counts them, per mode and way of passing.

    python3 evals/local_model.py            # starts the server and prints its settings
    .venv/bin/python -m bench.prompt_tokens --base-url http://127.0.0.1:8080/v1 --model NAME \
        [--prompts v1] [--passes one,pairs,per-type] [--modes tools,json,md_json]

attache sends each of its calls for the article "A." (two characters) to the server with an
output cap of 1 token and reads the server's `usage.prompt_tokens`: everything in the prompt
but the article, plus the article's one or two tokens. The answer attache is then given is an
empty one made up here, so it goes on to the article's next call without waiting for the model
to write. A server that counts no prompt tokens, or refuses the request, shows `-`.

The count is the server's, so it includes what the server adds: llama-cpp-python's chat
template writes a tool's schema into the prompt with a space after every `:` and `,` (tools
mode), where instructor writes it into the system message compact (json, md_json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence

import httpx

from attache.errors import AttacheError
from attache.extractor import Extractor, request_for
from attache.settings import ModelMode, Passes, Settings
from tests.fakes import EMPTY_ANSWER, completion

ARTICLE = "A."


class Probe(httpx.AsyncBaseTransport):
    """Sends each request on with an output cap of 1 and notes the prompt tokens counted."""

    def __init__(self, mode: ModelMode) -> None:
        self.mode = mode
        self.network = httpx.AsyncHTTPTransport()
        self.counts: list[int | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        body["max_tokens"] = 1
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        sent = httpx.Request(request.method, request.url, headers=headers, json=body)
        response = await self.network.handle_async_request(sent)
        answer = json.loads(await response.aread()) if response.status_code == 200 else {}
        self.counts.append((answer.get("usage") or {}).get("prompt_tokens"))
        # "No records", shaped as the mode answers (a tool call, content, a fenced block).
        return httpx.Response(200, json=completion(EMPTY_ANSWER, mode=self.mode))

    async def aclose(self) -> None:
        await self.network.aclose()


async def counts(
    base_url: str, model: str, mode: str, passes: str, prompt: str
) -> list[int | None]:
    settings = Settings(
        _env_file=None,
        base_url=base_url,
        model=model,
        api_key="prompt-tokens",
        mode=ModelMode(mode),
        passes=Passes(passes),
        prompt_version=prompt,
        upstream_retries=0,
        reasks=0,
        salvage=False,
        chunk_concurrency=1,
        cache_url="off",
    )
    probe = Probe(settings.mode)
    async with Extractor.open(settings, transport=probe) as extractor:
        # The counts already taken stand; a request the server refused counts as None.
        with contextlib.suppress(AttacheError):
            await extractor.extract(request_for(ARTICLE, published_at="2026-01-20"))
    return probe.counts


def cell(values: list[int | None]) -> str:
    known = [v for v in values if v]
    if not known:
        return "-"
    low, high = min(known), max(known)
    return f"{low:,}" if low == high else f"{low:,} to {high:,}"


async def table(base_url: str, model: str, args: argparse.Namespace) -> list[str]:
    modes = args.modes.split(",")
    out = ["| prompt | passes | " + " | ".join(modes) + " |", "|---|---|" + "---|" * len(modes)]
    for prompt in args.prompts.split(","):
        for passes in args.passes.split(","):
            cells = [cell(await counts(base_url, model, m, passes, prompt)) for m in modes]
            out.append(f"| {prompt} | {passes} | " + " | ".join(cells) + " |")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompts", default="v1")
    parser.add_argument("--passes", default=",".join(p.value for p in Passes))
    parser.add_argument("--modes", default="tools,json,md_json")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    print("\n".join(asyncio.run(table(args.base_url, args.model, args))))


if __name__ == "__main__":
    main()
