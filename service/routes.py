"""HTTP routes: extraction, batch extraction (NDJSON in, NDJSON streamed out), liveness,
readiness."""

from __future__ import annotations

import codecs
import json
import re
import time
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import SerializationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import JSONBody
from litestar.response import Stream

from attache import formats
from attache.admission import AdmissionMiddleware, until_disconnected
from attache.batch import Item, extract_each, parse_line
from attache.errors import (
    AttacheError,
    BatchTooLarge,
    EmptyArticle,
    InvalidEncoding,
    InvalidRequest,
    MalformedJson,
    ModelNotConfigured,
    UnsupportedMediaType,
)
from attache.extractor import Extractor
from attache.lane import Stage
from attache.observability import observe_failure, observe_success
from attache.schemas import ExtractionRequest, ExtractionResponse, Health, Problem, Readiness
from attache.schemas.api import ARTICLE_TEXT_PATTERN
from attache.settings import ServerSettings

JSON = "application/json"
NDJSON = "application/x-ndjson"
BATCH_TYPES = (NDJSON, "application/jsonl")
TEXT = "text/plain"
PROBLEM = "application/problem+json"
# Query parameters that carry the request's other fields when the body is plain text.
_TEXT_QUERY_FIELDS = {"id", "url", "published_at", "types"}


class ArticleRequest(Request[Any, Any, Any]):
    """Reads the extraction body from JSON or from plain text plus query parameters.

    Litestar hands `json()`'s value to pydantic for the `data` parameter; reading text/plain here
    keeps one validation path and one OpenAPI request type for both content types.
    """

    async def body(self) -> bytes:
        # Litestar skips `json()` for an empty body and reports missing data; say what it is.
        body = await super().body()
        if not body.strip():
            raise EmptyArticle("the request body is empty")
        return body

    async def json(self) -> Any:
        body = await self.body()
        # Decoding and validating the article is the first stretch of its CPU work.
        extractor: Extractor = self.app.state.extractor
        await extractor.lane.turn(Stage.ARTICLE)
        media_type, options = self.content_type
        if media_type == JSON or media_type.endswith("+json"):
            if self.scope["query_string"]:
                raise InvalidRequest(
                    "a JSON request carries every field in its body; query parameters are for "
                    "text/plain requests"
                )
            data = await self._json_body(body)
        elif media_type == TEXT:
            data = {"text": _decode(body, options.get("charset", "utf-8")), **self._text_query()}
        else:
            raise UnsupportedMediaType(
                f"send {JSON} or {TEXT}, not {media_type or 'no Content-Type'}",
                accepted=[JSON, TEXT],
            )
        return data

    async def _json_body(self, body: bytes) -> dict[str, Any]:
        _decode(body, "utf-8")  # RFC 8259: JSON exchanged between systems is UTF-8
        try:
            data = await super().json()
        except SerializationException as exc:
            raise MalformedJson(f"the body is not valid JSON: {exc.detail}") from exc
        except RecursionError as exc:
            # The decoder recurses per nesting level: no request of ours nests deeply.
            raise MalformedJson("the body's JSON nests too deeply") from exc
        if not isinstance(data, dict):
            raise InvalidRequest("the body must be a JSON object")
        if data.get("text") == "":
            # The schema's minLength would say invalid-request; the precise problem is this one.
            raise EmptyArticle("the article text is empty")
        return data

    def _text_query(self) -> dict[str, Any]:
        _check_percent_encoding(self.scope["query_string"])
        unknown = set(self.query_params) - _TEXT_QUERY_FIELDS
        if unknown:
            raise InvalidRequest(
                f"unknown query parameter(s): {', '.join(sorted(unknown))}",
                accepted=sorted(_TEXT_QUERY_FIELDS),
            )
        fields: dict[str, Any] = {}
        for key in _TEXT_QUERY_FIELDS - {"types"}:
            values = self.query_params.getall(key, [])
            if len(values) > 1:
                raise InvalidRequest(f"query parameter {key!r} is given {len(values)} times")
            if values:
                fields[key] = values[0]
        if "types" in self.query_params:
            fields["types"] = self.query_params.getall("types")
        return fields


