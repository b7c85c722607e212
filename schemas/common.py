"""Value types shared by every record: actors, dates, money, evidence and links."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    StringConstraints,
    model_validator,
)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
"""A short free-text value; used only where no closed value set exists."""

CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    Field(description="ISO 3166-1 alpha-2 code, upper case (RU, US, GB)."),
]
CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="ISO 4217 code, upper case (USD, GBP, JPY)."),
]
Quote = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000),
    Field(description="A passage copied verbatim from the article."),
]


class Frozen(BaseModel):
    """Base for every contract type: immutable and closed to unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class RecordType(StrEnum):
    """The four record types: each value with its record-id prefix and its list field.

    `attache.schemas.records.RECORD_KINDS` binds each to its classes; nothing else lists them.
    """

    INVITATION = "invitation", "inv", "invitations"
    MEETING = "meeting", "mtg", "meetings"
    DECLARATION = "declaration", "dcl", "declarations"
    FUNDING_ASK = "funding_ask", "fund", "funding_asks"

    id_prefix: str
    """What its record ids start with: `inv` in `inv-1`."""
    field: str
    """The list that holds its records in a response, a draft answer or a fixture."""

    def __new__(cls, value: str, id_prefix: str, field: str) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.id_prefix = id_prefix
        member.field = field
        return member


RecordId = Annotated[
    str,
    StringConstraints(pattern=rf"^({'|'.join(t.id_prefix for t in RecordType)})-[1-9][0-9]*$"),
    Field(
        description="Record id, stable within one response: its type's id prefix and a number "
        "(inv-1, mtg-2)."
    ),
]


class ActorKind(StrEnum):
    PERSON = "person"
    COUNTRY = "country"
    ORGANIZATION = "organization"
    OTHER = "other"


class Actor(Frozen):
    """Someone who acts in a record: a person, a country, an organization."""

    name: Text = Field(description="The name exactly as the article writes it.")
    canonical_name: Text = Field(
        description="Full standard name: 'Vladimir Putin' for 'Putin', 'Russia' for 'Moscow' "
        "when the city stands for the state."
    )
    kind: ActorKind
    role: Text | None = Field(
        default=None, description="Role or title as stated: 'Kremlin spokesperson'."
    )
    country: CountryCode | None = Field(
        default=None,
        description="The country the actor is, or belongs to, where one applies.",
    )


ActorId = Annotated[
    str,
    StringConstraints(pattern=r"^act-[1-9][0-9]*$"),
    Field(description="Id of an entry in the response's `actors`, stable within the response."),
]


class ActorMention(Actor):
    """An actor as one record names it, tied to the response's canonical actor by `id`."""

    id: ActorId


class CanonicalActor(Frozen):
    """One actor of the article, however many ways the article names it."""

    id: ActorId
    canonical_name: Text
    kind: ActorKind
    country: CountryCode | None = None
    names: list[Text] = Field(description="Every way the records name it, as written.")
    roles: list[Text] = Field(default_factory=list, description="Every role given to it.")


class Money(Frozen):
    """An amount of money: the text as written plus its machine-comparable value."""

    text: Text = Field(description="The amount exactly as written: 'USD1 billion', '25 mln stg'.")
    value: NonNegativeFloat | None = Field(
        default=None, description="The amount in units of the currency: 1000000000 for '$1bn'."
    )
    currency: CurrencyCode | None = None


class DateGranularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"
    RANGE = "range"
    APPROXIMATE = "approximate"


class DateIssue(StrEnum):
    """Why a date as written has no window."""

    NO_PUBLICATION_DATE = "no_publication_date"
    """Relative ("this week", "on Tuesday") and the request gave no `published_at`."""
    YEAR_UNKNOWN = "year_unknown"
    """Month and day are known, the year is not (no `published_at` to infer it from)."""
    UNRECOGNIZED = "unrecognized"
    """Not a date expression attache knows ("soon", "in due course")."""


class DateMention(Frozen):
    """A date or time window as written, and its normalized form.

    `start` and `end` are both inclusive (a single day has start == end), resolved against the
    article's publication date. When they cannot be, both are null and `unresolved` says why.
    """

    text: Text = Field(description="The date as written: 'on 20 January', 'this week'.")
    start: dt.date | None = None
    end: dt.date | None = None
    granularity: DateGranularity | None = None
    unresolved: DateIssue | None = None

    @model_validator(mode="after")
    def _window_is_ordered(self) -> Self:
        if (self.start is None) != (self.end is None):
            raise ValueError("start and end are set together or not at all")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError("end precedes start")
        if (self.start is None) == (self.unresolved is None) and self.start is None:
            raise ValueError("an unresolved date says why")
        if self.start is not None and (self.unresolved is not None or self.granularity is None):
            raise ValueError("a resolved date has a granularity and no issue")
        return self


class Alignment(StrEnum):
    """How an evidence quote was found in the article."""

    EXACT = "exact"
    NORMALIZED = "normalized"
    FUZZY = "fuzzy"
    UNALIGNED = "unaligned"


class Evidence(Frozen):
    """A quote and where it stands in the article.

    `start` and `end` are Python string indices into the submitted text (Unicode code points,
    end exclusive): `text[start:end]` is the supporting passage. Both are null when the quote
    could not be aligned.
    """

    quote: Quote
    start: Annotated[int, Field(ge=0)] | None = None
    end: Annotated[int, Field(ge=0)] | None = None
    alignment: Alignment

    @model_validator(mode="after")
    def _span_matches_alignment(self) -> Self:
        has_span = self.start is not None and self.end is not None
        if (self.alignment is Alignment.UNALIGNED) == has_span:
            raise ValueError("a span is present exactly when the quote is aligned")
        if (self.start is None) != (self.end is None):
            raise ValueError("start and end are set together or not at all")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be greater than start")
        return self


class LinkRelation(StrEnum):
    """How one record relates to another in the same article."""

    CONDITION_OF = "condition_of"
    """This record is a condition attached to the target (a fee for a seat)."""
    ISSUED_AT = "issued_at"
    """This declaration was issued or signed at the target meeting."""
    FOLLOWS = "follows"
    """This record continues or follows the target (talks after earlier talks)."""
    RESPONDS_TO = "responds_to"
    """This record answers the target (an acceptance of an invitation)."""


class Link(Frozen):
    relation: LinkRelation
    target: RecordId
