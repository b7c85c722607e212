"""The four record types, in the two shapes they take.

Each type's content fields are written once, in a `*Fields` class. Two shapes derive from it:

- the *draft* (`InvitationDraft`, ...), which the model fills: evidence as bare quotes, dates as
  written, links by the model's own local refs (`R1`, `R2`);
- the *record* (`Invitation`, ...), which the API returns: evidence with character spans, dates
  with their normalized window, links by response-stable record ids.

The pipeline turns drafts into records; nothing else constructs records from model output.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, ClassVar, Generic, Protocol, Self, TypeVar

from pydantic import Field, StringConstraints, ValidationInfo, model_validator

from schemas.common import (
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


class InvitationFields(Frozen, Generic[A]):
    """Someone asks someone to join a body, attend an event, visit or meet."""

    record_type: ClassVar[RecordType] = RecordType.INVITATION

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

    participants: Annotated[list[A], Field(min_length=1)]
    host: A | None = None
    place: Text | None = Field(default=None, description="Where, as written: 'Davos'.")
    status: MeetingStatus
    topics: Texts
    format: MeetingFormat | None = None


class DeclarationFields(Frozen, Generic[A]):
    """A statement, agreement or pledge issued or signed by one or more parties."""

    record_type: ClassVar[RecordType] = RecordType.DECLARATION

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

    requester: A
    addressees: Annotated[list[A], Field(default_factory=list)]
    amount: Money | None = None
    purpose: Text | None = None
    conditions: Texts
    status: FundingStatus


# --- drafts: what the model fills -----------------------------------------------------------

LocalRef = Annotated[
    str,
    StringConstraints(pattern=r"^R[1-9][0-9]*$"),
    Field(description="Your own label for this record, unique in your answer: R1, R2, ..."),
]


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


class InvitationDraft(DraftBase, InvitationFields[Actor]):
    pass


class MeetingDraft(DraftBase, MeetingFields[Actor]):
    pass


class DeclarationDraft(DraftBase, DeclarationFields[Actor]):
    pass


class FundingAskDraft(DraftBase, FundingAskFields[Actor]):
    pass


Draft = InvitationDraft | MeetingDraft | DeclarationDraft | FundingAskDraft

EVIDENCE_CHECK = "evidence_check"
"""Validation-context key of an `EvidenceCheck` for `ExtractionDraft`."""


class EvidenceCheck(Protocol):
    """Given every quote of an answer, returns those to send back to the model (none: accept)."""

    def __call__(self, quotes: Sequence[str], /) -> list[str]: ...


class ExtractionDraft(Frozen):
    """Every invitation, meeting, declaration and funding ask the article reports."""

    invitations: Annotated[list[InvitationDraft], Field(default_factory=list)]
    meetings: Annotated[list[MeetingDraft], Field(default_factory=list)]
    declarations: Annotated[list[DeclarationDraft], Field(default_factory=list)]
    funding_asks: Annotated[list[FundingAskDraft], Field(default_factory=list)]

    @property
    def drafts(self) -> list[Draft]:
        return [*self.invitations, *self.meetings, *self.declarations, *self.funding_asks]

    @model_validator(mode="after")
    def _evidence_is_in_the_article(self, info: ValidationInfo) -> Self:
        # Validated with an EvidenceCheck in its context (as the pipeline does), an answer whose
        # quotes are not in the article fails, and the error text is what the model is re-asked.
        context = info.context if isinstance(info.context, dict) else {}
        check: EvidenceCheck | None = context.get(EVIDENCE_CHECK)
        if check is None:
            return self
        missing = check([quote for draft in self.drafts for quote in draft.evidence])
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

RECORD_CLASS: dict[RecordType, type[Record]] = {
    RecordType.INVITATION: Invitation,
    RecordType.MEETING: Meeting,
    RecordType.DECLARATION: Declaration,
    RecordType.FUNDING_ASK: FundingAsk,
}
ID_PREFIX: dict[RecordType, str] = {
    RecordType.INVITATION: "inv",
    RecordType.MEETING: "mtg",
    RecordType.DECLARATION: "dcl",
    RecordType.FUNDING_ASK: "fund",
}
