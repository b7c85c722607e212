"""The review queue (articles, their state and progress, its filters) and the adoption rate."""

from __future__ import annotations

import pytest

from attache.evals.corpus import Article
from attache.review.decisions import (
    Accept,
    Add,
    ArticleState,
    Edit,
    Key,
    Reject,
    ReviewState,
)
from attache.review.store import ReviewStore
from attache.schemas.common import RecordType
from tests.service.review.conftest import (
    BOARD_OF_PEACE,
    NOTHING,
    PHILIPPINES,
    extraction,
    missed_meeting,
)


@pytest.fixture
async def three(store: ReviewStore, articles: dict[str, Article]) -> ReviewStore:
    """Board of Peace (8 records) reviewed, Philippines (3) in progress, one with none."""
    for article_id in [BOARD_OF_PEACE, PHILIPPINES, NOTHING]:
        await store.add_article(*extraction(articles[article_id]))
    for record in (await store.article(BOARD_OF_PEACE)).records:
        await store.decide(BOARD_OF_PEACE, Accept(record_id=record.record_id), key=Key.A)
    await store.decide(PHILIPPINES, Reject(record_id="mtg-1"), key=Key.X)
    return store


async def ids(
    store: ReviewStore,
    *,
    state: ArticleState | None = None,
    record_type: RecordType | None = None,
    record_state: ReviewState | None = None,
) -> list[str]:
    page = await store.queue(state=state, record_type=record_type, record_state=record_state)
    assert page.total == len(page.entries)
    return [entry.article_id for entry in page.entries]


async def test_the_queue_lists_articles_oldest_first_with_their_progress(
    three: ReviewStore,
) -> None:
    page = await three.queue()
    assert page.total == 3
    progress = [(e.article_id, e.state, e.decided, e.records) for e in page.entries]
    assert progress == [
        (BOARD_OF_PEACE, ArticleState.REVIEWED, 8, 8),
        (PHILIPPINES, ArticleState.IN_PROGRESS, 1, 3),
        (NOTHING, ArticleState.UNREVIEWED, 0, 0),
    ]


async def test_the_queue_filters_by_article_state(three: ReviewStore) -> None:
    assert await ids(three, state=ArticleState.REVIEWED) == [BOARD_OF_PEACE]
    assert await ids(three, state=ArticleState.IN_PROGRESS) == [PHILIPPINES]
    assert await ids(three, state=ArticleState.UNREVIEWED) == [NOTHING]


async def test_the_queue_filters_by_record_type_and_state_on_one_record(
    three: ReviewStore,
) -> None:
    assert await ids(three, record_type=RecordType.INVITATION) == [BOARD_OF_PEACE]
    assert await ids(three, record_type=RecordType.FUNDING_ASK) == [BOARD_OF_PEACE, PHILIPPINES]
    assert await ids(three, record_state=ReviewState.PENDING) == [PHILIPPINES]
    assert await ids(three, record_state=ReviewState.REJECTED) == [PHILIPPINES]
    # Both filters hold for one record: Philippines' mtg-1 is rejected, mtg-2 and fund-1 pending.
    meeting, ask = RecordType.MEETING, RecordType.FUNDING_ASK
    assert await ids(three, record_type=meeting, record_state=ReviewState.PENDING) == [PHILIPPINES]
    assert await ids(three, record_type=ask, record_state=ReviewState.REJECTED) == []
    assert await ids(three, record_type=RecordType.MEETING, state=ArticleState.REVIEWED) == [
        BOARD_OF_PEACE
    ]


async def test_the_queue_pages(three: ReviewStore) -> None:
    first, second = await three.queue(limit=2), await three.queue(limit=2, offset=2)
    assert first.total == second.total == 3
    assert [e.article_id for e in first.entries + second.entries] == [
        BOARD_OF_PEACE, PHILIPPINES, NOTHING
    ]  # fmt: skip


async def test_an_addition_counts_in_the_progress_and_its_undo_does_not(
    three: ReviewStore, articles: dict[str, Article]
) -> None:
    add = Add(record_type=RecordType.MEETING, fields=missed_meeting(articles[BOARD_OF_PEACE]))
    await three.decide(BOARD_OF_PEACE, add, key=Key.FORM)
    [entry] = (await three.queue(state=ArticleState.REVIEWED)).entries
    assert (entry.decided, entry.records) == (9, 9)
    await three.undo(BOARD_OF_PEACE)
    [entry] = (await three.queue(state=ArticleState.REVIEWED)).entries
    assert (entry.decided, entry.records) == (8, 8)
    assert await ids(three, record_state=ReviewState.WITHDRAWN) == []


async def test_adoption_is_the_share_of_model_records_accepted_unchanged(
    store: ReviewStore, articles: dict[str, Article]
) -> None:
    assert (await store.adoption()).rate is None
    await store.add_article(*extraction(articles[BOARD_OF_PEACE]))
    decide = store.decide
    await decide(BOARD_OF_PEACE, Accept(record_id="mtg-1"), key=Key.A)
    await decide(BOARD_OF_PEACE, Accept(record_id="mtg-2"), key=Key.A)
    await decide(BOARD_OF_PEACE, Accept(record_id="mtg-3"), key=Key.A)
    await decide(BOARD_OF_PEACE, Edit(record_id="mtg-3", changes={"topics": ["x"]}), key=Key.E)
    await decide(BOARD_OF_PEACE, Reject(record_id="inv-1"), key=Key.X)
    await decide(BOARD_OF_PEACE, Accept(record_id="inv-2"), key=Key.A)
    await decide(BOARD_OF_PEACE, Reject(record_id="inv-2"), key=Key.X)  # changed its mind
    add = Add(record_type=RecordType.MEETING, fields=missed_meeting(articles[BOARD_OF_PEACE]))
    await decide(BOARD_OF_PEACE, add, key=Key.FORM)  # not the model's: not counted
    adoption = await store.adoption()
    # Decided model records: mtg-1, mtg-2 (accepted), mtg-3 (edited), inv-1, inv-2 (rejected);
    # mtg-4, dcl-1 and fund-1 are pending: predicted, not decided. The added one is neither.
    assert (adoption.accepted_unchanged, adoption.decided, adoption.predicted) == (2, 5, 8)
    assert adoption.rate == pytest.approx(2 / 8)
    assert adoption.decided_rate == pytest.approx(2 / 5)
    meetings = await store.adoption(RecordType.MEETING)
    assert (meetings.accepted_unchanged, meetings.decided, meetings.predicted) == (2, 3, 4)
    await store.undo(BOARD_OF_PEACE)  # the addition
    await store.undo(BOARD_OF_PEACE)  # inv-2's rejection: accepted again
    assert (await store.adoption()).accepted_unchanged == 3
