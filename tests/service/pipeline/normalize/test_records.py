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
from attache.pipeline.normalize.records import normalize, tense_of
from attache.schemas import ExtractionDraft, Invitation, Meeting, RecordType
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
