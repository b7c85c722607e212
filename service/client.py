"""The model client: one `AsyncOpenAI` wrapped by instructor, and its retry and usage accounting.

Retries have one owner per failure:

- HTTP faults (408, 409, 429, 5xx, connection errors, per-request timeouts) are retried by the
  openai SDK, `upstream_retries` times, with its exponential backoff and the upstream's
  Retry-After (the SDK honours it up to 60 s and gives up past that).
- Answers that fail validation (bad JSON, schema violations) are re-asked by instructor,
  `reasks` times, with the faults fed back to the model as short lines and at
  `reask_temperature` (`attache.reask`).

instructor does not retry HTTP faults (its retry predicate takes only parse errors), so one
model call sends at most `(reasks + 1) * (upstream_retries + 1)` HTTP requests;
`tests/service/test_faults.py` counts them for every fault. The extraction deadline bounds the
time on top of that.

Usage is counted here from every completion received, re-asks included, and HTTP requests from
the transport's own event hook, so SDK retries are counted too.

An answer is read, parsed and validated in turns on the extractor's `Lane` (`attache.pacing`).

What cannot change between calls is done once, not per call (it was most of our CPU): the
draft model is wrapped for instructor once (`_RESPONSE_MODEL`), so instructor's per-class
schema cache holds; its JSON schema is built once (`_json_schema_once`); a model class is
walked for async validators once (`_walk_once`); the JSON modes write the schema compact
(`_compact_instructions`), and what they add to a call (instructions, response format) is
built once per answer model (`_PreparedOnce`); and the messages and the tool or
response-format definition go to the SDK as they were built, not walked again
(`_sent_as_built`).
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import logging
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
from instructor.v2.core import patch as instructor_patch
from instructor.v2.core.decorators import register_mode_handler
from instructor.v2.providers.openai import handlers as instructor_handlers
from instructor.v2.validation import async_validators
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, ValidationError

from attache import reask
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
    UpstreamUnreachable,
    field_reasons,
)
from attache.lane import Lane
from attache.model_schema import model_facing, only
from attache.pacing import paced
from attache.salvage import Drafted, answer_text, salvage
from attache.schemas import ExtractionDraft, TokenUsage
from attache.schemas.records import KIND_OF, TypeGroup, draft_of
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


def _json_schema_once(model: type[BaseModel], fields: tuple[str, ...] = ()) -> None:
    """Give `model` a `model_json_schema` that builds each variant once: pydantic rebuilds it on
    every call, and instructor asks for it on every request. What it returns is the schema the
    model sees (`attache.model_schema`), cut to the lists `fields` when some are given: pydantic
    still validates the answer against `model`.
    """
    original = model.model_json_schema
    built: dict[Any, str] = {}

    def model_json_schema(_cls: type[BaseModel], *args: Any, **kwargs: Any) -> dict[str, Any]:
        key = (args, tuple(sorted(kwargs.items())))
        if key not in built:
            facing = model_facing(original(*args, **kwargs))
            built[key] = json.dumps(only(facing, *fields) if fields else facing)
        # A fresh copy each time: callers add to what they are given.
        schema: dict[str, Any] = json.loads(built[key])
        return schema

    model.model_json_schema = classmethod(model_json_schema)  # type: ignore[method-assign, assignment]


def _for_instructor(
    model: type[ExtractionDraft], fields: tuple[str, ...] = ()
) -> type[ExtractionDraft]:
    # instructor wraps a plain pydantic model in a fresh ResponseSchema subclass on every call,
    # and its schema cache is per class: every call rebuilt the JSON schema and the tool
    # definition. Handed a model that is already wrapped, it uses it as it is.
    wrapped: type[ExtractionDraft] = instructor.response_schema(model)
    _json_schema_once(wrapped, fields)
    return wrapped


_RESPONSE_MODEL = _for_instructor(ExtractionDraft)


@functools.cache
def _answer_model(only: TypeGroup | None) -> type[ExtractionDraft]:
    """The answer model of a call over every type, or over the types `only` of one pass."""
    if only is None:
        return _RESPONSE_MODEL
    kinds = tuple(KIND_OF[t] for t in only)
    return _for_instructor(draft_of(*kinds), tuple(kind.field for kind in kinds))


# Request parameters that reach the SDK as plain JSON already: the messages (built per call),
# and what instructor builds once per model class and passes again on every call. (The output
# cap and the temperature stay arguments: moved, they would change the order of the body's keys,
# and recorded requests are matched byte for byte.)
_AS_BUILT = ("messages", "tools", "tool_choice", "response_format")


def _sent_as_built(create: Any) -> Any:
    """Wrap the SDK's `chat.completions.create` to send plain-JSON parameters as they are.

    The SDK walks every request parameter against its TypedDict annotations, each message
    against every member of the message union and the tool definition's whole JSON schema:
    a millisecond a call, a tenth of the service's CPU, for parameters with nothing to
    convert. `extra_body` goes into the request unwalked, and its keys replace the ones
    given as arguments: the JSON sent is the same. (`messages` is a required argument, so an
    empty list stands in for it.)
    """

    @functools.wraps(create)
    async def create_as_built(**kwargs: Any) -> Any:
        built = {name: kwargs.pop(name) for name in _AS_BUILT if name in kwargs}
        if built:
            kwargs["extra_body"] = {**built, **(kwargs.get("extra_body") or {})}
        return await create(messages=[], **kwargs)

    return create_as_built


def _walk_once() -> None:
    """Make instructor's check for async validators walk each model class once, not 7 times a
    call: a class's validators cannot change, and the walk visits every member of every class
    the model reaches. The check still runs, and still refuses, the first time."""
    original = async_validators.reject_async_validators
    if getattr(original, "attache_walks_once", False):
        return
    checked: set[type] = set()

    @functools.wraps(original)
    def once(response_model: Any) -> None:
        if isinstance(response_model, type) and response_model in checked:
            return
        original(response_model)
        if isinstance(response_model, type):
            checked.add(response_model)

    once.attache_walks_once = True  # type: ignore[attr-defined]
    # patch.py imported the function by name; the others import the module's at call time.
    async_validators.reject_async_validators = once
    instructor_patch.reject_async_validators = once  # type: ignore[attr-defined]


_walk_once()


def _compact_instructions() -> None:
    """Make instructor's JSON modes write the schema into the system message as compact JSON.

    They write it `json.dumps(schema, indent=2)`: twice the tokens of compact JSON (2,102
    against 1,034 for the draft schema, with Qwen2.5's tokenizer), paid in every request before
    the article (seconds each on a CPU-served model), with Python's pure-Python encoder, the
    only one that indents: 1.5 ms a call.
    The name `json` in instructor's OpenAI handlers module is replaced with one whose `dumps`
    ignores `indent`; every other use goes through unchanged.
    """

    class _Json:
        def __getattr__(self, name: str) -> Any:
            return getattr(json, name)

        @staticmethod
        def dumps(obj: Any, **kwargs: Any) -> str:
            if kwargs.pop("indent", None) is not None:
                kwargs["separators"] = (",", ":")
            return json.dumps(obj, **kwargs)

    # A module global instructor's handlers look up at call time.
    setattr(instructor_handlers, "json", _Json())  # noqa: B010


_compact_instructions()


class _PreparedOnce:
    """For instructor's JSON, MD_JSON and JSON_SCHEMA handlers: what they add to a call that is
    a system prompt and a user message is built once per answer model and system prompt.

    They build it on every call: the schema copied (`_json_schema_once`), then for the JSON
    modes dumped into the instructions and run through `textwrap.dedent` (0.6 ms a call, 0.1
    for JSON_SCHEMA). What they add does not depend on the user message: they leave it as it
    is and append at most a fixed line (MD_JSON's request for a code block). So the handler is
    asked once with an empty user message, and its answer is reused with the real one in
    front; any other conversation goes to the handler as it is.
    `tests/service/test_client.py` checks the answers equal the handler's own, per mode.
    """

    def prepare_request(
        self, response_model: type[BaseModel] | None, kwargs: dict[str, Any]
    ) -> tuple[type[BaseModel] | None, dict[str, Any]]:
        messages: Any = kwargs.get("messages")
        if response_model is None or kwargs.get("stream") or not _system_then_user(messages):
            return super().prepare_request(response_model, kwargs)  # type: ignore[misc, no-any-return]
        added, system, appended = self._added(response_model, messages[0]["content"])
        user = {"role": "user", "content": messages[1]["content"] + appended}
        return response_model, {**kwargs, **added, "messages": [dict(system), user]}

    @functools.lru_cache(maxsize=64)  # noqa: B019 - handlers live as long as the process
    def _added(
        self, response_model: type[BaseModel], system: str
    ) -> tuple[dict[str, Any], dict[str, Any], str]:
        """What the handler adds besides the messages, its system message, and the text it
        appends to an empty user message."""
        probe = [{"role": "system", "content": system}, {"role": "user", "content": ""}]
        _, prepared = super().prepare_request(response_model, {"messages": probe})  # type: ignore[misc]
        first, second = prepared.pop("messages")
        return prepared, first, second["content"]


def _system_then_user(messages: Any) -> bool:
    return (
        isinstance(messages, list)
        and [m.get("role") for m in messages] == ["system", "user"]
        and all(set(m) == {"role", "content"} and isinstance(m["content"], str) for m in messages)
    )


def _prepare_once() -> None:
    for mode, handler in (
        (instructor.Mode.JSON, instructor_handlers.OpenAIJSONHandler),
        (instructor.Mode.MD_JSON, instructor_handlers.OpenAIMDJSONHandler),
        (instructor.Mode.JSON_SCHEMA, instructor_handlers.OpenAIJSONSchemaHandler),
    ):
        # instructor's own extension point: a handler registered for a mode replaces the
        # one there, for every OpenAI-compatible provider.
        once = type(f"Once{handler.__name__}", (_PreparedOnce, handler), {})
        register_mode_handler(instructor_handlers.OPENAI_COMPAT_PROVIDERS, mode)(once)


_prepare_once()
reask.install(ExtractionDraft)

logger = logging.getLogger("attache.upstream")


@dataclass
class Meter:
    """What one extraction cost upstream. Shared by the tasks of one extraction."""

    upstream_calls: int = 0
    model_calls: int = 0
    completions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_seconds: float = 0.0
    deadline: float | None = None
    """When the extraction must be done, in the event loop's clock; None: no deadline."""

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


# The SDK waits out a Retry-After of up to this many seconds, and ignores a longer one.
_SDK_LONGEST_WAIT_S = 60.0


async def _no_retry_past_the_deadline(response: httpx.Response) -> None:
    # An upstream that asks us to come back after the deadline (or later than the SDK would
    # wait) gets no retry: the caller hears 503 with that Retry-After now, not 504 later.
    # `x-should-retry: false` is the SDK's own switch for that decision.
    if response.status_code not in (429, 503):
        return
    wait = _retry_after_s(response)
    meter = _current_meter.get()
    if wait is None or meter is None or meter.deadline is None:
        return
    remaining = meter.deadline - asyncio.get_running_loop().time()
    if wait > min(remaining, _SDK_LONGEST_WAIT_S):
        response.headers["x-should-retry"] = "false"


class ModelClient:
    """Sends one chat request for an `ExtractionDraft` and turns every failure into ours."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        lane: Lane | None = None,
    ) -> None:
        """`transport` replaces the network (the evaluation runner records and replays);
        `lane` is the one answers take turns on (see `attache.lane`), by default their own."""
        if settings.model is None:
            raise ValueError("ModelClient needs settings.model")
        self._settings = settings
        self.model = settings.model
        self._lane = lane if lane is not None else Lane()
        self._http = openai.DefaultAsyncHttpxClient(
            event_hooks={"request": [_count_request], "response": [_no_retry_past_the_deadline]},
            transport=paced(self._lane, transport),
        )
        self._openai = openai.AsyncOpenAI(
            base_url=str(settings.base_url) if settings.base_url else None,
            # Local servers take any key, but the SDK refuses to start without one.
            api_key=settings.api_key.get_secret_value() if settings.api_key else "unused",
            timeout=httpx.Timeout(settings.upstream_timeout_s, connect=10.0),
            max_retries=settings.upstream_retries,
            http_client=self._http,
        )
        completions = self._openai.chat.completions
        completions.create = _sent_as_built(completions.create)  # type: ignore[method-assign]
        self._instructor = instructor.from_openai(
            self._openai, mode=_INSTRUCTOR_MODE[settings.mode]
        )

    async def aclose(self) -> None:
        await self._openai.close()

    async def extract(
        self, messages: list[ChatCompletionMessageParam], only: TypeGroup | None = None
    ) -> Drafted:
        """The model's validated draft; with `salvage` on, what holds of a last answer that
        still fails validation or was cut off (`attache.salvage`). With `only`, the model is
        given those types' schema alone, and the draft holds those types' records alone."""
        meter = _current_meter.get() or Meter()
        answers: list[Any] = []
        hooks = Hooks()
        hooks.on(HookName.COMPLETION_RESPONSE, meter.add_completion)
        hooks.on(HookName.COMPLETION_RESPONSE, answers.append)
        hooks.on(HookName.COMPLETION_RESPONSE, self._mark_capped)
        meter.model_calls += 1
        token_limit: dict[str, Any] = {
            self._settings.token_limit_param.value: self._settings.max_output_tokens
        }
        started = time.perf_counter()
        try:
            with reask.asking_at(self._settings.reask_temperature):
                draft: ExtractionDraft = await self._instructor.create(
                    model=self.model,
                    response_model=_answer_model(only),
                    messages=messages,
                    max_retries=self._settings.reasks,
                    # No `context=`: instructor would render the messages, article and all, as
                    # Jinja templates. The evidence check travels in a context variable instead.
                    strict=False,
                    hooks=hooks,
                    temperature=self._settings.temperature,
                    **token_limit,
                )
        except (openai.APIError, IncompleteOutputException, InstructorRetryException) as exc:
            last = answers[-1] if answers else None
            failure = self._translate(exc, last)
            kept = self._salvaged(failure, last, only)
            if kept is None:
                raise failure from exc
            logger.info("kept what holds of an answer that failed: %s", failure.detail)
            return kept
        finally:
            meter.model_seconds += time.perf_counter() - started
        return Drafted(draft)

    def _salvaged(
        self, failure: AttacheError, last_answer: Any, only: TypeGroup | None
    ) -> Drafted | None:
        # Only an answer the model finished badly or was cut off in; never a refusal, an empty
        # answer or an HTTP failure.
        if not self._settings.salvage or last_answer is None:
            return None
        if not isinstance(failure, InvalidModelOutput | TruncatedModelOutput):
            return None
        text = answer_text(last_answer, self._settings.mode)
        if text is None:
            return None
        return salvage(text, truncated=isinstance(failure, TruncatedModelOutput), only=only)

    def _mark_capped(self, response: Any) -> None:
        """Say "length" for an answer that used every token allowed, as OpenAI does.

        llama-cpp-python reports a forced tool call cut off at the cap as finished by the tool
        call: instructor then re-asks the cut-off JSON with the cut-off answer in the prompt,
        and at the same cap the re-ask is cut off too (minutes each on a CPU-served model).
        Marked, it is a `TruncatedModelOutput` at once (instructor checks before parsing).
        """
        usage = getattr(response, "usage", None)
        choices = getattr(response, "choices", None)
        if (
            usage is not None
            and choices
            and ((usage.completion_tokens or 0) >= self._settings.max_output_tokens)
        ):
            choices[0].finish_reason = "length"

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
                f"no valid answer after {exc.n_attempts} attempt(s); the last failed on "
                + _reasons(exc),
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
            url = _tried(exc.request)
            return UpstreamUnreachable(
                f"could not reach the model endpoint at {url}: {exc}", url=url
            )
        if isinstance(exc, openai.APIStatusError):
            return self._translate_status(exc)
        return UpstreamUnavailable(f"unexpected upstream failure: {type(exc).__name__}")

    def _translate_status(self, exc: openai.APIStatusError) -> AttacheError:
        status = exc.status_code
        message = _upstream_message(exc)
        # The upstream's words can carry part of the operator's key or account details: they go
        # to the operator's logs; API clients get a stable detail.
        logger.warning("upstream error %s: %s", status, message)
        mode = self._settings.mode
        words = _MODE_WORDS[mode]
        if status in (400, 422, 500, 501) and any(w in message.lower() for w in words):
            return UpstreamModeUnsupported(
                f"the endpoint refused mode {mode.value!r} (HTTP {status}); set ATTACHE_MODE to "
                "one it supports (see README); its message is in the service's logs",
                upstream_status=status,
            )
        if status == 503 and (wait := _retry_after_s(exc.response)) is not None:
            # Overloaded and saying when to come back: as good as a rate limit to our caller.
            return UpstreamRateLimited(
                "the model endpoint is unavailable and asks to retry later",
                retry_after_s=wait,
            )
        if status >= 500:
            return UpstreamUnavailable(
                f"the model endpoint answered HTTP {status}", upstream_status=status
            )
        return UpstreamRejected(
            f"the model endpoint refused the request (HTTP {status}); its message is in the "
            "service's logs",
            upstream_status=status,
        )


def _reasons(exc: InstructorRetryException, most: int = 6) -> str:
    """The last attempt's failures as `path: reason` items on one line, not a library's dump."""
    attempts = getattr(exc, "failed_attempts", None) or []
    last = attempts[-1].exception if attempts else exc.__cause__
    if isinstance(last, ValidationError):
        return field_reasons(last, root="answer", most=most)
    reason = f"{type(last).__name__}: {last}" if last else "an unreadable answer"
    return " ".join(reason.split())[:200]


def _tried(request: httpx.Request) -> str:
    """Where a request went, without credentials or query string: API clients read it."""
    return str(request.url.copy_with(userinfo=b"", query=None))


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
