"""Merged drafts → API records with comparable values: the normalize stage's entry point.

- actors: one canonical actor per real one, ISO 3166 country codes (`actors.Registry`);
- dates: the words as written plus a window of days resolved against the publication date, the
  tense taken from the record's status (`dates.resolve`);
- money: the amount as written plus its value and ISO 4217 currency (`money.parse`); when the
  text states no amount, the model's reading stands with its currency checked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVar

from attache.pipeline.merge import MergedDraft
from attache.pipeline.normalize import actors, dates, money
from attache.schemas import (
    Actor,
    CanonicalActor,
    DeclarationKind,
    MeetingStatus,
    Money,
)
from attache.schemas.records import (
    DeclarationDraft,
    Draft,
    MeetingDraft,
    Record,
    RecordBase,
    kind_of,
)

R = TypeVar("R", bound=RecordBase)

_NOT_CONTENT = {"ref", "evidence", "links", "date"}


@dataclass(frozen=True)
class Normalized:
    records: list[Record]
    actors: list[CanonicalActor]

    def of_type(self, cls: type[R]) -> list[R]:
        return [r for r in self.records if isinstance(r, cls)]


def normalize(merged: list[MergedDraft], published: dt.date | None) -> Normalized:
    registry = actors.Registry()
    for item in merged:
        for actor in _actors(item.draft):
            registry.add(actor)
    canonical, mentions = registry.resolve()
    records = [_record(item, mentions, published) for item in merged]
    return Normalized(records=records, actors=canonical)


def tense_of(draft: Draft) -> dates.Tense:
    """When a record's date lies, seen from publication, as its type and status tell.

    A meeting planned or proposed is ahead, one held behind; a declaration was issued, a pledge
    may look either way. An invitation's date may be when it was made or the event it invites
    to, and a funding ask's when money is sought or given: either side.
    """
    if isinstance(draft, MeetingDraft):
        if draft.status in {MeetingStatus.PROPOSED, MeetingStatus.PLANNED}:
            return dates.Tense.FUTURE
        return dates.Tense.PAST if draft.status is MeetingStatus.HELD else dates.Tense.NEAREST
    if isinstance(draft, DeclarationDraft):
        return dates.Tense.NEAREST if draft.kind is DeclarationKind.PLEDGE else dates.Tense.PAST
    return dates.Tense.NEAREST


def normalize_money(amount: Money) -> Money:
    parsed = money.parse(amount.text)
    if parsed is None:
        code = money.currency_code(amount.currency) if amount.currency else None
        return amount.model_copy(update={"currency": code})
    value, currency = parsed
    return Money(text=amount.text, value=value, currency=currency)


def _actors(draft: Draft) -> list[Actor]:
    found: list[Actor] = []
    for name in type(draft).model_fields:
        value = getattr(draft, name)
        values = value if isinstance(value, list) else [value]
        found.extend(v for v in values if isinstance(v, Actor))
    return found


def _swap(value: Any, mentions: dict[int, Any]) -> Any:
    if isinstance(value, Actor):
        return mentions[id(value)]
    if isinstance(value, list):
        return [_swap(v, mentions) for v in value]
    if isinstance(value, Money):
        return normalize_money(value)
    return value


def _record(item: MergedDraft, mentions: dict[int, Any], published: dt.date | None) -> Record:
    draft = item.draft
    content = {
        name: _swap(getattr(draft, name), mentions)
        for name in type(draft).model_fields
        if name not in _NOT_CONTENT
    }
    date = dates.resolve(draft.date, published, tense_of(draft)) if draft.date else None
    return kind_of(draft).record.model_validate(
        {**content, "id": item.id, "evidence": item.evidence, "date": date, "links": item.links}
    )
