"""What a model call returns, and what is kept of a last answer that still fails validation.

A model call ends in a `Drafted`. Usually its draft passed validation whole. When the last
attempt allowed (re-asks spent) still fails, or the answer was cut at the output token limit,
failing the article throws away every record for the fault of one: with Qwen2.5-Coder 1.5B,
8 of 30 recorded articles failed so, most on one record with no evidence, or on quotes the
re-ask still did not copy exactly. `salvage` keeps what holds instead:

- the answer's JSON is read leniently: a cut-off answer up to where it stops (pydantic-core's
  partial JSON mode), without the record it was writing then; an md_json answer from its code
  block;
- each record is validated alone against its draft class; one that fails is left out, and its
  path and reason go into `Drafted.lost`; an answer none of whose records holds still fails;
- the evidence check is not applied here: quotes still not in the article are the merge stage's
  to drop, as they are for any answer once the re-asks are spent.

The merge stage turns `lost` and `truncated` into response warnings, so a salvaged answer is
never mistaken for a complete one. `ATTACHE_SALVAGE=false` makes such an article fail with
`invalid-model-output` or `truncated-model-output`, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pydantic_core
from instructor.v2.core.json import extract_json_from_codeblock
from pydantic import ValidationError

from attache.schemas import ExtractionDraft
from attache.schemas.records import EVIDENCE_CHECK, RECORD_KINDS, TypeGroup
from attache.settings import ModelMode

__all__ = ["Drafted", "answer_text", "salvage"]

_FIELDS = frozenset(kind.field for kind in RECORD_KINDS)
_FENCED = re.compile(r"```(?:json)?[ \t]*\n(.*?)(?:\n?```|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Drafted:
    """One model call's outcome: the draft, and what a salvage left out of it."""

    draft: ExtractionDraft
    lost: tuple[str, ...] = ()
    """Records of the last answer that failed validation, each as `path: reason`."""
    truncated: bool = False
    """The answer was cut at the output token limit: records after the cut are missing."""


def answer_text(completion: Any, mode: ModelMode) -> str | None:
    """The JSON text an answer carries in `mode` (a tool call's arguments, or the message),
    or None when it carries none."""
    choices = getattr(completion, "choices", None)
    if not choices:
        return None
    message = choices[0].message
    if mode is ModelMode.TOOLS:
        calls = getattr(message, "tool_calls", None) or []
        text = getattr(calls[0].function, "arguments", None) if calls else None
    else:
        text = getattr(message, "content", None)
    if not isinstance(text, str):
        return None
    if mode is ModelMode.MD_JSON:
        # The last code block, closed or cut off. instructor's extractor looks for the last
        # complete JSON value, which in a cut-off block is some inner list.
        blocks = _FENCED.findall(text)
        if blocks:
            return str(blocks[-1])
        if not text.lstrip().startswith("{"):
            return extract_json_from_codeblock(text)
    return text


def salvage(text: str, *, truncated: bool = False, only: TypeGroup | None = None) -> Drafted | None:
    """The records of `text` that validate alone; None when none does. With `only` (one pass),
    those types'; the other types' lists are left unread, as `PassDraft` leaves them.

    An answer of which nothing holds fails as before: an empty list would read as "the article
    reports no event".
    """
    try:
        # "trailing-strings" would keep a string cut mid-word: a quote or a name that was never
        # written whole. The default mode drops it, and with it the value it belonged to.
        parsed = pydantic_core.from_json(text, allow_partial=True)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    if truncated:
        _drop_last_record(parsed)
    kept: dict[str, list[Any]] = {}
    lost: list[str] = []
    kinds = [kind for kind in RECORD_KINDS if only is None or kind.type in only]
    for kind in kinds:
        items = parsed.get(kind.field)
        kept[kind.field] = []
        if not isinstance(items, list):
            if items is not None:
                lost.append(f"{kind.field}: not a list")
            continue
        for index, item in enumerate(items):
            try:
                kept[kind.field].append(kind.draft.model_validate(item))
            except ValidationError as exc:
                lost.append(_reasons(exc, f"{kind.field}.{index}"))
    lost += [f"{key}: not a field of the answer" for key in parsed if key not in _FIELDS]
    if not any(kept.values()):
        return None
    # The pipeline's evidence check is still set for this call: it would refuse the quotes
    # that merge is to drop.
    token = EVIDENCE_CHECK.set(None)
    try:
        draft = ExtractionDraft.model_validate(kept)
    finally:
        EVIDENCE_CHECK.reset(token)
    return Drafted(draft, tuple(lost), truncated)


def _drop_last_record(parsed: dict[str, Any]) -> None:
    """Drop the record the model was writing when it was cut off.

    Partial JSON mode closes it where the text stops, and what it had by then can validate with
    its later fields missing (an evidence list cut after one quote, no date): a record that
    says less than the model meant. The last record in the text is dropped, complete or not:
    partial parsing cannot tell.
    """
    # A parsed object keeps its keys in the order of the text.
    for key in reversed(list(parsed)):
        items = parsed[key]
        if key in _FIELDS and isinstance(items, list) and items:
            items.pop()
            return


def _reasons(exc: ValidationError, at: str, most: int = 2) -> str:
    """`at.field: reason` for a record's first faults, on one line."""
    items = [
        " ".join(f"{'.'.join([at, *map(str, e['loc'])])}: {e['msg']}".split())[:200]
        for e in exc.errors(include_url=False)
    ]
    more = f"; and {len(items) - most} more" if len(items) > most else ""
    return "; ".join(items[:most]) + more
