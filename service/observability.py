"""Request ids, structured JSON logs and Prometheus metrics.

- Every response carries `X-Request-ID`: the caller's, when it sent a well-formed one (up to
  128 of `A-Z a-z 0-9 . _ -`), else a new UUID. Logs of the request carry it as `request_id`,
  and problem bodies as `instance` (`urn:attache:request:<id>`).
- Logs are JSON lines on stderr (structlog), the server's and libraries' included. They never
  hold article text, prompts or keys: the extraction log line holds counts, ids and timings.
  `ATTACHE_LOG_SENSITIVE=true` (debugging only) adds the request's article text.
- `/metrics` (Prometheus text format) serves every HTTP exchange by method, route template
  and real status (`attache_requests_total`, `attache_request_duration_seconds`): refusals of
  the middleware (401, 429) and of the router (404, 405) included, counted at the ASGI entry
  (`observe_exchange`), outside everything that can answer. attache's own metrics follow.
- Access logs never carry a query string (it may hold a key someone put in a URL).
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import structlog
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Send
from prometheus_client import Counter, Gauge, Histogram

from attache.errors import AttacheError, UpstreamError
from attache.review.decisions import Adoption
from attache.schemas import ExtractionRequest, ExtractionResponse, TokenUsage
from attache.schemas.common import RecordType
from attache.schemas.records import RECORD_KINDS
from attache.settings import ServerSettings

if TYPE_CHECKING:
    from attache.review.store import ReviewStore

REQUEST_ID_HEADER = "x-request-id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

request_id: ContextVar[str | None] = ContextVar("attache_request_id", default=None)

log = structlog.get_logger("attache")

UPSTREAM_CALLS = Counter("attache_upstream_calls", "HTTP requests sent to the model endpoint")
UPSTREAM_ERRORS = Counter(
    "attache_upstream_errors", "Extractions failed by the model endpoint, by problem type", ["kind"]
)
TOKENS = Counter("attache_tokens", "Tokens used upstream", ["kind"])
REASKS = Counter("attache_reasks", "Model answers re-asked (invalid output or ungrounded quotes)")
RECORDS = Counter("attache_records_extracted", "Records returned, by type", ["type"])
DROPPED = Counter(
    "attache_ungrounded_dropped", "Ungrounded evidence quotes and records dropped", ["what"]
)
EXTRACTION_SECONDS = Histogram(
    "attache_extraction_seconds",
    "Time of whole extractions, by outcome",
    ["outcome"],
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
)


REVIEW_RECORDS = Gauge(
    "attache_review_records",
    "Records in review by type, origin (model, added) and review state; read from the review "
    "database at each scrape, so every replica reports the same",
    ["type", "origin", "state"],
)
REVIEW_ADOPTION = Gauge(
    "attache_review_adoption_ratio",
    'Model records accepted unchanged / model records in review, by type ("all" for every type)',
    ["type"],
)


REQUESTS = Counter(
    "attache_requests",
    "HTTP responses by method, route and status",
    ["method", "path", "status_code"],
)
REQUEST_SECONDS = Histogram(
    "attache_request_duration_seconds",
    "Time from request to the end of the response, by method and route",
    ["method", "path"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)


async def observe_review(store: ReviewStore | None) -> None:
    """Set the review gauges from the database; left as they were when it cannot be read (or
    was never opened in this process: the page has not been used)."""
    if store is None:
        return
    try:
        tally = await store.tally()
    except Exception as exc:  # a scrape must not fail for the review database
        log.warning("review_metrics_unavailable", error=type(exc).__name__)
        return
    for (kind, origin, state), count in tally.items():
        REVIEW_RECORDS.labels(kind.value, origin.value, state.value).set(count)
    for kind in [*RecordType, None]:
        rate = Adoption.of(tally, kind).rate
        if rate is not None:
            REVIEW_ADOPTION.labels(kind.value if kind else "all").set(rate)


async def observe_exchange(app: ASGIApp, scope: HTTPScope, receive: Receive, send: Send) -> None:
    """One HTTP exchange: take or make its request id (logs, header, problem `instance`), and
    count its response by the status actually sent."""
    given = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
    value = given if _VALID_ID.match(given) else uuid.uuid4().hex
    token = request_id.set(value)
    structlog.contextvars.bind_contextvars(request_id=value)
    status = 500  # what the server answers when the app raises before it responds
    started = time.perf_counter()

    async def send_with_id(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = [h for h in message.get("headers", []) if h[0] != REQUEST_ID_HEADER.encode()]
            message["headers"] = [*headers, (REQUEST_ID_HEADER.encode(), value.encode())]
        await send(message)

    try:
        await app(scope, receive, send_with_id)
    finally:
        # The route template, not the path: a label per URL would grow without bound.
        path = scope.get("path_template") or "unmatched"
        REQUESTS.labels(scope["method"], path, str(status)).inc()
        REQUEST_SECONDS.labels(scope["method"], path).observe(time.perf_counter() - started)
        structlog.contextvars.unbind_contextvars("request_id")
        request_id.reset(token)


class _NoQueryString(logging.Filter):
    """uvicorn's access log line without the query string: `?api_key=...` stays off disk."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path, _, query = args[2].partition("?")
            record.args = (*args[:2], f"{path}?<redacted>" if query else path, *args[3:])
        return True


