"""The model client: one `AsyncOpenAI` wrapped by instructor, and its retry and usage accounting.

Retries have one owner per failure:

- HTTP faults (408, 409, 429, 5xx, connection errors, per-request timeouts) are retried by the
  openai SDK, `upstream_retries` times, with its exponential backoff and the upstream's
  Retry-After (the SDK honours it up to 60 s and gives up past that).
- Answers that fail validation (bad JSON, schema violations) are re-asked by instructor,
  `reasks` times, with the validation errors fed back to the model.

instructor does not retry HTTP faults (its retry predicate takes only parse errors), so one
model call sends at most `(reasks + 1) * (upstream_retries + 1)` HTTP requests;
`tests/service/test_faults.py` counts them for every fault. The extraction deadline bounds the
time on top of that.

Usage is counted here from every completion received, re-asks included, and HTTP requests from
the transport's own event hook, so SDK retries are counted too.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
import instructor
import openai
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from instructor.core.hooks import HookName, Hooks
from openai.types.chat import ChatCompletionMessageParam

from attache.errors import (
    AttacheError,
    EmptyModelAnswer,
    InvalidModelOutput,
    ModelRefused,
    TruncatedModelOutput,
    UpstreamModeUnsupported,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from attache.schemas import ExtractionDraft, TokenUsage
from attache.settings import ModelMode, Settings

_INSTRUCTOR_MODE: dict[ModelMode, instructor.Mode] = {
    ModelMode.TOOLS: instructor.Mode.TOOLS,
    ModelMode.JSON_SCHEMA: instructor.Mode.JSON_SCHEMA,
    ModelMode.JSON: instructor.Mode.JSON,
    ModelMode.MD_JSON: instructor.Mode.MD_JSON,
}

# Words an upstream uses when it refuses the request shape a mode needs, not the request itself.
_MODE_WORDS: dict[ModelMode, tuple[str, ...]] = {
    ModelMode.TOOLS: ("tool", "function"),
    ModelMode.JSON_SCHEMA: ("response_format", "json_schema"),
    ModelMode.JSON: ("response_format", "json_object"),
    ModelMode.MD_JSON: (),
}
_UPSTREAM_MESSAGE_CHARS = 300


@dataclass
class Meter:
    """What one extraction cost upstream. Shared by the tasks of one extraction."""

    upstream_calls: int = 0
    model_calls: int = 0
    completions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_seconds: float = 0.0

    def usage(self) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            total_tokens=self.prompt_tokens + self.completion_tokens,
            completions=self.completions,
            upstream_calls=self.upstream_calls,
            reasks=max(0, self.completions - self.model_calls),
        )

    def add_completion(self, response: Any) -> None:
        self.completions += 1
        usage = getattr(response, "usage", None)
        if usage is not None:
            self.prompt_tokens += usage.prompt_tokens or 0
            self.completion_tokens += usage.completion_tokens or 0


# The transport's event hook has no other way to know which extraction a request belongs to;
# asyncio tasks inherit the context, so chunk calls run in parallel still meter into one Meter.
_current_meter: ContextVar[Meter | None] = ContextVar("attache_meter", default=None)


@contextmanager
def metering() -> Iterator[Meter]:
    meter = Meter()
    token = _current_meter.set(meter)
    try:
        yield meter
    finally:
        _current_meter.reset(token)


async def _count_request(_request: httpx.Request) -> None:
    meter = _current_meter.get()
    if meter is not None:
        meter.upstream_calls += 1


class ModelClient:
    """Sends one chat request for an `ExtractionDraft` and turns every failure into ours."""

    def __init__(
        self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        """`transport` replaces the network (the evaluation runner records and replays)."""
        if settings.model is None:
            raise ValueError("ModelClient needs settings.model")
        self._settings = settings
        self.model = settings.model
        self._http = openai.DefaultAsyncHttpxClient(
            event_hooks={"request": [_count_request]}, transport=transport
        )
        self._openai = openai.AsyncOpenAI(
            base_url=str(settings.base_url) if settings.base_url else None,
            # Local servers take any key, but the SDK refuses to start without one.
            api_key=settings.api_key.get_secret_value() if settings.api_key else "unused",
            timeout=httpx.Timeout(settings.upstream_timeout_s, connect=10.0),
            max_retries=settings.upstream_retries,
            http_client=self._http,
        )
        self._instructor = instructor.from_openai(
            self._openai, mode=_INSTRUCTOR_MODE[settings.mode]
        )

    async def aclose(self) -> None:
        await self._openai.close()

    async def extract(
        self, messages: list[ChatCompletionMessageParam], *, context: dict[str, Any]
    ) -> ExtractionDraft:
        meter = _current_meter.get() or Meter()
        answers: list[Any] = []
        hooks = Hooks()
        hooks.on(HookName.COMPLETION_RESPONSE, meter.add_completion)
        hooks.on(HookName.COMPLETION_RESPONSE, answers.append)
        meter.model_calls += 1
        token_limit: dict[str, Any] = {
            self._settings.token_limit_param.value: self._settings.max_output_tokens
        }
        started = time.perf_counter()
        try:
            draft: ExtractionDraft = await self._instructor.create(
                model=self.model,
                response_model=ExtractionDraft,
                messages=messages,
                max_retries=self._settings.reasks,
                context=context,
                strict=False,
                hooks=hooks,
                temperature=self._settings.temperature,
                **token_limit,
            )
        except (openai.APIError, IncompleteOutputException, InstructorRetryException) as exc:
            raise self._translate(exc, answers[-1] if answers else None) from exc
        finally:
            meter.model_seconds += time.perf_counter() - started
        return draft

    def _translate(self, exc: BaseException, last_answer: Any = None) -> AttacheError:
        """Our error for a failed call; `last_answer` is the last completion received, if any."""
        if isinstance(exc, InstructorRetryException):
            cause = exc.__cause__
            if isinstance(cause, openai.APIError | IncompleteOutputException):
                return self._translate(cause)
            choices = getattr(last_answer, "choices", None)
            if last_answer is not None and not choices:
                return EmptyModelAnswer("the model endpoint answered with no choices")
            refusal = getattr(choices[0].message, "refusal", None) if choices else None
            if refusal:
                return ModelRefused(
                    f"the model refused: {str(refusal)[:_UPSTREAM_MESSAGE_CHARS]}",
                    attempts=exc.n_attempts,
                )
            return InvalidModelOutput(
                f"no valid answer after {exc.n_attempts} attempt(s): {str(exc)[:1000]}",
                attempts=exc.n_attempts,
            )
        if isinstance(exc, IncompleteOutputException):
            return TruncatedModelOutput(
                "the model stopped at the token limit "
                f"({self._settings.max_output_tokens}); raise ATTACHE_MAX_OUTPUT_TOKENS or "
                "lower ATTACHE_CHUNK_CHARS"
            )
        if isinstance(exc, openai.RateLimitError):
            retry_after = _retry_after_s(exc.response) or self._settings.rate_limited_retry_after_s
            return UpstreamRateLimited(
                "the model endpoint answered 429 after all retries", retry_after_s=retry_after
            )
        if isinstance(exc, openai.APITimeoutError):
            return UpstreamTimeout(
                f"no answer within {self._settings.upstream_timeout_s} s, after all retries"
            )
        if isinstance(exc, openai.APIConnectionError):
            return UpstreamUnavailable(f"could not reach the model endpoint: {exc}")
        if isinstance(exc, openai.APIStatusError):
            return self._translate_status(exc)
        return UpstreamUnavailable(f"unexpected upstream failure: {type(exc).__name__}")

    def _translate_status(self, exc: openai.APIStatusError) -> AttacheError:
        status = exc.status_code
        message = _upstream_message(exc)
        mode = self._settings.mode
        words = _MODE_WORDS[mode]
        if status in (400, 422, 500, 501) and any(w in message.lower() for w in words):
            return UpstreamModeUnsupported(
                f"the endpoint refused mode {mode.value!r} ({status}: {message}); "
                "set ATTACHE_MODE to one it supports (see README)",
                upstream_status=status,
            )
        if status >= 500:
            return UpstreamUnavailable(
                f"the model endpoint answered {status}: {message}", upstream_status=status
            )
        return UpstreamRejected(
            f"the model endpoint answered {status}: {message}", upstream_status=status
        )


def _upstream_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        text = inner.get("message") if isinstance(inner, dict) else inner
        message = str(text) if text is not None else exc.message
    else:
        message = exc.message
    return message[:_UPSTREAM_MESSAGE_CHARS]


def _retry_after_s(response: httpx.Response) -> int | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(1, math.ceil(seconds))
