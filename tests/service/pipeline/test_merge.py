from __future__ import annotations

import json
from typing import Any

import pytest

from attache.evals.corpus import Article
from attache.pipeline.chunk import Chunk
from attache.pipeline.ground import Aligner
from attache.pipeline.merge import ChunkDraft, merge
from attache.schemas import ExtractionDraft, RecordType
from attache.schemas.records import MeetingDraft

ALL = frozenset(RecordType)


@pytest.fixture
def answer(board_of_peace_answer: dict[str, Any]) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(board_of_peace_answer))
    return copy


def one_chunk(text: str, answer: dict[str, Any]) -> list[ChunkDraft]:
    return [ChunkDraft(Chunk(0, text), ExtractionDraft.model_validate(answer))]


def test_ids_follow_article_order_within_each_type(
    board_of_peace: Article, answer: dict[str, Any]
) -> None:
    text = board_of_peace.text
    answer["meetings"].reverse()  # the model's order must not matter
    merged = merge(one_chunk(text, answer), Aligner(text), ALL)
    meetings = [m for m in merged.drafts if isinstance(m.draft, MeetingDraft)]
    assert [m.id for m in meetings] == ["mtg-1", "mtg-2"]
    assert isinstance(meetings[0].draft, MeetingDraft)
    assert meetings[0].draft.place == "Davos"
    starts = [m.evidence[0].start for m in meetings]
    assert starts == sorted(starts)  # type: ignore[type-var]
    assert [r.id for r in merged.drafts] == [
        "inv-1", "inv-2", "mtg-1", "mtg-2", "dcl-1", "fund-1",
    ]  # fmt: skip


def test_overlapping_chunks_reporting_one_record_yield_it_once(
    board_of_peace: Article, answer: dict[str, Any]
) -> None:
    text = board_of_peace.text
    half = len(text) // 2
    parts = [
        ChunkDraft(Chunk(0, text[: half + 500]), ExtractionDraft.model_validate(answer)),
        ChunkDraft(Chunk(half - 500, text[half - 500 :]), ExtractionDraft.model_validate(answer)),
    ]
    merged = merge(parts, Aligner(text), ALL)
    assert len(merged.drafts) == 6
    assert {w.code for w in merged.warnings} == {"duplicate_merged"}
    # Links from either copy resolve to the kept record.
    declaration = next(r for r in merged.drafts if r.id == "dcl-1")
    assert [(link.relation, link.target) for link in declaration.links] == [("issued_at", "mtg-2")]


def test_types_not_asked_for_are_left_out_and_links_to_them_dropped(
    board_of_peace: Article, answer: dict[str, Any]
) -> None:
    text = board_of_peace.text
    merged = merge(one_chunk(text, answer), Aligner(text), frozenset({RecordType.FUNDING_ASK}))
    assert [r.id for r in merged.drafts] == ["fund-1"]
    assert merged.drafts[0].links == []
    assert [(w.code, w.record_id) for w in merged.warnings] == [("link_dropped", "fund-1")]


FABRICATED = "Trump demanded USD2 billion from every member."


def test_a_record_with_no_quote_in_the_article_is_dropped(
    board_of_peace: Article, answer: dict[str, Any]
) -> None:
    text = board_of_peace.text
    answer["funding_asks"][0]["evidence"] = [FABRICATED]
    merged = merge(one_chunk(text, answer), Aligner(text), ALL)
    assert not [r for r in merged.drafts if r.id.startswith("fund")]
    assert [w.code for w in merged.warnings] == ["record_dropped"]
    # The invitation that linked to nothing now is unaffected; links to it still resolve.
    assert len(merged.drafts) == 5


def test_a_quote_not_in_the_article_is_dropped_from_a_grounded_record(
    board_of_peace: Article, answer: dict[str, Any]
) -> None:
    text = board_of_peace.text
    answer["funding_asks"][0]["evidence"].append(FABRICATED)
    merged = merge(one_chunk(text, answer), Aligner(text), ALL)
    fund = next(r for r in merged.drafts if r.id == "fund-1")
    assert [e.alignment for e in fund.evidence] == ["exact"]
    assert [w.code for w in merged.warnings] == ["evidence_dropped"]


def test_keep_ungrounded_keeps_and_flags(board_of_peace: Article, answer: dict[str, Any]) -> None:
    text = board_of_peace.text
    answer["funding_asks"][0]["evidence"] = [FABRICATED]
    merged = merge(one_chunk(text, answer), Aligner(text), ALL, keep_ungrounded=True)
    fund = next(r for r in merged.drafts if r.id == "fund-1")
    assert fund.evidence[0].alignment == "unaligned"
    assert fund.evidence[0].start is None
    assert [(w.code, w.record_id) for w in merged.warnings] == [("evidence_unaligned", "fund-1")]


def test_a_link_to_itself_or_nowhere_is_dropped(
    board_of_peace: Article, answer: dict[str, Any]
) -> None:
    text = board_of_peace.text
    answer["meetings"][0]["links"] = [
        {"relation": "follows", "target_ref": "R3"},  # itself
        {"relation": "follows", "target_ref": "R99"},  # no such record
        {"relation": "follows", "target_ref": "R4"},
    ]
    merged = merge(one_chunk(text, answer), Aligner(text), ALL)
    davos = next(r for r in merged.drafts if r.id == "mtg-1")
    assert [link.target for link in davos.links] == ["mtg-2"]
    assert [w.code for w in merged.warnings] == ["link_dropped", "link_dropped"]


def test_a_label_two_records_share_links_neither_and_any_label_will_do(
    board_of_peace: Article, answer: dict[str, Any]
) -> None:
    text = board_of_peace.text
    # A small model's labels: hashes, the same one for two meetings.
    labels = {"R3": "a3f569f5d7d62515", "R4": "a3f569f5d7d62515"}
    for record in (r for kind in answer.values() if isinstance(kind, list) for r in kind):
        record["ref"] = labels.get(record["ref"], f"event-{record['ref']}")
        for link in record["links"]:
            link["target_ref"] = labels.get(link["target_ref"], f"event-{link['target_ref']}")
    merged = merge(one_chunk(text, answer), Aligner(text), ALL)
    assert len(merged.drafts) == 6
    declaration = next(r for r in merged.drafts if r.id == "dcl-1")
    assert declaration.links == []  # it pointed at the second meeting: which one is unsaid
    dropped = [w for w in merged.warnings if w.code == "link_dropped"]
    assert [w.record_id for w in dropped] == ["dcl-1"]