def configure_logging(settings: ServerSettings) -> None:
    """JSON lines on stderr for attache and everything that logs through `logging`."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        # A line below the level is dropped before any processor formats it: one extraction
        # event per request at INFO, with the service at WARNING.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level)
    # The openai SDK logs whole prompts (the article) at DEBUG, httpcore request internals:
    # only a deliberate sensitive-debug run gets them. instructor logs prompts at DEBUG too,
    # and at ERROR only what `extraction_failed` already says.
    for name in ("openai", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(
            settings.log_level if settings.log_sensitive else max(logging.INFO, root.level)
        )
    logging.getLogger("instructor").setLevel(
        settings.log_level if settings.log_sensitive else logging.CRITICAL
    )
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _NoQueryString) for f in access.filters):
        access.addFilter(_NoQueryString())


def observe_success(
    request: ExtractionRequest, response: ExtractionResponse, *, log_text: bool
) -> None:
    usage = response.usage
    _count_usage(usage)
    for kind in RECORD_KINDS:
        RECORDS.labels(type=kind.type.value).inc(len(getattr(response, kind.field)))
    for warning in response.warnings:
        if warning.code in {"evidence_dropped", "record_dropped"}:
            DROPPED.labels(what=warning.code.value.removesuffix("_dropped")).inc()
    EXTRACTION_SECONDS.labels(outcome="ok").observe(response.timings.total_ms / 1000)
    log.info(
        "extraction",
        article_id=request.id,
        article_chars=len(request.text),
        model=response.model,
        prompt_version=response.prompt_version,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        upstream_calls=usage.upstream_calls,
        completions=usage.completions,
        latency_ms=round(response.timings.total_ms, 1),
        records={kind.type.value: len(getattr(response, kind.field)) for kind in RECORD_KINDS},
        warnings=[w.code.value for w in response.warnings],
        **({"article_text": request.text} if log_text else {}),
    )


def observe_failure(request: ExtractionRequest, exc: AttacheError, seconds: float) -> None:
    usage = exc.usage
    if usage is not None:
        _count_usage(usage)
    if isinstance(exc, UpstreamError):
        UPSTREAM_ERRORS.labels(kind=exc.slug).inc()
    EXTRACTION_SECONDS.labels(outcome=exc.slug).observe(seconds)
    log.warning(
        "extraction_failed",
        article_id=request.id,
        article_chars=len(request.text),
        problem=exc.slug,
        status=exc.status,
        upstream_calls=usage.upstream_calls if usage else 0,
        latency_ms=round(seconds * 1000, 1),
    )


def _count_usage(usage: TokenUsage) -> None:
    UPSTREAM_CALLS.inc(usage.upstream_calls)
    TOKENS.labels(kind="prompt").inc(usage.prompt_tokens)
    TOKENS.labels(kind="completion").inc(usage.completion_tokens)
    REASKS.inc(usage.reasks)
