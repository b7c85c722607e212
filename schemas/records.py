"""The four record types, in the two shapes they take, and the table that lists them.

Each type's content fields are written once, in a `*Fields` class. Two shapes derive from it:

- the *draft* (`InvitationDraft`, ...), which the model fills: evidence as bare quotes, dates as
  written, links by the model's own local refs (`R1`, `R2`);
- the *record* (`Invitation`, ...), which the API returns: evidence with character spans, dates
  with their normalized window, links by response-stable record ids.

A whole answer is an `ExtractionDraft`; the answer of a pass over some types (`Settings.passes`)
is a `draft_of(*kinds)`, an `ExtractionDraft` holding those types' lists alone.

The pipeline turns drafts into records; nothing else constructs records from model output.

The four types are listed once: `RecordType` gives each its value, id prefix and list field, and
`RECORD_KINDS`, at the end, binds each to its draft and record classes.
Everything that goes over all types (the draft and response bodies, merge, metrics, the eval
scorer, validator and reports) iterates it; `tests/schemas/test_record_kinds.py` checks that no
other list exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, ClassVar, Generic, Protocol, Self, TypeVar

from pydantic import Field, StringConstraints, model_validator

from attache.schemas.common import (
    Actor,
    ActorMention,
    DateMention,
    Evidence,
    Frozen,
    Link,
    LinkRelation,
    Money,
    Quote,
    RecordId,
    RecordType,
    Text,
)

# The model names actors (`Actor`); the API ties each to a canonical actor (`ActorMention`).
A = TypeVar("A", bound=Actor)
Texts = Annotated[list[Text], Field(default_factory=list)]


class InvitationTarget(StrEnum):
    BODY = "body"
    EVENT = "event"
    VISIT = "visit"
    MEETING = "meeting"
    OTHER = "other"


class InvitationChannel(StrEnum):
    DIPLOMATIC = "diplomatic"
    LETTER = "letter"
    PUBLIC_STATEMENT = "public_statement"
    IN_PERSON = "in_person"
    PHONE_OR_VIDEO = "phone_or_video"
    UNSPECIFIED = "unspecified"


class InvitationStatus(StrEnum):
    EXTENDED = "extended"
    RECEIVED = "received"
    UNDER_CONSIDERATION = "under_consideration"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class MeetingStatus(StrEnum):
    PROPOSED = "proposed"
    PLANNED = "planned"
    HELD = "held"
    CANCELLED = "cancelled"


class MeetingFormat(StrEnum):
    BILATERAL = "bilateral"
    MULTILATERAL = "multilateral"
    VISIT = "visit"
    PHONE_OR_VIDEO = "phone_or_video"


class DeclarationKind(StrEnum):
    DECLARATION = "declaration"
    JOINT_STATEMENT = "joint_statement"
    COMMUNIQUE = "communique"
    AGREEMENT = "agreement"
    ACCORD = "accord"
    PLEDGE = "pledge"


class FundingStatus(StrEnum):
    REQUESTED = "requested"
    UNDER_NEGOTIATION = "under_negotiation"
    GRANTED = "granted"
    REFUSED = "refused"


# --- content fields, written once ------------------------------------------------------------
# Each type states its own facts as class variables: `record_type`; `key_actors`, the fields
# naming the parties (a predicted and a gold record can only be the same event when they share
# one); `compared_fields`, the structured fields that say which event it is and where it stands
# (the eval scorer compares them; free text is left out).


class InvitationFields(Frozen, Generic[A]):
    """Someone asks someone to join a body, attend an event, visit or meet."""

    record_type: ClassVar[RecordType] = RecordType.INVITATION
    key_actors: ClassVar[tuple[str, ...]] = ("inviters", "invitees")
    compared_fields: ClassVar[tuple[str, ...]] = (
        "inviters", "invitees", "target_kind", "channel", "status", "date",
    )  # fmt: skip

    inviters: Annotated[list[A], Field(min_length=1)]
    invitees: Annotated[list[A], Field(min_length=1)]
    target: Text = Field(description="What the invitation is to: 'the Gaza Board of Peace'.")
    target_kind: InvitationTarget
    channel: InvitationChannel = InvitationChannel.UNSPECIFIED
    status: InvitationStatus
    conditions: Texts


class MeetingFields(Frozen, Generic[A]):
    """Two or more parties meet, in person or remotely: proposed, planned, held or cancelled."""

    record_type: ClassVar[RecordType] = RecordType.MEETING
    key_actors: ClassVar[tuple[str, ...]] = ("participants", "host")
    compared_fields: ClassVar[tuple[str, ...]] = (
        "participants", "host", "place", "status", "format", "date",
    )  # fmt: skip

    participants: Annotated[list[A], Field(min_length=1)]
    host: A | None = None
    place: Text | None = Field(default=None, description="Where, as written: 'Davos'.")
    status: MeetingStatus
    topics: Texts
    format: MeetingFormat | None = None


class DeclarationFields(Frozen, Generic[A]):
    """A statement, agreement or pledge issued or signed by one or more parties."""

    record_type: ClassVar[RecordType] = RecordType.DECLARATION
    key_actors: ClassVar[tuple[str, ...]] = ("issuers",)
    compared_fields: ClassVar[tuple[str, ...]] = ("kind", "issuers", "date")

    kind: DeclarationKind
    title: Text | None = Field(default=None, description="Its name, if the article gives one.")
    issuers: Annotated[list[A], Field(min_length=1)]
    occasion: Text | None = Field(
        default=None, description="The meeting or event it came from: 'the Paris meeting'."
    )
    summary: Text = Field(description="What it says, in one sentence.")
    commitments: Texts


class FundingAskFields(Frozen, Generic[A]):
    """An appeal for money: a request, not money already given."""

    record_type: ClassVar[RecordType] = RecordType.FUNDING_ASK
    key_actors: ClassVar[tuple[str, ...]] = ("requester", "addressees")
    compared_fields: ClassVar[tuple[str, ...]] = (
        "requester", "addressees", "amount", "status", "date",
    )  # fmt: skip

    requester: A
    addressees: Annotated[list[A], Field(default_factory=list)]
    amount: Money | None = None
    purpose: Text | None = None
    conditions: Texts
    status: FundingStatus


# --- drafts: what the model fills -----------------------------------------------------------

LocalRef = Annotated[
    str,
    # Any label, not only R1, R2...: small models write hashes and counters of their own
    # (Qwen2.5-Coder 1.5B wrote 'a3f569f5d7d62515' for three records), and a label means
    # nothing past the answer. One used twice is ambiguous: merge drops the links to it.
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    Field(description="Your own label for this record, unique in your answer: R1, R2, ..."),
]


class ActorDraft(Actor):
    """An actor as the model names it. Small models write a country as "PHL" or "Philippines"
    where the contract wants "PH": normalization resolves either, so it is not re-asked."""

    country: Text | None = Field(
        default=None,
        description="The ISO 3166-1 alpha-2 code of the country the actor is, or belongs to.",
    )


class DraftLink(Frozen):
    relation: LinkRelation
    target_ref: LocalRef


class DraftBase(Frozen):
    ref: LocalRef
    evidence: Annotated[list[Quote], Field(min_length=1)] = Field(
        description="One or more passages copied verbatim from the article that support "
        "every field of this record."
    )
    date: Text | None = Field(default=None, description="The date or time as written, if any.")
    links: Annotated[list[DraftLink], Field(default_factory=list)]


class InvitationDraft(DraftBase, InvitationFields[ActorDraft]):
    pass


class MeetingDraft(DraftBase, MeetingFields[ActorDraft]):
    pass


class DeclarationDraft(DraftBase, DeclarationFields[ActorDraft]):
    pass


class FundingAskDraft(DraftBase, FundingAskFields[ActorDraft]):
    pass


Draft = InvitationDraft | MeetingDraft | DeclarationDraft | FundingAskDraft


class EvidenceCheck(Protocol):
    """Given every quote of an answer, returns those to send back to the model (none: accept)."""

    def __call__(self, quotes: Sequence[str], /) -> list[str]: ...


EVIDENCE_CHECK: ContextVar[EvidenceCheck | None] = ContextVar("evidence_check", default=None)
"""The check an `ExtractionDraft` validated now must pass; the pipeline sets it around a call.

