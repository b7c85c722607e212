"""A record's fields as the review page's edit form shows them, and the form's answer as changes.

Each field of the API's record (but its `id`) gets the input that fits its type:

- `choice`: a value set (an enum), a list to pick from;
- `text`: plain text;
- `date` and `money`: the words as the article writes them ("next Tuesday", "USD1 billion"),
  resolved on submit by the pipeline's own normalizers, so an edited date or amount is resolved
  the way the model's are;
- `json`: anything structured (actors, evidence, lists, links), as JSON.

Parsing only turns text into values; the store validates the record that results with the API's
schema, and its errors come back by field path to the field they belong to.
"""

from __future__ import annotations

import datetime as dt
import json
import types
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Union, get_args, get_origin

from attache.pipeline.normalize.dates import resolve
from attache.pipeline.normalize.records import normalize_money
from attache.review.decisions import FieldError
from attache.schemas.common import DateMention, Money, RecordType
from attache.schemas.records import KIND_OF

Kind = Literal["choice", "text", "date", "money", "json"]


@dataclass(frozen=True)
class FormField:
    name: str
    kind: Kind
    required: bool
    options: tuple[str, ...] = ()
    """A `choice`'s values."""
    empty: Any = None
    """What an empty input gives: the field's default (an empty list for a list)."""


@dataclass(frozen=True)
class FieldValue:
    field: FormField
    value: str
    """What the input holds: as the record has it, or as the editor typed it."""
    errors: tuple[str, ...] = ()


def form_fields(record_type: RecordType) -> list[FormField]:
    """The fields of the edit form of a record of `record_type`, in the schema's order."""
    model = KIND_OF[record_type].record
    return [
        _form_field(
            name, info.annotation, info.is_required(), info.get_default(call_default_factory=True)
        )
        for name, info in model.model_fields.items()
        if name != "id"
    ]


def _form_field(name: str, annotation: Any, required: bool, default: Any) -> FormField:
    inner = [a for a in get_args(annotation) if a is not type(None)]
    optional = get_origin(annotation) in (Union, types.UnionType) and len(inner) == 1
    kind_of = inner[0] if optional else annotation
    empty = None if required else default
    if isinstance(kind_of, type) and issubclass(kind_of, StrEnum):
        return FormField(name, "choice", required, tuple(kind_of), empty)
    if kind_of is DateMention:
        return FormField(name, "date", required, empty=empty)
    if kind_of is Money:
        return FormField(name, "money", required, empty=empty)
    # `Text` is an annotated str; pydantic strips the annotation of a field that is not optional.
    if kind_of is str or get_args(kind_of)[:1] == (str,):
        return FormField(name, "text", required, empty=empty)
    return FormField(name, "json", required, empty=empty)


def shown(record_type: RecordType, record: Mapping[str, Any]) -> list[FieldValue]:
    """The form's inputs holding `record` (the API's record as JSON)."""
    return [FieldValue(f, _as_text(f, record.get(f.name))) for f in form_fields(record_type)]


def _as_text(field: FormField, value: Any) -> str:
    if value is None:
        return ""
    if field.kind in ("date", "money"):
        return str(value["text"])
    if field.kind == "json":
        return json.dumps(value, ensure_ascii=False, indent=2)
    return str(value)


def parsed(
    record_type: RecordType, form: Mapping[str, str], *, published: dt.date | None
) -> tuple[dict[str, Any], list[FieldError]]:
    """The values the form gives each field, and the fields whose text could not be read.

    An empty input is no value (None); a field the form does not carry is left out, so it
    keeps the record's value.
    """
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for field in form_fields(record_type):
        if field.name not in form:
            continue
        text = form[field.name].strip()
        if not text:
            values[field.name] = field.empty
        elif field.kind == "date":
            values[field.name] = resolve(text, published).model_dump(mode="json")
        elif field.kind == "money":
            values[field.name] = normalize_money(Money(text=text)).model_dump(mode="json")
        elif field.kind == "json":
            try:
                values[field.name] = json.loads(text)
            except json.JSONDecodeError as exc:
                errors.append(FieldError(field.name, f"not JSON: {exc.msg} at line {exc.lineno}"))
        else:
            values[field.name] = text
    return values, errors


def with_errors(
    record_type: RecordType, form: Mapping[str, str], errors: list[FieldError]
) -> tuple[list[FieldValue], list[FieldError]]:
    """The inputs as the editor left them, each with its errors; and the errors of no field."""
    by_field: dict[str, list[str]] = {}
    fields = form_fields(record_type)
    names = {f.name for f in fields}
    stray: list[FieldError] = []
    for error in errors:
        head, _, rest = error.path.partition(".")
        if head in names:
            by_field.setdefault(head, []).append(
                f"{rest}: {error.message}" if rest else error.message
            )
        else:
            stray.append(error)
    values = [FieldValue(f, form.get(f.name, ""), tuple(by_field.get(f.name, ()))) for f in fields]
    return values, stray
