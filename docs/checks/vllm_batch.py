"""Check `attache provider-batch` files against vLLM's own batch models.

Not run in CI: it needs vLLM (with torch, about 9 GB), which this project does not depend on.
vLLM's wheel needs a GPU to run a model, so `vllm run-batch` itself cannot run on a CPU-only
machine; this checks both files it would exchange with attache, with vLLM's classes:

- input: every line of a prepared file parses as vLLM's `BatchRequestInput`, its body as vLLM's
  `ChatCompletionRequest`, with no field vLLM does not declare (an undeclared field would be
  ignored, silently);
- output: an answer, shaped as the request's mode asks (a tool call, JSON, a JSON block), is
  wrapped in vLLM's `BatchRequestOutput` and written to OUTPUT, for `attache provider-batch
  collect BATCH --results OUTPUT` to read.

    python docs/checks/vllm_batch.py BATCH.jsonl ANSWER.json OUTPUT.jsonl

ANSWER.json holds `{"answer": <an ExtractionDraft>}` (`tests/data/board_of_peace.answer.json`);
it becomes every line's tool call. docs/operations.md gives the run and its result.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

from vllm.entrypoints.launchers.run_batch import (
    BatchRequestInput,
    BatchRequestOutput,
    BatchResponseData,
)
from vllm.entrypoints.openai.chat_completion.protocol import (
    ChatCompletionResponse,
)


def main(batch: Path, answer_file: Path, out: Path) -> None:
    answer = json.loads(answer_file.read_text())["answer"]
    lines = []
    for raw in map(json.loads, batch.read_text().splitlines()):
        request = BatchRequestInput.model_validate(raw)
        unknown = set(raw["body"]) - set(type(request.body).model_fields)
        if unknown:
            sys.exit(f"{raw['custom_id']}: fields vLLM does not declare: {sorted(unknown)}")
        message = _message(raw["body"], json.dumps(answer))
        completion = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": request.body.model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
            "usage": {"prompt_tokens": 2000, "completion_tokens": 300, "total_tokens": 2300},
        }
        response = BatchResponseData(
            status_code=200,
            request_id=f"vllm-batch-{uuid.uuid4().hex}",
            body=ChatCompletionResponse.model_validate(completion),
        )
        output = BatchRequestOutput(
            id=f"vllm-{uuid.uuid4().hex}",
            custom_id=request.custom_id,
            response=response,
            error=None,
        )
        lines.append(output.model_dump_json())
    out.write_text("\n".join(lines) + "\n")
    sys.stdout.write(f"{len(lines)} line(s) parsed by vLLM's BatchRequestInput; answers in {out}\n")


def _message(body: dict[str, Any], answer: str) -> dict[str, Any]:
    """The answer the way the request's mode asks for it: a tool call, JSON, or a JSON block."""
    if "tools" in body:
        call = {"name": body["tool_choice"]["function"]["name"], "arguments": answer}
        tool_call = {"id": "call_1", "type": "function", "function": call}
        return {"role": "assistant", "content": None, "tool_calls": [tool_call]}
    if "response_format" in body:
        return {"role": "assistant", "content": answer}
    return {"role": "assistant", "content": f"```json\n{answer}\n```"}


if __name__ == "__main__":
    main(*map(Path, sys.argv[1:4]))