A context variable, not pydantic's validation context: instructor renders every message as a
Jinja template when a call carries a validation context, and the article must reach the model
byte for byte.
"""


Inv = TypeVar("Inv")
Mtg = TypeVar("Mtg")
Dcl = TypeVar("Dcl")
Fund = TypeVar("Fund")


class ByType(Frozen, Generic[Inv, Mtg, Dcl, Fund]):
    """The four lists of records, one per type, in a draft answer, a response or a fixture.

    Field names and order are `RECORD_KINDS`'s (a test holds them together).
    """

    invitations: Annotated[list[Inv], Field(default_factory=list)]
    meetings: Annotated[list[Mtg], Field(default_factory=list)]
    declarations: Annotated[list[Dcl], Field(default_factory=list)]
    funding_asks: Annotated[list[Fund], Field(default_factory=list)]

    @property
    def records(self) -> list[Inv | Mtg | Dcl | Fund]:
        """Every record, type by type in `RECORD_KINDS` order."""
        return [item for kind in RECORD_KINDS for item in getattr(self, kind.field)]


class ExtractionDraft(ByType[InvitationDraft, MeetingDraft, DeclarationDraft, FundingAskDraft]):
    """Every invitation, meeting, declaration and funding ask the article reports."""

    @model_validator(mode="after")
    def _evidence_is_in_the_article(self) -> Self:
        # Validated under an EvidenceCheck (as the pipeline does), an answer whose quotes are not
        # in the article fails, and the error text is what the model is re-asked.
        check = EVIDENCE_CHECK.get()
        if check is None:
            return self
        missing = check([quote for draft in self.records for quote in draft.evidence])
        if missing:
            listed = "; ".join(repr(quote) for quote in missing[:10])
            raise ValueError(
                "these evidence quotes are not in the article: "
                f"{listed}. Copy every quote character for character from the article, or "
                "leave out a record that nothing in the article supports."
            )
        return self


# --- records: what the API returns ----------------------------------------------------------


class Identified(Frozen):
    id: RecordId
    record_type: ClassVar[RecordType]

    @model_validator(mode="after")
    def _id_has_its_type_prefix(self) -> Self:
        prefix = self.record_type.id_prefix
        if not self.id.startswith(f"{prefix}-"):
            raise ValueError(f"a {self.record_type.value} id starts with {prefix}-")
        return self


class RecordBase(Frozen):
    evidence: Annotated[list[Evidence], Field(min_length=1)]
    date: DateMention | None = None
    links: Annotated[list[Link], Field(default_factory=list)]


# Base order sets the JSON field order: id, then the content fields, then evidence, date, links.
class Invitation(RecordBase, InvitationFields[ActorMention], Identified):
    pass


class Meeting(RecordBase, MeetingFields[ActorMention], Identified):
    pass


class Declaration(RecordBase, DeclarationFields[ActorMention], Identified):
    pass


class FundingAsk(RecordBase, FundingAskFields[ActorMention], Identified):
    pass


Record = Invitation | Meeting | Declaration | FundingAsk


# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordKind:
    """One record type and its two classes."""

    draft: type[Draft]
    record: type[Record]

    @property
    def type(self) -> RecordType:
        return self.record.record_type

    @property
    def field(self) -> str:
        return self.type.field

    @property
    def id_prefix(self) -> str:
        return self.type.id_prefix


RECORD_KINDS: tuple[RecordKind, ...] = (
    RecordKind(InvitationDraft, Invitation),
    RecordKind(MeetingDraft, Meeting),
    RecordKind(DeclarationDraft, Declaration),
    RecordKind(FundingAskDraft, FundingAsk),
)
KIND_OF: dict[RecordType, RecordKind] = {kind.type: kind for kind in RECORD_KINDS}

TypeGroup = tuple[RecordType, ...]
"""The types one model call is asked for when a chunk is read in passes (`Settings.passes`), in
the order of `RECORD_KINDS`."""


def kind_of(record: Record | Draft) -> RecordKind:
    return KIND_OF[record.record_type]


def _rows_are_consistent() -> None:
    # Import-time: a row naming a draft of one type and a record of another cannot ship.
    for kind in RECORD_KINDS:
        if kind.draft.record_type is not kind.type:
            raise TypeError(f"{kind.draft.__name__} is not a {kind.type.value} draft")
    if [kind.type for kind in RECORD_KINDS] != list(RecordType):
        raise TypeError("RECORD_KINDS must list every RecordType once, in its order")
    fields = tuple(ByType.model_fields)
    if fields != tuple(kind.field for kind in RECORD_KINDS):
        raise TypeError(f"ByType's fields {fields} differ from RECORD_KINDS")


_rows_are_consistent()


class PassDraft(ExtractionDraft):
    """The answer of a pass over some types (`Settings.passes`): their lists. The others' are
    dropped unread: a small model fills them now and then, and each type has its own pass."""

    kinds: ClassVar[tuple[RecordKind, ...]]
    others: ClassVar[frozenset[str]]
    """The other types' list fields, left unread."""

    @model_validator(mode="before")
    @classmethod
    def _its_types_only(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {key: value for key, value in data.items() if key not in cls.others}


@cache
def draft_of(*kinds: RecordKind) -> type[PassDraft]:
    """The answer model of a pass over `kinds`, named after their lists (`Invitations`,
    `InvitationsMeetings`): instructor names the tool after it."""
    name = "".join(part.title() for kind in kinds for part in kind.field.split("_"))
    names = [kind.type.value.replace("_", " ") for kind in kinds]
    doc = f"Every {' and '.join(names)} the article reports."
    others = frozenset(k.field for k in RECORD_KINDS if k not in kinds)
    namespace = {"__doc__": doc, "__module__": __name__, "kinds": kinds, "others": others}
    return type(name, (PassDraft,), namespace)
