"""The extraction pipeline as one object: what the HTTP route, the CLI and Python callers use.

    async with Extractor.open(Settings()) as extractor:
        response = await extractor.extract(ExtractionRequest(text=article))
        results = await extractor.extract_many(requests, concurrency=4)

`extract()` is the one-call form for scripts; `attache.sync` wraps both for code without an
event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Collection, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from pydantic import ValidationError

from attache import prompts
from attache.cache import ResultCache, key_for, open_store
from attache.client import Meter, ModelClient, metering
from attache.errors import (
    ArticleTooLong,
    AttacheError,
    DeadlineExceeded,
    EmptyArticle,
    InvalidCharacters,
    InvalidRequest,
    ModelNotConfigured,
    TokenBudgetExceeded,
    field_reasons,
)
from attache.lane import Lane, Stage
from attache.model_schema import only
from attache.pipeline.call import DraftSource, call
from attache.pipeline.chunk import Chunk, split
from attache.pipeline.ground import Aligner, ReaskUnaligned
from attache.pipeline.injection import suspect
from attache.pipeline.merge import ChunkDraft, Merged, merge
from attache.pipeline.normalize.records import Normalized, normalize
from attache.salvage import Drafted
from attache.schemas import (
    Cost,
    ExtractionDraft,
    ExtractionRequest,
    ExtractionResponse,
    ExtractionWarning,
    RecordType,
    SuspectedInjection,
    Timings,
    TokenUsage,
    WarningCode,
)
from attache.schemas.api import CONTROL_CHARACTERS, INVISIBLE_CHARACTERS
from attache.schemas.records import KIND_OF, RECORD_KINDS, TypeGroup
from attache.settings import InjectionPolicy, Passes, Settings

_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
_INVISIBLE = re.compile(f"[{INVISIBLE_CHARACTERS}]*")
# No tokenizer runs offline for every model; budgets use the usual 4 characters a token.
_CHARS_PER_TOKEN = 4
_WHOLE_SCHEMA = ExtractionDraft.model_json_schema()
# Up to this length an article is checked for injections and its records assembled on the event
# loop, in one turn of the lane (a few ms at most); the thread hop would cost more than it spares.
_ON_LOOP_CHARS = 10_000

logger = logging.getLogger("attache")


@functools.cache
def _schema_chars(group: TypeGroup | None) -> int:
    """What a call's schema adds to its prompt: the whole draft's, or its types' in a pass."""
    if group is None:
        return len(json.dumps(_WHOLE_SCHEMA))
    return len(json.dumps(only(_WHOLE_SCHEMA, *(KIND_OF[t].field for t in group))))


def _groups(passes: Passes, asked: Collection[RecordType]) -> list[TypeGroup | None]:
    """The types each call of a chunk reads: every type asked for (None) in one call, or the
    types asked for grouped `passes.types_a_call` at a time in the order of `RECORD_KINDS`."""
    size = passes.types_a_call
    if size is None:
        return [None]
    order = [kind.type for kind in RECORD_KINDS]
    groups = (
        tuple(t for t in order[i : i + size] if t in asked) for i in range(0, len(order), size)
    )
    return [group for group in groups if group]


@dataclass(frozen=True)
class Call:
    """One model call: a chunk, read for every type asked for or for `only` (one pass)."""

    chunk: Chunk
    only: TypeGroup | None = None


@dataclass(frozen=True)
class Plan:
    """The model calls one article will take, and the tokens they are expected to use."""

    calls: list[Call]
    estimated_tokens: int

    @property
    def chunk_count(self) -> int:
        return len({call.chunk.start for call in self.calls})


def _is_blank(text: str) -> bool:
    """True for text with nothing visible: whitespace and zero-width characters only."""
    return _INVISIBLE.fullmatch(text) is not None


