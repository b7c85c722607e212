"""attache: grounded invitations, meetings, declarations and funding asks from news articles.

    import attache

    response = await attache.extract(article_text, published_at="2026-01-20")
    for record in response.records:
        print(record.id, [e.quote for e in record.evidence])

The public API is what `__all__` names: `extract` (one call, one article), `Extractor` (an async
context manager: `extract`, `extract_many`), `SyncExtractor` and `extract_sync` for code with no
event loop, `Settings`, `create_app` (the HTTP service), the request, response and record
types, and the error hierarchy (`AttacheError` and its subclasses, drawn in `attache.errors`).

Names load on first use: the openai SDK alone takes over a second to import, and `attache
--help` or a script that only needs the types should not pay for it.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("attache")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

if TYPE_CHECKING:
    from attache.app import create_app
    from attache.errors import (
        ArticleTooLong,
        AttacheError,
        AuthenticationThrottled,
        BodyTooLarge,
        ClientDisconnected,
        DeadlineExceeded,
        EmptyArticle,
        EmptyModelAnswer,
        InputError,
        InvalidCharacters,
        InvalidEncoding,
        InvalidModelOutput,
        InvalidRequest,
        MalformedJson,
        ModelNotConfigured,
        ModelRefused,
        Overloaded,
        RetryLater,
        TokenBudgetExceeded,
        TruncatedModelOutput,
        Unauthorized,
        UnsupportedMediaType,
        UpstreamError,
        UpstreamModeUnsupported,
        UpstreamRateLimited,
        UpstreamRejected,
        UpstreamTimeout,
        UpstreamUnavailable,
        UpstreamUnreachable,
    )
    from attache.extractor import Extractor, extract
    from attache.schemas import (
        ActorMention,
        CanonicalActor,
        DateMention,
        Declaration,
        Evidence,
        ExtractionRequest,
        ExtractionResponse,
        ExtractionWarning,
        FundingAsk,
        Invitation,
        Meeting,
        Money,
        Record,
        RecordType,
        TokenUsage,
        WarningCode,
    )
    from attache.settings import ModelMode, Passes, ServerSettings, Settings
    from attache.sync import SyncExtractor, extract_sync

__all__ = [
    "ActorMention",
    "ArticleTooLong",
    "AttacheError",
    "AuthenticationThrottled",
    "BodyTooLarge",
    "CanonicalActor",
    "ClientDisconnected",
    "DateMention",
    "DeadlineExceeded",
    "Declaration",
    "EmptyArticle",
    "EmptyModelAnswer",
    "Evidence",
    "ExtractionRequest",
    "ExtractionResponse",
    "ExtractionWarning",
    "Extractor",
    "FundingAsk",
    "InputError",
    "InvalidCharacters",
    "InvalidEncoding",
    "InvalidModelOutput",
    "InvalidRequest",
    "Invitation",
    "MalformedJson",
    "Meeting",
    "ModelMode",
    "ModelNotConfigured",
    "ModelRefused",
    "Money",
    "Overloaded",
    "Passes",
    "Record",
    "RecordType",
    "RetryLater",
    "ServerSettings",
    "Settings",
    "SyncExtractor",
    "TokenBudgetExceeded",
    "TokenUsage",
    "TruncatedModelOutput",
    "Unauthorized",
    "UnsupportedMediaType",
    "UpstreamError",
    "UpstreamModeUnsupported",
    "UpstreamRateLimited",
    "UpstreamRejected",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "UpstreamUnreachable",
    "WarningCode",
    "__version__",
    "create_app",
    "extract",
    "extract_sync",
]

# Where each public name lives, cheapest first: a name is looked up in these in order.
_SOURCES = (
    "attache.schemas",
    "attache.errors",
    "attache.settings",
    "attache.extractor",
    "attache.sync",
    "attache.app",
)


def __getattr__(name: str) -> Any:
    if name in __all__:
        for source in _SOURCES:
            module = importlib.import_module(source)
            if hasattr(module, name):
                value = getattr(module, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module 'attache' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
