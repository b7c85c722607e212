"""The application factory: routes, the lifespan that owns the model client, the error map."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from litestar.plugins.prometheus import PrometheusController
from litestar.response import Redirect
from litestar.types import Receive, Scope, Send

from attache import __version__
from attache.admission import Admission
from attache.errors import PROBLEM_TYPE_PREFIX, AttacheError, SignInRequired
from attache.extractor import Extractor
from attache.observability import (
    configure_logging,
    observe_exchange,
    observe_review,
    request_id,
)
from attache.review import page
from attache.routes import create_batch, create_extraction, health, ready
from attache.security import (
    FailedAttempts,
    KeyRing,
    Sessions,
    api_key_middleware,
    rate_limit,
    session_secret,
)
from attache.settings import ServerSettings, Settings

logger = logging.getLogger("attache")

# Litestar's own HTTP errors, under the same stable problem types (and titles) as ours.
_HTTP_PROBLEMS = {
    400: ("invalid-request", "Invalid request"),
    401: ("unauthorized", "A valid API key is required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "No such resource"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("body-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many requests"),
}


def _instance() -> str | None:
    current = request_id.get()
    return f"urn:attache:request:{current}" if current else None


def _from_attache(exc: AttacheError) -> ProblemDetailsException:
    return ProblemDetailsException(
        type_=exc.problem_type,
        title=exc.title,
        detail=exc.detail,
        status_code=exc.status,
        headers=exc.headers or None,
        extra=exc.extra or None,
        instance=_instance(),
    )


def _from_http(exc: HTTPException) -> ProblemDetailsException:
    slug, title = _HTTP_PROBLEMS.get(exc.status_code, (f"http-{exc.status_code}", "HTTP error"))
    extra = {"errors": exc.extra} if isinstance(exc, ValidationException) and exc.extra else None
    # Litestar's validation message repeats the whole URL, query string (keys, maybe) and all.
    detail = (
        "the request does not match the schema; `errors` lists each field"
        if isinstance(exc, ValidationException)
        else exc.detail
    )
    headers = dict(exc.headers or {})
    # Litestar's rate limiter says when the window resets; Retry-After is what clients read.
    if exc.status_code == 429 and "RateLimit-Reset" in headers:
        headers["Retry-After"] = str(max(1, int(headers["RateLimit-Reset"])))
    return ProblemDetailsException(
        type_=PROBLEM_TYPE_PREFIX + slug,
        title=title,
        detail=detail,
        status_code=exc.status_code,
        headers=headers or None,
        extra=extra,
        instance=_instance(),
    )


def _sign_in_first(request: Request[Any, Any, Any], exc: SignInRequired) -> Response[Any]:
    # A browser asking for a review page goes to the sign-in form and comes back after it.
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/review/sign-in?{urlencode({'next': target})}", status_code=303)
    return _from_attache(exc).to_response(request)


def _from_unexpected(exc: Exception) -> ProblemDetailsException:
    # A bug, not a condition we planned for: log it whole, tell the caller nothing internal.
    logger.error("unhandled error", exc_info=exc)
    return ProblemDetailsException(
        type_=PROBLEM_TYPE_PREFIX + "internal-error",
        title="Internal error",
        detail="an unexpected error occurred; it has been logged",
        status_code=500,
        instance=_instance(),
    )


class Service(Litestar):
    """Litestar, with every HTTP exchange observed at its entry (`observe_exchange`).

    Route middleware never sees the router's own 404 and 405, and sees a refusal raised by
    other middleware as an exception, not a status: only the entry sees every response.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        if scope["type"] == ScopeType.HTTP:
            await observe_exchange(super().__call__, scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


class MetricsController(PrometheusController):
    # Prometheus text, not JSON: kept out of the OpenAPI document, which describes the API.
    include_in_schema = False

    @get()
    async def get(self, state: State) -> Response[Any]:
        # The review's counts live in the database, the same for every replica: read them now.
        holder: page.StoreHolder = state.review
        await observe_review(holder.opened)
        return await PrometheusController.get.fn(self)  # type: ignore[no-any-return]


def _extractor(state: State) -> Extractor:
    extractor: Extractor = state.extractor
    return extractor


def create_app(settings: Settings | None = None, server: ServerSettings | None = None) -> Litestar:
    """The HTTP service: `settings` for extraction, `server` for the server around it.

    Both default to the environment (no `.env`: `attache serve` reads that one)."""
    settings = settings if settings is not None else Settings()
    server = server if server is not None else ServerSettings()
    configure_logging(server)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with Extractor.open(settings) as extractor:
            app.state.extractor = extractor
            app.state.admission = Admission(
                server.max_concurrent_extractions, server.overloaded_retry_after_s
            )
            app.state.batch_concurrency = min(
                server.batch_concurrency, server.max_concurrent_extractions
            )
            # What exists now (modules, schemas, clients, caches) lives as long as the service.
            # Frozen, it is left out of full garbage collections, which otherwise walked it
            # all: 85 ms a collection, five times a burst of 200 extractions, the loop stopped.
            gc.freeze()
            try:
                yield
            finally:
                gc.unfreeze()
                await app.state.review.close()

    secret = session_secret(server)
    ring = KeyRing(server.api_keys) if server.api_keys else None
    sessions = Sessions(secret, ring, server.session_hours) if ring is not None else None
    failures = FailedAttempts(server.failed_auth_per_minute)
    middleware: list[Any] = []
    if ring is not None and sessions is not None:
        middleware.append(api_key_middleware(ring, sessions, failures))
    if server.rate_limit_per_minute:
        middleware.append(rate_limit(server.rate_limit_per_minute).middleware)

    problem_map: dict[type[Exception], Callable[[Any], ProblemDetailsException]] = {
        AttacheError: _from_attache,
        HTTPException: _from_http,
        Exception: _from_unexpected,
    }
    app = Service(
        route_handlers=[
            create_extraction,
            create_batch,
            health,
            ready,
            MetricsController,
            page.ReviewController,
            page.static_files(),
        ],
        lifespan=[lifespan],
        state=State(
            {
                "review": page.StoreHolder(server.database_url),
                "security": page.Security(ring, sessions, failures, server.secure_cookies),
            }
        ),
        middleware=middleware,
        csrf_config=page.csrf_config(secret, secure=server.secure_cookies),
        template_config=page.template_config(),
        exception_handlers={SignInRequired: _sign_in_first},
        dependencies={
            "extractor": Provide(_extractor, sync_to_thread=False),
            "server": Provide(lambda: server, sync_to_thread=False),
        },
        plugins=[
            ProblemDetailsPlugin(ProblemDetailsConfig(exception_to_problem_detail_map=problem_map))
        ],
        request_max_body_size=server.max_body_bytes,
        logging_config=None,  # configure_logging owns logging: JSON lines, one format
        openapi_config=OpenAPIConfig(title="attache", version=__version__, path="/schema"),
    )
    _state_closed_bodies(app)
    return app


def _state_closed_bodies(app: Litestar) -> None:
    # Request bodies refuse unknown fields (pydantic's extra="forbid"); Litestar's generator
    # leaves that out of the OpenAPI document, so clients and schemathesis would send extras.
    components = app.openapi_schema.components
    schemas = components.schemas if components is not None else None
    if schemas is not None and "ExtractionRequest" in schemas:
        schemas["ExtractionRequest"].additional_properties = False


def app_from_environment() -> Litestar:
    """The app of one `attache serve --workers N` process: settings from the environment and
    `.env`, as the command line reads them."""
    return create_app(Settings.from_env_file(), ServerSettings.from_env_file())