class Extractor:
    def __init__(
        self,
        settings: Settings,
        source: DraftSource | None,
        model: str | None,
        lane: Lane | None = None,
        cache: ResultCache | None = None,
    ) -> None:
        self.settings = settings
        self.prompt = prompts.load(settings.prompt_version)
        self._source = source
        self.model = model
        self.cache = cache
        # Shared with the model client and the HTTP route: CPU work takes turns on it.
        self.lane = lane if lane is not None else Lane()

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
        lane = Lane()
        client = ModelClient(settings, transport=transport, lane=lane)
        try:
            async with open_store(settings.cache_url) as opened:
                cache = None
                if opened is not None:
                    store, locks = opened
                    cache = ResultCache(store, settings.cache_ttl_s, locks)
                yield cls(settings, client, client.model, lane, cache)
        finally:
            await client.aclose()

    def plan(self, request: ExtractionRequest) -> Plan:
        """Validate the article, split it into chunks and check the token budget.

        Nothing is spent before this passes. The one place that refuses a blank, oversized or
        binary article, whichever way it came (HTTP, CLI, Python).
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
        groups = _groups(self.settings.passes, request.types)
        calls = [Call(chunk, group) for chunk in chunks for group in groups]
        needed = sum(
            (len(self.prompt.system) + len(c.chunk.text) + _schema_chars(c.only))
            // _CHARS_PER_TOKEN
            + self.settings.max_output_tokens
            for c in calls
        )
        if needed > self.settings.token_budget:
            raise TokenBudgetExceeded(
                f"the article needs about {needed} tokens in {len(calls)} call(s); the budget "
                f"is {self.settings.token_budget} (ATTACHE_TOKEN_BUDGET)",
                estimated_tokens=needed,
                limit=self.settings.token_budget,
            )
        return Plan(calls=calls, estimated_tokens=needed)

    async def extract(
        self, request: ExtractionRequest, *, refresh: bool = False
    ) -> ExtractionResponse:
        """The records of one article; raises an `AttacheError` when it cannot.

        With the result cache on, an answer kept for the same question is returned (`cache.hit`)
        unless `refresh`, which asks the model again and keeps the new answer.
        """
        await self.lane.turn(Stage.ARTICLE)
        plan = self.plan(request)
        if self._source is None or self.model is None:
            raise ModelNotConfigured(
                "set ATTACHE_MODEL and ATTACHE_BASE_URL (or ATTACHE_API_KEY) to extract"
            )
        if self.cache is None:
            return await self._extract(request, plan, self._source)
        key = key_for(request, self.settings, self.prompt)
        source = self._source
        return await self.cache.answer(
            key, request, lambda: self._extract(request, plan, source), refresh=refresh
        )

    async def _extract(
        self, request: ExtractionRequest, plan: Plan, source: DraftSource
    ) -> ExtractionResponse:
        started = time.perf_counter()
        aligner = Aligner(request.text)
        long = len(request.text) > _ON_LOOP_CHARS
        # The detector reads a long article for tens of ms: in a worker thread, while the model
        # works. A short one costs about a millisecond, less than the thread hop.
        suspecting = asyncio.create_task(asyncio.to_thread(suspect, request.text)) if long else None
        try:
            answers, meter = await self._call_within_deadline(source, plan.calls, request, aligner)
        except BaseException:
            if suspecting is not None:
                suspecting.cancel()
            raise

        def assemble(suspected: list[SuspectedInjection]) -> tuple[Merged, Normalized]:
            merged = merge(
                [
                    ChunkDraft(c.chunk, a.draft, lost=a.lost, truncated=a.truncated)
                    for c, a in zip(plan.calls, answers, strict=True)
                ],
                aligner,
                request.types,
                keep_ungrounded=self.settings.keep_ungrounded,
                suspected=suspected,
                drop_suspected=self.settings.injection_policy is InjectionPolicy.DROP,
            )
            return merged, normalize(merged.drafts, _day(request.published_at))

        if suspecting is None:
            await self.lane.turn(Stage.RECORDS)
            suspected = suspect(request.text)
            merged, normalized = assemble(suspected)
        else:
            # Grounding, merging and normalizing a long article's records takes tens of ms: in
            # a worker thread, so the event loop keeps reading its sockets meanwhile.
            suspected = await suspecting
            merged, normalized = await asyncio.to_thread(assemble, suspected)
            await self.lane.turn(Stage.RECORDS)
        return self._response(
            request,
            chunks=plan.chunk_count,
            merged=merged,
            normalized=normalized,
            suspected=suspected,
            meter=meter,
            started=started,
        )

    def _response(
        self,
        request: ExtractionRequest,
        *,
        chunks: int,
        merged: Merged,
        normalized: Normalized,
        suspected: list[SuspectedInjection],
        meter: Meter,
        started: float,
    ) -> ExtractionResponse:
        warnings = list(merged.warnings)
        if chunks > 1:
            warnings.insert(
                0,
                ExtractionWarning(
                    code=WarningCode.ARTICLE_CHUNKED,
                    message=f"the article was read in {chunks} overlapping chunks",
                ),
            )
        return ExtractionResponse(
            id=request.id,
            actors=normalized.actors,
            **{kind.field: normalized.of_type(kind.record) for kind in RECORD_KINDS},
            model=self.model,
            prompt_version=self.prompt.label,
            usage=(usage := meter.usage()),
            cost=self._cost(usage),
            suspected_injections=suspected,
            warnings=warnings,
            timings=Timings(
                total_ms=(time.perf_counter() - started) * 1000,
                model_ms=meter.model_seconds * 1000,
            ),
        )

    def _cost(self, usage: TokenUsage) -> Cost | None:
        price = self.settings.prices.get(self.model or "")
        if price is None:
            return None
        amount = price.of(usage.prompt_tokens, usage.completion_tokens)
        return Cost(amount=round(amount, 8), currency=price.currency)

    async def _call_within_deadline(
        self, source: DraftSource, calls: list[Call], request: ExtractionRequest, aligner: Aligner
    ) -> tuple[list[Drafted], Meter]:
        """Every call's answer, and what they cost; the deadline and usage go on any error."""
        with metering() as meter:
            meter.deadline = asyncio.get_running_loop().time() + self.settings.deadline_s
            try:
                async with asyncio.timeout(self.settings.deadline_s):
                    answers = await self._call_all(source, calls, request, aligner)
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
        return answers, meter

    async def extract_many(
        self, requests: Iterable[ExtractionRequest], *, concurrency: int = 4
    ) -> list[ExtractionResponse | AttacheError]:
        """Each request's response or error, in input order; `concurrency` run at once.

        One article's failure never costs the others: it is returned in that article's place.
        """
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        gate = asyncio.Semaphore(concurrency)

        async def one(request: ExtractionRequest) -> ExtractionResponse | AttacheError:
            async with gate:
                try:
                    return await self.extract(request)
                except AttacheError as exc:
                    return exc
                except Exception as exc:
                    # A bug, not the article: logged whole, and the batch goes on.
                    logger.exception("unexpected error in extract_many", exc_info=exc)
                    failure = AttacheError(f"an unexpected error occurred: {type(exc).__name__}")
                    failure.__cause__ = exc
                    return failure

        return list(await asyncio.gather(*(one(request) for request in requests)))

    async def _call_all(
        self,
        source: DraftSource,
        calls: list[Call],
        request: ExtractionRequest,
        aligner: Aligner,
    ) -> list[Drafted]:
        def one_call(c: Call) -> Awaitable[Drafted]:
            # Each call gets its own re-ask budget for quotes not in the article.
            check = ReaskUnaligned(aligner, budget=self.settings.reasks)
            return call(source, self.prompt, c.chunk, request, check, only=c.only)

        if len(calls) == 1:
            return [await one_call(calls[0])]
        gate = asyncio.Semaphore(self.settings.chunk_concurrency)

        async def one(c: Call) -> Drafted:
            async with gate:
                return await one_call(c)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(c)) for c in calls]
        except ExceptionGroup as group_error:
            # The first call to fail cancels the rest; report its error, not the group.
            first = group_error.exceptions[0]
            if isinstance(first, AttacheError):
                raise first from group_error
            raise
        return [task.result() for task in tasks]


