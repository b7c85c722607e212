"""The review store's tables: articles, records, decisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 23:01:49.758312
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_articles",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column(
            "request",
            sa.JSON(none_as_null=True),
            nullable=False,
            comment="The ExtractionRequest as submitted (text, id, url, published_at, types).",
        ),
        sa.Column(
            "response",
            sa.JSON(none_as_null=True),
            nullable=False,
            comment="The ExtractionResponse as returned: the model's output, never changed.",
        ),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_articles")),
    )
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("article_id", sa.String(length=200), nullable=False),
        sa.Column(
            "seq",
            sa.Integer(),
            nullable=False,
            comment="1, 2, ... within the article: the order applied.",
        ),
        sa.Column("record_id", sa.String(length=24), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "accept",
                "reject",
                "edit",
                "reanchor",
                "add",
                "undo",
                name="action",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "key",
            sa.Enum("a", "x", "e", "u", "form", name="key", native_enum=False),
            nullable=False,
            comment="What the editor pressed: a, x, e, u or form.",
        ),
        sa.Column(
            "who",
            sa.String(length=200),
            nullable=True,
            comment="The API key id that made it; null without keys.",
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "before",
            sa.JSON(none_as_null=True),
            nullable=True,
            comment="{verdict, record} before; null when the record did not exist.",
        ),
        sa.Column(
            "after",
            sa.JSON(none_as_null=True),
            nullable=True,
            comment="{verdict, record} after; null when the record no longer exists.",
        ),
        sa.Column("undoes", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["review_articles.id"],
            name=op.f("fk_review_decisions_article_id_review_articles"),
        ),
        sa.ForeignKeyConstraint(
            ["undoes"],
            ["review_decisions.id"],
            name=op.f("fk_review_decisions_undoes_review_decisions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_decisions")),
        sa.UniqueConstraint("article_id", "seq", name=op.f("uq_review_decisions_article_id_seq")),
        sa.UniqueConstraint("undoes", name=op.f("uq_review_decisions_undoes")),
    )
    op.create_table(
        "review_records",
        sa.Column("article_id", sa.String(length=200), nullable=False),
        sa.Column("record_id", sa.String(length=24), nullable=False),
        sa.Column(
            "position",
            sa.Integer(),
            nullable=False,
            comment="Display order: the model's, then additions.",
        ),
        sa.Column(
            "record_type",
            sa.Enum(
                "invitation",
                "meeting",
                "declaration",
                "funding_ask",
                name="recordtype",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "origin", sa.Enum("model", "added", name="origin", native_enum=False), nullable=False
        ),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "accepted",
                "edited",
                "rejected",
                "added",
                "withdrawn",
                name="reviewstate",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "verdict", sa.Enum("kept", "rejected", name="verdict", native_enum=False), nullable=True
        ),
        sa.Column(
            "current",
            sa.JSON(none_as_null=True),
            nullable=True,
            comment="The record now; null once an added record's adding is undone.",
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["review_articles.id"],
            name=op.f("fk_review_records_article_id_review_articles"),
        ),
        sa.PrimaryKeyConstraint("article_id", "record_id", name=op.f("pk_review_records")),
    )
    with op.batch_alter_table("review_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_records_state_record_type"),
            ["state", "record_type"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("review_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_records_state_record_type"))

    op.drop_table("review_records")
    op.drop_table("review_decisions")
    op.drop_table("review_articles")
