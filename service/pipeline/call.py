"""Ask the model for the records in one chunk: of every type asked for, or of some (one pass,
`Settings.passes`)."""

from __future__ import annotations

from typing import Protocol

from openai.types.chat import ChatCompletionMessageParam

from attache.pipeline.chunk import Chunk
from attache.prompts import Prompt
from attache.salvage import Drafted
from attache.schemas import ExtractionRequest
from attache.schemas.records import EVIDENCE_CHECK, EvidenceCheck, TypeGroup


class DraftSource(Protocol):
    """Anything that turns chat messages into a validated draft (the model client).

    An answer that fails validation (the evidence check included) is re-asked; what holds of
    the last one may be salvaged (`attache.salvage`).
    """

    async def extract(
        self, messages: list[ChatCompletionMessageParam], only: TypeGroup | None = None
    ) -> Drafted:
        """The draft; with `only`, the model is given those types' schema and the draft holds
        those types' records alone."""
        ...


def messages_for(
    prompt: Prompt, chunk: Chunk, request: ExtractionRequest, only: TypeGroup | None = None
) -> list[ChatCompletionMessageParam]:
    published_at = request.published_at.isoformat() if request.published_at else None
    types: list[str] = sorted(request.types if only is None else only)
    return [
        {"role": "system", "content": prompt.system},
        {
            "role": "user",
            "content": prompt.user_message(chunk.text, published_at=published_at, types=types),
        },
    ]


async def call(
    source: DraftSource,
    prompt: Prompt,
    chunk: Chunk,
    request: ExtractionRequest,
    check: EvidenceCheck,
    *,
    only: TypeGroup | None = None,
) -> Drafted:
    """One model call, for the types `request` asks for or for `only`; answers whose quotes
    `check` rejects are re-asked."""
    token = EVIDENCE_CHECK.set(check)
    try:
        return await source.extract(messages_for(prompt, chunk, request, only), only)
    finally:
        EVIDENCE_CHECK.reset(token)
