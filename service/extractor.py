"""The extraction pipeline as one object: what the HTTP route, the CLI and Python callers use.

async with Extractor.open(Settings()) as extractor:
    response = await extractor.extract(ExtractionRequest(text=article))
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager

import httpx

from attache import prompts
from attache.client import ModelClient, metering
from attache.errors import (
    ArticleTooLong,
    AttacheError,
    DeadlineExceeded,
    EmptyArticle,
    InvalidCharacters,
    ModelNotConfigured,
    TokenBudgetExceeded,
)
from attache.pipeline.call import DraftSource, call
from attache.pipeline.chunk import Chunk, split
from attache.pipeline.ground import Aligner, ReaskUnaligned
from attache.pipeline.merge import ChunkDraft, merge
from attache.pipeline.normalize import normalize
from attache.schemas import (
    Declaration,
    ExtractionDraft,
    ExtractionRequest,
    ExtractionResponse,
    ExtractionWarning,
    FundingAsk,
    Invitation,
    Meeting,
    Timings,
    WarningCode,
)
from attache.settings import Settings

# C0 and C1 control characters but tab, line feed, vertical tab, form feed and carriage return:
# what a scraper leaves when it hands over binary data or mis-decoded bytes.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# Characters that take no room on the page: an article of nothing else is empty.
_INVISIBLE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]*")
# No tokenizer runs offline for every model; budgets use the usual 4 characters a token.
_CHARS_PER_TOKEN = 4
_SCHEMA_CHARS = len(json.dumps(ExtractionDraft.model_json_schema()))


def _is_blank(text: str) -> bool:
    """True for text with nothing visible: whitespace and zero-width characters only."""
    return _INVISIBLE.fullmatch(text) is not None


class Extractor:
    def __init__(self, settings: Settings, source: DraftSource | None, model: str | None) -> None:
        self.settings = settings
        self.prompt = prompts.load(settings.prompt_version)
        self._source = source
        self.model = model

    @classmethod
    @asynccontextmanager
    async def open(
        cls, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> AsyncIterator[Extractor]:
        """An extractor owning its model client, closed on exit. No client without a model.

        `transport` replaces the network under the model client (record and replay)."""
        if not settings.model_configured:
            yield cls(settings, None, None)
            return
        client = ModelClient(settings, transport=transport)
        try:
            yield cls(settings, client, client.model)
        finally:
            await client.aclose()

    def check(self, request: ExtractionRequest) -> list[Chunk]:
        """Reject input no model call could help with, before anything is spent; the chunks.

        The one place that refuses a blank article, whichever way it came (HTTP, CLI, Python).
        """
        if _is_blank(request.text):
            raise EmptyArticle("the article text is empty or only whitespace")
        if len(request.text) > self.settings.max_article_chars:
            raise ArticleTooLong(
                f"the article has {len(request.text)} characters; the limit is "
                f"{self.settings.max_article_chars} (ATTACHE_MAX_ARTICLE_CHARS)",
                limit=self.settings.max_article_chars,
            )
        if bad := _CONTROL.search(request.text):
            raise InvalidCharacters(
                f"the article text contains the control character U+{ord(bad.group()):04X} at "
                f"index {bad.start()}; send text, not binary data",
                position=bad.start(),
            )
        chunks = split(
            request.text,
            max_chars=self.settings.chunk_chars,
            overlap=self.settings.chunk_overlap_chars,
        )
        needed = sum(
            (len(self.prompt.system) + len(chunk.text) + _SCHEMA_CHARS) // _CHARS_PER_TOKEN
            + self.settings.max_output_tokens
            for chunk in chunks
        )
        if needed > self.settings.token_budget:
            raise TokenBudgetExceeded(
                f"the article needs about {needed} tokens in {len(chunks)} call(s); the budget "
                f"is {self.settings.token_budget} (ATTACHE_TOKEN_BUDGET)",
                estimated_tokens=needed,
                limit=self.settings.token_budget,
            )
        return chunks

    async def extract(self, request: ExtractionRequest) -> ExtractionResponse:
        chunks = self.check(request)
        if self._source is None or self.model is None:
            raise ModelNotConfigured(
                "set ATTACHE_MODEL and ATTACHE_BASE_URL (or ATTACHE_API_KEY) to extract"
            )
        started = time.perf_counter()
        aligner = Aligner(request.text)
        with metering() as meter:
            try:
                async with asyncio.timeout(self.settings.deadline_s):
                    drafts = await self._call_all(self._source, chunks, request, aligner)
            except TimeoutError as exc:
                failure = DeadlineExceeded(
                    f"the extraction took longer than {self.settings.deadline_s} s "
                    "(ATTACHE_DEADLINE_S)"
                )
                failure.usage = meter.usage()
                raise failure from exc
            except AttacheError as exc:
                exc.usage = meter.usage()
                raise
        merged = merge(
            [ChunkDraft(c, d) for c, d in zip(chunks, drafts, strict=True)],
            aligner,
            request.types,
            keep_ungrounded=self.settings.keep_ungrounded,
        )
        normalized = normalize(merged.drafts, _day(request.published_at))
        warnings = list(merged.warnings)
        if len(chunks) > 1:
            warnings.insert(
                0,
                ExtractionWarning(
                    code=WarningCode.ARTICLE_CHUNKED,
                    message=f"the article was read in {len(chunks)} overlapping chunks",
                ),
            )
        return ExtractionResponse(
            id=request.id,
            actors=normalized.actors,
            invitations=normalized.of_type(Invitation),
            meetings=normalized.of_type(Meeting),
            declarations=normalized.of_type(Declaration),
            funding_asks=normalized.of_type(FundingAsk),
            model=self.model,
            prompt_version=self.prompt.label,
            usage=meter.usage(),
            warnings=warnings,
            timings=Timings(
                total_ms=(time.perf_counter() - started) * 1000,
                model_ms=meter.model_seconds * 1000,
            ),
        )

    async def _call_all(
        self,
        source: DraftSource,
        chunks: list[Chunk],
        request: ExtractionRequest,
        aligner: Aligner,
    ) -> list[ExtractionDraft]:
        def one_call(chunk: Chunk) -> Awaitable[ExtractionDraft]:
            # Each call gets its own re-ask budget for quotes not in the article.
            check = ReaskUnaligned(aligner, budget=self.settings.reasks)
            return call(source, self.prompt, chunk, request, check)

        if len(chunks) == 1:
            return [await one_call(chunks[0])]
        gate = asyncio.Semaphore(self.settings.chunk_concurrency)

        async def one(chunk: Chunk) -> ExtractionDraft:
            async with gate:
                return await one_call(chunk)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(chunk)) for chunk in chunks]
        except ExceptionGroup as group_error:
            # The first chunk to fail cancels the rest; report its error, not the group.
            first = group_error.exceptions[0]
            if isinstance(first, AttacheError):
                raise first from group_error
            raise
        return [task.result() for task in tasks]


def _day(published_at: dt.datetime | dt.date | None) -> dt.date | None:
    # The publication day as the article's own dateline gives it: no timezone conversion.
    return published_at.date() if isinstance(published_at, dt.datetime) else published_at
