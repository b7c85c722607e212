"""What an editor decides about a record, and what the review store answers with.

Value types only; `attache.review.store` applies them. A decision names the record it is about
(`Add` names the type of the one it creates) and is recorded with the key that triggered it and
who made it.

A record's state is a verdict (none yet, kept, rejected) and its content. `Accept` keeps it,
`Reject` rejects it; `Edit`, `Reanchor` and `Add` change or create the content and keep it, since
an editor who corrects a record has judged it worth keeping. The review state shown
(`ReviewState`) follows from the verdict, the content and where the record came from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from attache.schemas import ExtractionRequest, ExtractionResponse, Record
from attache.schemas.common import RecordType


class Key(StrEnum):
    """What the editor pressed on the review page to make a decision."""

    A = "a"
    """Accept."""
    X = "x"
    """Reject."""
    E = "e"
    """Edit."""
    U = "u"
    """Undo."""
    FORM = "form"
    """A form submitted: an edit, a re-anchored quote, a missed record added."""


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    EDIT = "edit"
    REANCHOR = "reanchor"
    ADD = "add"
    UNDO = "undo"


class Verdict(StrEnum):
    KEPT = "kept"
    REJECTED = "rejected"


class Origin(StrEnum):
    MODEL = "model"
    """In the model's response."""
    ADDED = "added"
    """A record the model missed, added by an editor."""


class ReviewState(StrEnum):
    """Where one record stands."""

    PENDING = "pending"
    """The model's record, not decided yet (or its decisions all undone)."""
    ACCEPTED = "accepted"
    """Kept as the model wrote it: what the adoption rate counts."""
    EDITED = "edited"
    """Kept, with fields or evidence changed by an editor."""
    REJECTED = "rejected"
    """Left out of the gold."""
    ADDED = "added"
    """Added by an editor, kept."""
    WITHDRAWN = "withdrawn"
    """Added by an editor, then the adding undone: no longer part of the article."""


class ArticleState(StrEnum):
    UNREVIEWED = "unreviewed"
    """No record has a decision: none taken yet, or the article has no records."""
    IN_PROGRESS = "in_progress"
    REVIEWED = "reviewed"
    """Every record has a decision: the article's gold can be exported."""


@dataclass(frozen=True, kw_only=True)
class Accept:
    """Keep the record as it is. Refused when none of its quotes has a span in the article
    (re-anchor one first) or a link points at a record that is gone: a kept record is gold."""

    record_id: str


@dataclass(frozen=True, kw_only=True)
class Reject:
    record_id: str


@dataclass(frozen=True, kw_only=True)
class Edit:
    """New values for some of a record's fields, by field name; the others keep theirs.

    The record that results must validate as the API's record of its type. Evidence may be
    edited too: each quote that is new must stand verbatim at its offsets, aligned `exact`.
    """

    record_id: str
    changes: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class Reanchor:
    """Place evidence `index` of the record (or, with `index` None, a new one) at a span."""

    record_id: str
    index: int | None
    quote: str
    start: int
    end: int


@dataclass(frozen=True, kw_only=True)
class Add:
    """A record the model missed: every field of the API's record but `id`, which the store
    gives (the type's next free number in the article)."""

    record_type: RecordType
    fields: Mapping[str, Any]


Decision = Accept | Reject | Edit | Reanchor | Add


@dataclass(frozen=True)
class FieldError:
    """One reason a decision was refused: the field's dotted path and what is wrong there."""

    path: str
    message: str


@dataclass(frozen=True, kw_only=True)
class RecordView:
    record_id: str
    record_type: RecordType
    origin: Origin
    state: ReviewState
    record: Record | None
    """The record now; None only when `state` is WITHDRAWN."""
    model: Record | None
    """The record as the model wrote it; None for a record an editor added."""


@dataclass(frozen=True, kw_only=True)
class ArticleView:
    """An article on the review page: the article, the model's output and each record now."""

    article_id: str
    request: ExtractionRequest
    response: ExtractionResponse
    records: list[RecordView]
    """Every record of the article now (withdrawn ones left out), in display order."""
    state: ArticleState
    added_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class QueueEntry:
    article_id: str
    state: ArticleState
    decided: int
    """Records with a decision."""
    records: int
    """Records in the article, those the editors added included."""
    added_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class QueuePage:
    entries: list[QueueEntry]
    total: int
    """Articles that match the filters, on every page."""


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """One row of an article's audit trail."""

    id: int
    seq: int
    record_id: str
    action: Action
    key: Key
    who: str | None
    at: dt.datetime
    before: dict[str, Any] | None
    """`{"verdict", "record"}` before the decision; None when the record did not exist."""
    after: dict[str, Any] | None
    """`{"verdict", "record"}` after it; None when the record no longer exists."""
    undoes: int | None
    """For an undo, the id of the entry it reverses."""


@dataclass(frozen=True, kw_only=True)
class Adoption:
    """How many of the model's records editors accepted unchanged."""

    accepted_unchanged: int
    decided: int
    """The model's records with a decision."""
    predicted: int
    """The model's records in review, decided or not."""

    @property
    def rate(self) -> float | None:
        """accepted_unchanged / predicted: the share of the model's output used as it is;
        None before any record is in review. Pending records lower it until decided."""
        return self.accepted_unchanged / self.predicted if self.predicted else None

    @property
    def decided_rate(self) -> float | None:
        """accepted_unchanged / decided: the same among the records judged so far."""
        return self.accepted_unchanged / self.decided if self.decided else None

    @classmethod
    def of(cls, tally: Tally, record_type: RecordType | None = None) -> Adoption:
        """The adoption of the records counted in `tally` (`ReviewStore.tally`), of one type or
        of all; records editors added count in no number."""
        model = {
            (kind, state): count
            for (kind, origin, state), count in tally.items()
            if origin is Origin.MODEL and record_type in (None, kind)
        }
        return cls(
            accepted_unchanged=sum(n for (_, s), n in model.items() if s is ReviewState.ACCEPTED),
            decided=sum(n for (_, s), n in model.items() if s is not ReviewState.PENDING),
            predicted=sum(model.values()),
        )


Tally = Mapping[tuple[RecordType, Origin, ReviewState], int]
"""How many records of each type, origin and review state are in review."""
