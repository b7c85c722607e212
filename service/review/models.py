"""The review store's tables, as SQLAlchemy 2 typed ORM classes.

- `ArticleRow`: an article as submitted and the model's response as returned, both as JSON;
  written once, never updated.
- `DecisionRow`: the audit trail, append-only: every decision an editor made on an article, in
  order (`seq`), with the record's state before and after it. An undo is a row of its own that
  names the row it reverses (`undoes`); nothing is deleted or rewritten.
- `RecordRow`: each record's current state, kept by the store in the same transaction as the
  decision that changed it, so that the queue and its filters are plain SQL. It is derived: the
  model's record with the audit trail's decisions replayed gives the same (a test checks it).

The first migration (`migrations/versions/`) creates exactly this schema; a test compares them.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum as PyEnum
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from attache.review.decisions import Action, Key, Origin, ReviewState, Verdict
from attache.schemas.common import RecordType

WHO_CHARS = 200
RECORD_ID_CHARS = 24
ARTICLE_ID_CHARS = 200  # attache.schemas.api.ArticleId's limit


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime on both databases: SQLite keeps no offset, so one is put back."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: dt.datetime | None, _dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("review timestamps are timezone-aware")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, _dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _enum(cls: type[PyEnum]) -> Enum:
    # Stored as the enum's values in a VARCHAR: no PostgreSQL enum type to migrate when a value is
    # added, and the same column on both databases.
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy's own class attribute
        dict[str, Any]: JSON(none_as_null=True),
        dt.datetime: UtcDateTime(),
        RecordType: _enum(RecordType),
        Origin: _enum(Origin),
        ReviewState: _enum(ReviewState),
        Verdict: _enum(Verdict),
        Action: _enum(Action),
        Key: _enum(Key),
    }


class ArticleRow(Base):
    __tablename__ = "review_articles"

    id: Mapped[str] = mapped_column(String(ARTICLE_ID_CHARS), primary_key=True)
    request: Mapped[dict[str, Any]] = mapped_column(
        comment="The ExtractionRequest as submitted (text, id, url, published_at, types)."
    )
    response: Mapped[dict[str, Any]] = mapped_column(
        comment="The ExtractionResponse as returned: the model's output, never changed."
    )
    added_at: Mapped[dt.datetime]


class RecordRow(Base):
    __tablename__ = "review_records"
    __table_args__ = (Index(None, "state", "record_type"),)

    article_id: Mapped[str] = mapped_column(ForeignKey(ArticleRow.id), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(RECORD_ID_CHARS), primary_key=True)
    position: Mapped[int] = mapped_column(comment="Display order: the model's, then additions.")
    record_type: Mapped[RecordType]
    origin: Mapped[Origin]
    state: Mapped[ReviewState]
    verdict: Mapped[Verdict | None]
    current: Mapped[dict[str, Any] | None] = mapped_column(
        comment="The record now; null once an added record's adding is undone."
    )


class DecisionRow(Base):
    __tablename__ = "review_decisions"
    __table_args__ = (UniqueConstraint("article_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(ForeignKey(ArticleRow.id))
    seq: Mapped[int] = mapped_column(comment="1, 2, ... within the article: the order applied.")
    record_id: Mapped[str] = mapped_column(String(RECORD_ID_CHARS))
    action: Mapped[Action]
    key: Mapped[Key] = mapped_column(comment="What the editor pressed: a, x, e, u or form.")
    who: Mapped[str | None] = mapped_column(
        String(WHO_CHARS), comment="The API key id that made it; null without keys."
    )
    at: Mapped[dt.datetime]
    before: Mapped[dict[str, Any] | None] = mapped_column(
        comment="{verdict, record} before; null when the record did not exist."
    )
    after: Mapped[dict[str, Any] | None] = mapped_column(
        comment="{verdict, record} after; null when the record no longer exists."
    )
    undoes: Mapped[int | None] = mapped_column(ForeignKey("review_decisions.id"), unique=True)
