"""Every error attache raises on purpose, and the HTTP problem each becomes.

    AttacheError
    ├── InputError                       400-415  the caller's request is unusable
    │   ├── InvalidRequest               400  invalid-request       body fails the schema
    │   ├── MalformedJson                400  malformed-json
    │   ├── InvalidEncoding              400  invalid-encoding      not decodable as declared
    │   ├── EmptyArticle                 400  empty-article         no text, or only whitespace
    │   ├── InvalidCharacters            400  invalid-characters    control characters
    │   ├── BodyTooLarge                 413  body-too-large
    │   ├── ArticleTooLong               413  article-too-long
    │   ├── TokenBudgetExceeded          413  token-budget-exceeded
    │   └── UnsupportedMediaType         415  unsupported-media-type
    ├── Unauthorized                     401  unauthorized          no or unknown API key
    │   └── SignInRequired               401  unauthorized          review page: 303 to sign-in
    ├── ReviewError                      the review page refused (`attache.review.page`)
    │   ├── ReviewNotFound               404  not-found             no such article or record
    │   ├── ArticleInReview              409  article-in-review     that id is in review already
    │   ├── DecisionRefused              422  invalid-decision      `errors`: each field's reason
    │   ├── NothingToUndo                409  nothing-to-undo
    │   └── ReviewStoreUnavailable       503  review-store-unavailable  database unreachable
    ├── AuthenticationThrottled          429  too-many-failed-authentications  (+ Retry-After)
    ├── Overloaded                       503  overloaded            too many extractions at once
    ├── ModelNotConfigured               503  model-not-configured  no model or endpoint set
    ├── UpstreamError                    502/503  the model endpoint failed us
    │   ├── UpstreamRateLimited          503  upstream-rate-limited (+ Retry-After)
    │   ├── UpstreamUnavailable          502  upstream-unavailable  5xx, reset, refused
    │   │   └── UpstreamUnreachable      502  upstream-unavailable  no HTTP answer; names the URL
    │   ├── UpstreamTimeout              502  upstream-timeout      one call timed out
    │   ├── UpstreamRejected             502  upstream-rejected     4xx: key, model name, ...
    │   ├── UpstreamModeUnsupported      502  upstream-mode-unsupported
    │   ├── InvalidModelOutput           502  invalid-model-output  still invalid after re-asks
    │   ├── TruncatedModelOutput         502  truncated-model-output  hit the token cap
    │   ├── EmptyModelAnswer             502  empty-model-answer    no choices in the answer
    │   └── ModelRefused                 502  model-refused         the model declined
    ├── DeadlineExceeded                 504  deadline-exceeded     whole extraction too slow
    └── ClientDisconnected               499  client-disconnected   the caller left; cancelled

Litestar's own refusals use the same scheme: 404 not-found, 405 method-not-allowed, 429
rate-limited (per API key). `RetryLater` (Overloaded, UpstreamRateLimited) adds Retry-After.
The problem `type` is `urn:attache:problem:<slug>`; slugs never change meaning. Every `attache`
command exits with one table of codes, `ExitCode`; `exit_code_for` maps this tree onto it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from pydantic import ValidationError

    from attache.schemas import TokenUsage

PROBLEM_TYPE_PREFIX = "urn:attache:problem:"


class AttacheError(Exception):
    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        # What the failed extraction had cost upstream when it failed, for logs and metrics.
        self.usage: TokenUsage | None = None

    @property
    def problem_type(self) -> str:
        return PROBLEM_TYPE_PREFIX + self.slug

    @property
    def headers(self) -> dict[str, str]:
        return {}

    def as_problem(self) -> dict[str, Any]:
        """The RFC 9457 body for this error."""
        return {
            "type": self.problem_type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }


class InputError(AttacheError):
    status = 400
    slug = "invalid-request"
    title = "Invalid request"


class InvalidRequest(InputError):
    pass


class MalformedJson(InputError):
    slug = "malformed-json"
    title = "Malformed JSON"


class InvalidEncoding(InputError):
    slug = "invalid-encoding"
    title = "Body is not valid text in its declared encoding"


class EmptyArticle(InputError):
    slug = "empty-article"
    title = "Article text is empty"


class InvalidCharacters(InputError):
    slug = "invalid-characters"
    title = "Article text contains control characters"


class BodyTooLarge(InputError):
    status = 413
    slug = "body-too-large"
    title = "Request body too large"


class ArticleTooLong(InputError):
    status = 413
    slug = "article-too-long"
    title = "Article too long"


class BatchTooLarge(InputError):
    status = 413
    slug = "batch-too-large"
    title = "Too many articles in one batch"


class TokenBudgetExceeded(InputError):
    status = 413
    slug = "token-budget-exceeded"
    title = "The article needs more tokens than one extraction may use"


class UnsupportedMediaType(InputError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class Unauthorized(AttacheError):
    status = 401
    slug = "unauthorized"
    title = "A valid API key is required"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="attache"'}


class SignInRequired(Unauthorized):
    """No key and no valid sign-in on a review page: a browser asking for a page is sent to the
    sign-in form instead of this problem."""


class ReviewError(AttacheError):
    pass


class ReviewNotFound(ReviewError):
    status = 404
    slug = "not-found"
    title = "No such resource"


class ArticleInReview(ReviewError):
    status = 409
    slug = "article-in-review"
    title = "An article of that id is in review already"


class DecisionRefused(ReviewError):
    status = 422
    slug = "invalid-decision"
    title = "The decision would leave the record invalid"


class NothingToUndo(ReviewError):
    status = 409
    slug = "nothing-to-undo"
    title = "No decision left to undo"


class ReviewStoreUnavailable(ReviewError):
    status = 503
    slug = "review-store-unavailable"
    title = "The review database is unavailable"


class RetryLater(AttacheError):
    """An error the caller may retry after `retry_after_s` seconds (the Retry-After header)."""

    def __init__(self, detail: str, *, retry_after_s: int, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class AuthenticationThrottled(RetryLater):
    status = 429
    slug = "too-many-failed-authentications"
    title = "Too many wrong API keys from this address"


class Overloaded(RetryLater):
    status = 503
    slug = "overloaded"
    title = "Too many extractions in progress"


class ModelNotConfigured(AttacheError):
    status = 503
    slug = "model-not-configured"
    title = "No model is configured"


class UpstreamError(AttacheError):
    status = 502
    slug = "upstream-unavailable"
    title = "The model endpoint failed"


class UpstreamRateLimited(RetryLater, UpstreamError):
    status = 503
    slug = "upstream-rate-limited"
    title = "The model endpoint is rate-limiting us"


class UpstreamUnavailable(UpstreamError):
    pass


class UpstreamUnreachable(UpstreamUnavailable):
    """No HTTP answer at all (refused, reset, unknown host): the endpoint may be down, and the
    URL tried (`url`) is the first thing to check, so the problem names it."""


class UpstreamTimeout(UpstreamError):
    slug = "upstream-timeout"
    title = "A model call timed out"


class UpstreamRejected(UpstreamError):
    slug = "upstream-rejected"
    title = "The model endpoint rejected the request"


class UpstreamModeUnsupported(UpstreamError):
    slug = "upstream-mode-unsupported"
    title = "The model endpoint does not support the configured mode"


class InvalidModelOutput(UpstreamError):
    slug = "invalid-model-output"
    title = "The model's answer did not validate, even after re-asking"


class TruncatedModelOutput(UpstreamError):
    slug = "truncated-model-output"
    title = "The model's answer was cut off at the token limit"


class DeadlineExceeded(AttacheError):
    status = 504
    slug = "deadline-exceeded"
    title = "The extraction did not finish within its deadline"


class ClientDisconnected(AttacheError):
    # 499, as nginx logs it: nobody reads this response, but logs and metrics say what happened.
    status = 499
    slug = "client-disconnected"
    title = "The client disconnected before the answer"


class EmptyModelAnswer(UpstreamError):
    slug = "empty-model-answer"
    title = "The model endpoint answered with no choices"


class ModelRefused(UpstreamError):
    slug = "model-refused"
    title = "The model refused to answer"


class ExitCode(IntEnum):
    """The exit codes of every `attache` command; each code has one meaning everywhere."""

    OK = 0
    INTERNAL = 1
    """An unexpected internal error (a bug)."""
    USAGE = 2
    """A bad option or argument (click's own code)."""
    INPUT = 3
    """Bad input: empty, undecodable, too long, an invalid request; `attache eval compare`: two
    runs that scored different articles."""
    CONFIG = 4
    """No model configured, an invalid ATTACHE_* setting, a missing extra or data file."""
    UPSTREAM = 5
    """The model endpoint failed: unreachable, rate-limited, invalid or truncated output;
    `attache eval run` stopped early because the endpoint could not be reached."""
    DEADLINE = 6
    """The extraction deadline passed."""
    ARTICLES_FAILED = 7
    """`attache eval run`: the run finished, but some articles failed (they count as misses);
    `attache batch`: some articles' lines are problems (unless `--allow-failures`)."""
    METRIC_DROPPED = 8
    """`attache eval compare`: a gated metric dropped beyond the threshold, or became n/a."""
    RECORDING_MISMATCH = 9
    """`attache eval run --replay`: the recording does not answer these requests."""
    INVALID_FIXTURES = 10
    """`attache eval validate`: a fixture fails the schemas or its article."""
    INTERRUPTED = 130
    """`attache batch`: stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it); every
    line written is whole, and a rerun finishes the rest."""


_EXIT_CODES: tuple[tuple[type[AttacheError], ExitCode], ...] = (
    (InputError, ExitCode.INPUT),
    (ModelNotConfigured, ExitCode.CONFIG),
    (UpstreamError, ExitCode.UPSTREAM),
    (DeadlineExceeded, ExitCode.DEADLINE),
)


def exit_code_for(exc: AttacheError) -> ExitCode:
    return next((code for cls, code in _EXIT_CODES if isinstance(exc, cls)), ExitCode.INTERNAL)


def field_reasons(exc: ValidationError, *, root: str = "body", most: int = 6) -> str:
    """A validation error as `field.path: reason` items on one line, not pydantic's dump."""
    items = [f"{'.'.join(map(str, e['loc'])) or root}: {e['msg']}" for e in exc.errors()]
    shown = [" ".join(item.split())[:200] for item in items[:most]]
    more = f"; and {len(items) - most} more" if len(items) > most else ""
    return "; ".join(shown) + more
