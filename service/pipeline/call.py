"""Ask the model for the records in one chunk."""

from __future__ import annotations

from typing import Protocol

from openai.types.chat import ChatCompletionMessageParam

from attache.pipeline.chunk import Chunk
from attache.prompts import Prompt
from attache.salvage import Drafted
from attache.schemas import ExtractionRequest
from attache.schemas.records import EVIDENCE_CHECK, EvidenceCheck


class DraftSource(Protocol):
    """Anything that turns chat messages into a validated draft (the model client).

    An answer that fails validation (the evidence check included) is re-asked; what holds of
    the last one may be salvaged (`attache.salvage`).
    """

    async def extract(self, messages: list[ChatCompletionMessageParam]) -> Drafted: ...


def messages_for(
    prompt: Prompt, chunk: Chunk, request: ExtractionRequest
) -> list[ChatCompletionMessageParam]:
    published_at = request.published_at.isoformat() if request.published_at else None
    return [
        {"role": "system", "content": prompt.system},
        {
            "role": "user",
            "content": prompt.user_message(
                chunk.text, published_at=published_at, types=sorted(request.types)
            ),
        },
    ]


async def call(
    source: DraftSource,
    prompt: Prompt,
    chunk: Chunk,
    request: ExtractionRequest,
    check: EvidenceCheck,
) -> Drafted:
    """One model call; answers whose quotes `check` rejects are re-asked."""
    token = EVIDENCE_CHECK.set(check)
    try:
        return await source.extract(messages_for(prompt, chunk, request))
    finally:
        EVIDENCE_CHECK.reset(token)
