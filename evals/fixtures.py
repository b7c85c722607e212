"""Labelled fixtures: one article's gold records, in the API's record format.

A fixture is `evals/fixtures/<article id>.json`. Its article text is not copied: it is the
corpus article of that id, and every evidence offset indexes that text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, model_validator

from attache.evals.corpus import FIXTURES
from attache.schemas import Declaration, FundingAsk, Invitation, Meeting, Record
from attache.schemas.api import Cast
from attache.schemas.common import Frozen, Text
from attache.schemas.records import ByType


class Gold(ByType[Invitation, Meeting, Declaration, FundingAsk], Cast):
    """The records an annotator found in one article, as the API would return them."""

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        actor_ids = [a.id for a in self.actors]
        record_ids = [r.id for r in self.records]
        if len(set(actor_ids)) != len(actor_ids) or len(set(record_ids)) != len(record_ids):
            raise ValueError("actor and record ids must be unique")
        for record in self.records:
            for mention in _mentions(record):
                if mention not in actor_ids:
                    raise ValueError(f"{record.id} names actor {mention}, not in actors")
            for link in record.links:
                if link.target not in record_ids:
                    raise ValueError(f"{record.id} links to {link.target}, not a record")
        return self


class Fixture(Frozen):
    article_id: Annotated[str, Field(min_length=1)]
    annotator: Text
    notes: list[Text] = Field(default_factory=list)
    gold: Gold


def _mentions(record: Record) -> list[str]:
    found: list[str] = []
    for name in type(record).model_fields:
        value = getattr(record, name)
        for item in value if isinstance(value, list) else [value]:
            actor_id = getattr(item, "id", None)
            if isinstance(actor_id, str) and actor_id.startswith("act-"):
                found.append(actor_id)
    return found


def load(path: Path) -> Fixture:
    return Fixture.model_validate_json(path.read_text(encoding="utf-8"))


def load_all(folder: Path = FIXTURES) -> Iterator[tuple[Path, Fixture]]:
    for path in sorted(folder.glob("*.json")):
        yield path, load(path)
