"""Ask the model for the records in one chunk: of every type asked for, or of one (a per-type
pass, `Settings.passes`)."""

from __future__ import annotations

from typing import Protocol

from openai.types.chat import ChatCompletionMessageParam

from attache.pipeline.chunk import Chunk
from attache.prompts import Prompt
from attache.salvage import Drafted
from attache.schemas import ExtractionRequest, RecordType
from attache.schemas.records import EVIDENCE_CHECK, EvidenceCheck


class DraftSource(Protocol):
    """Anything that turns chat messages into a validated draft (the model client).

    An answer that fails validation (the evidence check included) is re-asked; what holds of
    the last one may be salvaged (`attache.salvage`).
    """

    async def extract(
        self, messages: list[ChatCompletionMessageParam], only: RecordType | None = None
    ) -> Drafted:
        """The draft; with `only`, the model is given that type's schema and the draft holds
        that type's records alone."""
        ...


def messages_for(
    prompt: Prompt, chunk: Chunk, request: ExtractionRequest, only: RecordType | None = None
) -> list[ChatCompletionMessageParam]:
    published_at = request.published_at.isoformat() if request.published_at else None
    types: list[str] = sorted(request.types) if only is None else [only]
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
    only: RecordType | None = None,
) -> Drafted:
    """One model call, for the types `request` asks for or for `only`; answers whose quotes
    `check` rejects are re-asked."""
    token = EVIDENCE_CHECK.set(check)
    try:
        return await source.extract(messages_for(prompt, chunk, request, only), only)
    finally:
        EVIDENCE_CHECK.reset(token)
