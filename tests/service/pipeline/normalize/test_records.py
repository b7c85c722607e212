"""The normalize stage as a whole, and its agreement with the hand-labelled fixtures."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from attache.evals.corpus import Article, read_articles
from attache.evals.fixtures import load_all
from attache.pipeline.chunk import Chunk
from attache.pipeline.ground import Aligner
from attache.pipeline.merge import ChunkDraft, merge
from attache.pipeline.normalize.dates import Tense, resolve
from attache.pipeline.normalize.records import normalize, normalize_money, tense_of
from attache.schemas import (
    Actor,
    ActorMention,
    ExtractionDraft,
    Invitation,
    Meeting,
    Money,
    RecordType,
)
from tests.evals.synthetic import gold_as_draft


@pytest.mark.parametrize(
    ("kind", "status", "tense"),
    [
        ("meetings", "planned", Tense.FUTURE),
        ("meetings", "proposed", Tense.FUTURE),
        ("meetings", "held", Tense.PAST),
        ("meetings", "cancelled", Tense.NEAREST),
        ("invitations", "extended", Tense.NEAREST),
        ("funding_asks", "requested", Tense.NEAREST),
    ],
)
def test_tense_follows_type_and_status(
    kind: str, status: str, tense: Tense, board_of_peace_answer: dict[str, Any]
) -> None:
    record = dict(board_of_peace_answer[kind][0], status=status)
    draft = ExtractionDraft.model_validate({kind: [record]})
    assert tense_of(draft.records[0]) is tense


def test_hand_labelled_dates_agree_with_the_resolver() -> None:
    """Every dated gold record: the resolver, given the record's tense, finds the window the
    annotator wrote down by hand, but for the two listed."""
    disagreements = []
    for _, fixture in load_all():
        draft = ExtractionDraft.model_validate(gold_as_draft(fixture))
        for gold, drafted in zip(fixture.gold.records, draft.records, strict=True):
            if gold.date is None or gold.date.start is None or drafted.date is None:
                continue
            published = _published(fixture.article_id)
            resolved = resolve(drafted.date, published, tense_of(drafted))
            if (resolved.start, resolved.end) != (gold.date.start, gold.date.end):
                disagreements.append((fixture.article_id, gold.id, gold.date.text))
    assert disagreements == [
        # Dated from its dateline (March 29), not published_at (March 28 23:19): see its note.
        ("reuters-10630", "mtg-1", "early yesterday"),
        # A misspelling the resolver does not guess at.
        ("reuters-9674", "mtg-1", "tommorrow for a two-day meeting"),
    ]


def test_normalize_builds_api_records_with_canonical_actors(
    board_of_peace: Article, board_of_peace_answer: dict[str, Any]
) -> None:
    text = board_of_peace.text
    parts = [ChunkDraft(Chunk(0, text), ExtractionDraft.model_validate(board_of_peace_answer))]
    merged = merge(parts, Aligner(text), frozenset(RecordType))
    result = normalize(merged.drafts, dt.date(2026, 1, 20))
    invitations = result.of_type(Invitation)
    meetings = result.of_type(Meeting)
    # "Donald Trump" and "Trump" invite in two records: one actor.
    assert invitations[0].inviters[0].id == invitations[1].inviters[0].id
    assert invitations[1].inviters[0].name == "Trump"
    assert meetings[0].date is not None
    assert meetings[0].date.start == dt.date(2026, 1, 20)


def _published(article_id: str) -> dt.date:
    published = read_articles()[article_id].published_at
    assert published is not None
    return published.date() if isinstance(published, dt.datetime) else published


def test_every_field_of_every_labelled_record_reaches_the_api_record() -> None:
    # Gold records of all four types as drafts: one actor, lists of them, an optional host,
    # amounts and none. Each draft field lands in its record, actors as their mentions and
    # amounts parsed from their text (the drafts give the text alone); nothing else changes.
    seen: set[str] = set()
    for _, fixture in load_all():
        text = read_articles()[fixture.article_id].text
        answer = gold_as_draft(fixture)
        for ask in answer["funding_asks"]:
            ask["amount"] = ask["amount"] and {"text": ask["amount"]["text"]}
        draft = ExtractionDraft.model_validate(answer)
        merged = merge([ChunkDraft(Chunk(0, text), draft)], Aligner(text), frozenset(RecordType))
        normalized = normalize(merged.drafts, _published(fixture.article_id))
        ids = {actor.id for actor in normalized.actors}
        for item, record in zip(merged.drafts, normalized.records, strict=True):
            for name in type(item.draft).model_fields.keys() - {"ref", "evidence", "date", "links"}:
                drafted, made = getattr(item.draft, name), getattr(record, name)
                actors = drafted if isinstance(drafted, list) else [drafted]
                if actors and all(isinstance(actor, Actor) for actor in actors):
                    mentions = made if isinstance(made, list) else [made]
                    for actor, mention in zip(actors, mentions, strict=True):
                        assert isinstance(mention, ActorMention)
                        assert (mention.name, mention.kind, mention.role) == (
                            actor.name,
                            actor.kind,
                            actor.role,
                        )
                        assert mention.id in ids
                    seen.add("actor")
                elif isinstance(drafted, Money):
                    assert made == normalize_money(drafted)
                    seen.add("amount" if made.value is None else "amount: parsed")
                else:
                    assert made == drafted, (fixture.article_id, record.id, name)
                    seen.add("host: none" if name == "host" else "other")
    assert seen >= {"actor", "amount: parsed", "host: none", "other"}
