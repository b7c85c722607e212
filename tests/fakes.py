"""Stand-ins for an OpenAI-compatible upstream: chat completions shaped as each mode expects."""

from __future__ import annotations

import json
from typing import Any

import httpx

from attache.settings import ModelMode

# Nothing listens on the discard port: a request that escapes the mocks is refused at once
# instead of reaching any network.
BASE_URL = "http://127.0.0.1:9/v1"
COMPLETIONS = "/chat/completions"
MODEL = "fake-model"


def completion(
    answer: dict[str, Any] | str,
    *,
    mode: ModelMode = ModelMode.TOOLS,
    finish_reason: str = "stop",
    prompt_tokens: int = 1000,
    completion_tokens: int = 200,
) -> dict[str, Any]:
    """A chat completion carrying `answer` (a draft, or raw text) the way `mode` returns it."""
    arguments = answer if isinstance(answer, str) else json.dumps(answer)
    message: dict[str, Any] = {"role": "assistant", "content": None}
    match mode:
        case ModelMode.TOOLS:
            message["tool_calls"] = [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "ExtractionDraft", "arguments": arguments},
                }
            ]
        case ModelMode.JSON | ModelMode.JSON_SCHEMA:
            message["content"] = arguments
        case ModelMode.MD_JSON:
            message["content"] = f"Here are the records.\n```json\n{arguments}\n```"
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1768867200,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def ok(answer: dict[str, Any] | str, **kwargs: Any) -> httpx.Response:
    return httpx.Response(200, json=completion(answer, **kwargs))


def error(status: int, message: str = "upstream error", **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"message": message, "type": "server_error"}}, headers=headers
    )


EMPTY_ANSWER: dict[str, Any] = {
    "invitations": [],
    "meetings": [],
    "declarations": [],
    "funding_asks": [],
}
