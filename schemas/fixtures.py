"""The labelled-article formats: a line of an articles file, and a fixture of gold records.

A newsroom scores a model on its own articles with these (`attache eval run --articles FILE
--fixtures DIR`); the review page exports what editors confirmed in them. A fixture's evidence
offsets index the text of the article of the same id.
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from attache.schemas.api import Cast, ExtractionRequest, PublicationTime
from attache.schemas.common import Frozen, Text
from attache.schemas.records import ByType, Declaration, FundingAsk, Invitation, Meeting, Record

__all__ = ["Article", "Fixture", "Gold"]


class Article(BaseModel):
    """One line of an articles file: `id` and `text` required, other fields kept as given."""

    model_config = ConfigDict(frozen=True, extra="allow")

    id: str = Field(min_length=1)
    text: str
    published_at: PublicationTime | None = None

    def request(self) -> ExtractionRequest:
        """The extraction request for this article: text, id and publication time."""
        return ExtractionRequest(text=self.text, id=self.id, published_at=self.published_at)

    def request_json(self) -> dict[str, Any]:
        """`request()` as an HTTP body."""
        return self.request().model_dump(mode="json", exclude_defaults=True)


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
