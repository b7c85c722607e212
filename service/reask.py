"""What a re-ask tells the model, and how it asks: so that a re-ask can change the answer.

instructor re-asks an answer that fails validation with pydantic's own dump of the error
("1 validation error for ExtractionDraft ... For further information visit https://...") and
at the first call's temperature. Seen with Qwen2.5-Coder 1.5B and 0.5B at temperature 0: the
re-ask came back identical, a wasted call of minutes on a CPU-served model.

A re-ask here says, one line per fault, the field's path, what is wrong, what the field holds
(its description from the draft schema) and what the model wrote (`feedback`); and it is sent
at `Settings.reask_temperature`, above 0, so that the same prompt can come back different.

`install()` wraps instructor's re-ask handlers for the OpenAI modes attache uses (its mode
registry is the one place its retry loop looks them up): instructor still builds the messages
in each mode's shape (an assistant turn with the answer, then a tool or user turn); only the
error text and the temperature are ours. `asking_at(temperature)` sets the temperature for the
re-asks of the calls made inside it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from instructor import Mode
from instructor.v2.core.protocols import ReaskHandler
from instructor.v2.core.providers import Provider
from instructor.v2.core.registry import mode_registry
from pydantic import BaseModel, ValidationError

__all__ = ["asking_at", "feedback", "install"]

MAX_LINES = 10
_SHOWN_INPUT_CHARS = 60
_MODES = (Mode.TOOLS, Mode.JSON_SCHEMA, Mode.JSON, Mode.MD_JSON)
_temperature: ContextVar[float | None] = ContextVar("reask_temperature", default=None)


class Feedback(Exception):
    """The error instructor's re-ask handler writes into the message: our text, not a dump."""


def feedback(error: Exception, model: type[BaseModel]) -> str:
    """What was wrong with an answer to `model`, in lines a small model can act on."""
    if not isinstance(error, ValidationError):
        said = " ".join(str(error).split())[:300]
        return (
            f"Your answer could not be read ({said}). Send the whole answer again as one JSON "
            "object that follows the schema, and nothing else."
        )
    schema = model.model_json_schema()
    errors = error.errors(include_url=False)
    lines = [_line(item, schema) for item in errors[:MAX_LINES]]
    if len(errors) > MAX_LINES:
        lines.append(f"- and {len(errors) - MAX_LINES} more")
    return (
        "Your answer was not accepted:\n"
        + "\n".join(lines)
        + "\nSend the whole answer again with these fixed; keep everything else as it was."
    )


def _line(item: Any, schema: dict[str, Any]) -> str:
    loc: Sequence[int | str] = item["loc"]
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    message = str(item["msg"]).removeprefix("Value error, ")
    line = f"- {path.lstrip('.') or 'the answer'}: {message}"
    if described := _description(schema, loc):
        line += f". The field holds: {described}"
    shown = item.get("input")
    if isinstance(shown, str | int | float) and item["type"] != "missing":
        text = repr(shown)
        line += f". You wrote {text[:_SHOWN_INPUT_CHARS]}{'...' if len(text) > 60 else ''}"
    return line


def _description(schema: dict[str, Any], loc: Sequence[int | str]) -> str | None:
    """The description the schema gives the field at `loc`, if it gives one."""
    defs: dict[str, Any] = schema.get("$defs", {})
    node: dict[str, Any] = schema
    for part in loc:
        node = _resolved(node, defs)
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(part, {})
    described = node.get("description") or _resolved(node, defs).get("description")
    return str(described) if described else None


def _resolved(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """`node` with a `$ref` followed and a nullable `anyOf` reduced to its non-null member."""
    for _ in range(8):
        if "$ref" in node:
            node = defs.get(str(node["$ref"]).rsplit("/", 1)[-1], {})
        elif "anyOf" in node:
            members = [m for m in node["anyOf"] if m.get("type") != "null"]
            node = members[0] if len(members) == 1 else {}
        else:
            break
    return node


@contextmanager
def asking_at(temperature: float) -> Iterator[None]:
    """Send the re-asks of the calls made inside this block at `temperature`."""
    token = _temperature.set(temperature)
    try:
        yield
    finally:
        _temperature.reset(token)


def install(model: type[BaseModel]) -> None:
    """Make instructor's OpenAI re-asks use `feedback` about answers to `model` and
    `asking_at`'s temperature. Idempotent."""
    for mode in _MODES:
        handlers = mode_registry.get_handlers(Provider.OPENAI, mode)
        if not getattr(handlers.reask_handler, "attache_reask", False):
            handlers.reask_handler = _ours(handlers.reask_handler, model)


def _ours(original: ReaskHandler, model: type[BaseModel]) -> ReaskHandler:
    @functools.wraps(original)
    def reask(kwargs: dict[str, Any], response: Any, exception: Exception) -> dict[str, Any]:
        # instructor's handlers extend the messages list they are given: give them a copy,
        # so the first request's list (and what was recorded of it) stays as sent.
        fresh = {**kwargs, "messages": list(kwargs.get("messages", []))}
        asked = original(
            kwargs=fresh, response=response, exception=Feedback(feedback(exception, model))
        )
        if (temperature := _temperature.get()) is not None:
            asked["temperature"] = temperature
        return asked

    reask.attache_reask = True  # type: ignore[attr-defined]
    return reask