_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def _check_percent_encoding(query: bytes) -> None:
    # Parsers forgive a stray "%zz" or escaped bytes that are not UTF-8 (U+FFFD): an id or a
    # date would then arrive silently altered.
    if _PERCENT.search(query):
        raise InvalidRequest("the query string has a malformed percent-escape")
    try:
        urllib.parse.unquote_to_bytes(query.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the query string's percent-escapes are not UTF-8") from exc


def _decode(body: bytes, charset: str) -> str:
    try:
        codecs.lookup(charset)
    except LookupError:
        raise UnsupportedMediaType(f"unknown charset {charset!r}") from None
    try:
        return body.decode(charset)
    except UnicodeDecodeError as exc:
        raise InvalidEncoding(
            f"the body is not valid {charset} (byte {exc.start}: {exc.reason})"
        ) from exc


@dataclass
class ExtractionOperation(Operation):
    """Documents the text/plain form of the request body next to the JSON one."""

    def __post_init__(self) -> None:
        if isinstance(self.request_body, RequestBody):
            self.request_body.content[TEXT] = OpenAPIMediaType(
                schema=Schema(
                    type=OpenAPIType.STRING,
                    min_length=1,
                    pattern=ARTICLE_TEXT_PATTERN,
                    description="The article text. Other fields go in query parameters: "
                    "id, url, published_at, types (repeatable).",
                )
            )


@dataclass
class BatchOperation(Operation):
    """Documents the batch route's NDJSON body, which the handler reads itself."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            content={
                media_type: OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.STRING,
                        pattern=r"\S",
                        description="One extraction request (a JSON object with an `id`) per line.",
                    )
                )
                for media_type in BATCH_TYPES
            },
        )


def _problems(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM,
            description="RFC 9457 problem; see docs/errors.md",
            generate_examples=False,
        )
        for status in statuses
    }


@post(
    "/v1/extractions",
    middleware=[AdmissionMiddleware],
    request_class=ArticleRequest,
    operation_class=ExtractionOperation,
    status_code=200,
    summary="Extract invitations, meetings, declarations and funding asks from an article",
    description="Answers JSON; with `Accept: application/ninjs+json`, a JSON array of IPTC "
    "ninjs 3.1 event items (one per record, linked to the article); with `Accept: "
    "application/ld+json`, a schema.org NewsArticle about one Event per record.",
    responses=_problems(400, 401, 413, 415, 429, 502, 503, 504),
)
async def create_extraction(
    data: JSONBody[ExtractionRequest],
    request: Request[Any, Any, Any],
    extractor: NamedDependency[Extractor],
    server: NamedDependency[ServerSettings],
) -> Response[ExtractionResponse]:
    started = time.perf_counter()
    try:
        response = await until_disconnected(
            request.receive, extractor.extract(data, refresh=_refresh(request))
        )
    except AttacheError as exc:
        observe_failure(data, exc, time.perf_counter() - started)
        raise
    observe_success(data, response, log_text=server.log_sensitive)
    wanted = request.accept.best_match([JSON, *formats.MEDIA_TYPES], default=JSON)
    if wanted == formats.NINJS:
        return cast(
            "Response[ExtractionResponse]",
            Response(formats.to_ninjs(response, data), media_type=wanted),
        )
    if wanted == formats.JSONLD:
        return cast(
            "Response[ExtractionResponse]",
            Response(formats.to_jsonld(response, data), media_type=wanted),
        )
    # Encoded by pydantic-core in one step; Litestar would build a dict of it first.
    return cast(
        "Response[ExtractionResponse]",
        Response(response.model_dump_json().encode(), media_type=JSON),
    )


@post(
    "/v1/extractions/batch",
    middleware=[AdmissionMiddleware],
    operation_class=BatchOperation,
    opt={"batch": True},
    status_code=200,
    media_type=NDJSON,
    summary="Extract from many articles: NDJSON requests in, one NDJSON line out per request as "
    "each finishes",
    description="Each body line is an extraction request with an `id`; each answer line is "
    '`{"id", "line", "response"}` or `{"id", "line", "problem"}` (the RFC 9457 problem the '
    "single route would have answered). The batch holds ATTACHE_BATCH_CONCURRENCY of the "
    "process's extraction slots while it runs; a client that disconnects cancels what is left.",
    responses=_problems(400, 401, 413, 415, 429, 503),
)
async def create_batch(
    request: Request[Any, Any, Any],
    extractor: NamedDependency[Extractor],
    server: NamedDependency[ServerSettings],
) -> Stream:
    media_type, _options = request.content_type
    if media_type not in BATCH_TYPES:
        raise UnsupportedMediaType(
            f"send {' or '.join(BATCH_TYPES)}, not {media_type or 'no Content-Type'}",
            accepted=list(BATCH_TYPES),
        )
    items = _batch_items(_decode(await request.body(), "utf-8"), server.max_batch_articles)
    concurrency: int = request.app.state.batch_concurrency

    def observe(item: Item, outcome: Any, seconds: float) -> None:
        if item.request is None:
            return
        if isinstance(outcome, AttacheError):
            observe_failure(item.request, outcome, seconds)
        else:
            observe_success(item.request, outcome, log_text=server.log_sensitive)

    async def answers() -> AsyncIterator[bytes]:
        async def each() -> AsyncIterator[Item]:
            for item in items:
                yield item

        async for entry in extract_each(
            extractor,
            each(),
            concurrency,
            observe=observe,
            refresh=_refresh(request),
        ):
            yield (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")

    return Stream(answers(), media_type=NDJSON)


def _refresh(request: Request[Any, Any, Any]) -> bool:
    """`Cache-Control: no-cache`: ask the model again, not the result cache (RFC 9111 5.2.1.4)."""
    return "no-cache" in request.headers.get("cache-control", "").lower()


def _batch_items(body: str, limit: int) -> list[Item]:
    """The requests of a batch body; a repeated id is answered by a problem line of its own."""
    items: list[Item] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(body.splitlines(), start=1):
        if not raw.strip():
            continue
        item = parse_line(number, raw)
        if item.id is not None and item.id in first_line:
            repeated = InvalidRequest(f"line {number} repeats the id of line {first_line[item.id]}")
            item = Item(number, item.id, error=repeated)
        elif item.id is not None:
            first_line[item.id] = number
        items.append(item)
        if len(items) > limit:
            raise BatchTooLarge(
                f"the batch holds more than {limit} requests (ATTACHE_MAX_BATCH_ARTICLES)",
                limit=limit,
            )
    if not items:
        raise EmptyArticle("the batch holds no request")
    return items


@get("/health", summary="Liveness: the process answers")
async def health() -> Health:
    return Health()


@get(
    "/ready", summary="Readiness: a model is configured (never calls it)", responses=_problems(503)
)
async def ready(extractor: NamedDependency[Extractor]) -> Readiness:
    if extractor.model is None:
        raise ModelNotConfigured("set ATTACHE_MODEL and ATTACHE_BASE_URL (or ATTACHE_API_KEY)")
    return Readiness(
        model=extractor.model,
        mode=extractor.settings.mode.value,
        prompt_version=extractor.prompt.label,
    )