def _day(published_at: dt.datetime | dt.date | None) -> dt.date | None:
    # The publication day as the article's own dateline gives it: no timezone conversion.
    return published_at.date() if isinstance(published_at, dt.datetime) else published_at


def request_for(
    text: str,
    *,
    published_at: dt.date | dt.datetime | str | None = None,
    types: Iterable[RecordType | str] | None = None,
) -> ExtractionRequest:
    """An `ExtractionRequest` from plain arguments; `InvalidRequest` when they do not fit."""
    fields: dict[str, object] = {"text": text, "published_at": published_at}
    if types is not None:
        fields["types"] = list(types)
    try:
        return ExtractionRequest.model_validate(fields)
    except ValidationError as exc:
        raise InvalidRequest(f"invalid request: {field_reasons(exc)}") from exc


async def extract(
    text: str,
    *,
    published_at: dt.date | dt.datetime | str | None = None,
    types: Iterable[RecordType | str] | None = None,
    settings: Settings | None = None,
) -> ExtractionResponse:
    """The records of one article, in one call: for scripts.

    `settings` default to the `ATTACHE_*` environment variables. Each call opens and closes its
    own HTTP client; for many articles, open one `Extractor` and reuse it.
    """
    request = request_for(text, published_at=published_at, types=types)
    async with Extractor.open(settings if settings is not None else Settings()) as extractor:
        return await extractor.extract(request)
