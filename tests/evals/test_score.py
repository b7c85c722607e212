"""Metamorphic tests of the scorer: known edits to a prediction move the metrics exactly."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from attache.evals.corpus import Article
from attache.evals.fixtures import Fixture
from attache.evals.score import ArticleRun, Side, score
from attache.schemas import Alignment, DateIssue, DateMention, Evidence, Meeting, Record, RecordType


def gold_side(fixture: Fixture) -> Side:
    return Side(records=fixture.gold.records, actors=fixture.gold.actors)


def run_with(fixture: Fixture, text: str, records: list[Record]) -> dict[str, Any]:
    predicted = Side(records=records, actors=fixture.gold.actors)
    return score([ArticleRun(fixture.article_id, text, gold_side(fixture), predicted)])


def test_gold_against_itself_scores_one(bop_fixture: Fixture, text: str) -> None:
    metrics = run_with(bop_fixture, text, list(bop_fixture.gold.records))
    assert metrics["records"]["micro"]["f1"] == 1.0
    assert metrics["records"]["macro_f1"] == 1.0
    assert metrics["fields"]["strict"]["f1"] == 1.0
    assert metrics["fields"]["relaxed"]["f1"] == 1.0
    assert metrics["status_accuracy"] == 1.0
    assert metrics["grounding_rate"] == 1.0
    assert "missed" not in str(metrics["type_confusion"])
    assert "spurious" not in metrics["type_confusion"]


@given(drop=st.integers(0, 8))
@settings(max_examples=9, deadline=None)
def test_removing_one_prediction_lowers_recall_by_exactly_its_share(
    drop: int, bop_fixture: Fixture, articles: dict[str, Article]
) -> None:
    text = articles[bop_fixture.article_id].text
    records = list(bop_fixture.gold.records)
    assert len(records) == 8
    removed = records.pop(drop % len(records))
    metrics = run_with(bop_fixture, text, records)
    micro = metrics["records"]["micro"]
    assert micro["recall"] == round(7 / 8, 4)
    assert micro["precision"] == 1.0
    assert metrics["type_confusion"][_type(removed)]["missed"] == 1


def test_changing_one_participant_costs_only_that_field(bop_fixture: Fixture, text: str) -> None:
    records = list(bop_fixture.gold.records)
    index = next(i for i, r in enumerate(records) if isinstance(r, Meeting))
    meeting = records[index]
    assert isinstance(meeting, Meeting)
    stranger = meeting.participants[-1].model_copy(
        update={"name": "Nikolai Patrushev", "canonical_name": "Nikolai Patrushev", "id": "act-99"}
    )
    records[index] = meeting.model_copy(
        update={"participants": [*meeting.participants[:-1], stranger]}
    )
    baseline = run_with(bop_fixture, text, list(bop_fixture.gold.records))
    changed = run_with(bop_fixture, text, records)
    assert changed["records"]["micro"] == baseline["records"]["micro"]
    for mode in ("strict", "relaxed"):
        assert changed["fields"][mode]["tp"] == baseline["fields"][mode]["tp"] - 1
        assert changed["fields"][mode]["fp"] == 1
        assert changed["fields"][mode]["fn"] == 1
        # ... and it is the meetings' field score that drops, no other type's.
        for kind, row in changed["fields"]["by_type"].items():
            before = baseline["fields"]["by_type"][kind][mode]
            assert row[mode]["fp"] == (kind == "meeting")
            assert row[mode]["tp"] == before["tp"] - (kind == "meeting")
    assert changed["status_accuracy"] == 1.0


def test_valid_salvaged_and_invalid_output_and_reasks_are_counted_per_attempted_article(
    bop_fixture: Fixture, text: str
) -> None:
    gold = gold_side(bop_fixture)
    runs = [
        ArticleRun("ok", text, gold, gold),
        ArticleRun("rescued", text, gold, gold, reasks=1),
        ArticleRun("kept in part", text, gold, gold, reasks=1, salvaged=True, records_lost=2,
                   records_ungrounded=1, records_part_grounded=3),
        ArticleRun("invalid", text, gold, None, error="invalid-model-output: x", reasks=1,
                   invalid_output=True),
        ArticleRun("down", text, gold, None, error="upstream-unreachable: x"),
        ArticleRun("skipped", text, gold, None, error="not attempted", attempted=False),
    ]  # fmt: skip
    metrics = score(runs)
    # Of the 5 attempted: 1 with no usable answer (the outage is not the model's), 2 whose
    # answer validated whole; the one kept in part is neither.
    assert metrics["invalid_output_rate"] == 0.2
    assert metrics["valid_output_rate"] == 0.4
    assert metrics["salvaged"] == {"articles": 1, "records_lost": 2}
    assert metrics["dropped_ungrounded"] == {"records": 1, "records_losing_quotes": 3}
    assert metrics["reasks"] == {"total": 3, "articles": 3, "rescued": 1}
    assert metrics["failed_articles"] == 3


def test_results_do_not_depend_on_record_order(bop_fixture: Fixture, text: str) -> None:
    records = list(bop_fixture.gold.records)
    expected = run_with(bop_fixture, text, records)
    rng = random.Random(7)  # noqa: S311 - a test shuffle
    for _ in range(5):
        rng.shuffle(records)
        assert run_with(bop_fixture, text, records) == expected


def test_an_alias_passes_relaxed_and_fails_strict(bop_fixture: Fixture, text: str) -> None:
    records = list(bop_fixture.gold.records)
    index = next(i for i, r in enumerate(records) if isinstance(r, Meeting))
    meeting = records[index]
    assert isinstance(meeting, Meeting)
    first = meeting.participants[0]
    surname = first.canonical_name.split()[-1]
    renamed = first.model_copy(update={"canonical_name": surname, "id": "act-98"})
    records[index] = meeting.model_copy(
        update={"participants": [renamed, *meeting.participants[1:]]}
    )
    metrics = run_with(bop_fixture, text, records)
    assert metrics["fields"]["relaxed"]["f1"] == 1.0
    assert metrics["fields"]["strict"]["fp"] == 1
    assert metrics["fields"]["strict"]["fn"] == 1


def test_a_failed_article_counts_every_gold_record_missed(bop_fixture: Fixture, text: str) -> None:
    metrics = score(
        [ArticleRun(bop_fixture.article_id, text, gold_side(bop_fixture), None, error="boom")]
    )
    assert metrics["failed_articles"] == 1
    assert metrics["records"]["micro"]["recall"] == 0.0
    assert metrics["per_article"][0]["error"] == "boom"


def test_nothing_to_count_is_not_applicable_never_perfect(bop_fixture: Fixture, text: str) -> None:
    empty = Side(records=[], actors=[])
    quiet = score([ArticleRun("x", "Markets were quiet.", empty, empty)])
    assert quiet["records"]["micro"]["f1"] is None
    assert quiet["records"]["macro_f1"] is None
    assert quiet["grounding_rate"] is None
    # A failed article with nothing to find is no success either.
    failed = score([ArticleRun("x", "Markets were quiet.", empty, None, error="boom")])
    assert failed["per_article"][0]["records"]["f1"] is None
    assert failed["records"]["micro"]["f1"] is None
    assert failed["failed_articles"] == 1
    # A type nobody predicted has no precision; its recall is 0; absent types leave macro alone.
    gold = gold_side(bop_fixture)
    meetings_only = Side(
        records=[r for r in gold.records if r.record_type is RecordType.MEETING],
        actors=gold.actors,
    )
    partial = score([ArticleRun(bop_fixture.article_id, text, gold, meetings_only)])
    invitations = partial["records"]["by_type"]["invitation"]
    assert invitations["precision"] is None
    assert invitations["recall"] == 0.0
    assert partial["records"]["by_type"]["meeting"]["f1"] == 1.0
    assert partial["records"]["by_type"]["declaration"]["f1"] == 0.0


def test_the_grounding_rate_counts_every_aligned_quote(bop_fixture: Fixture, text: str) -> None:
    gold = gold_side(bop_fixture)
    first = gold.records[0]
    evidence = first.evidence[0]
    reflowed = evidence.model_copy(
        update={"quote": evidence.quote.upper(), "alignment": "normalized"}
    )
    # A quote the model misspelt, aligned to the span it meant.
    misspelt = evidence.model_copy(
        update={"quote": evidence.quote[:-3] + "xyz", "alignment": Alignment.FUZZY}
    )
    unaligned = Evidence(quote="not in the article", alignment=Alignment.UNALIGNED)
    changed = first.model_copy(update={"evidence": [reflowed, misspelt, unaligned]})
    predicted = Side(records=[changed, *gold.records[1:]], actors=gold.actors)
    metrics = score([ArticleRun(bop_fixture.article_id, text, gold, predicted)])
    total = sum(len(r.evidence) for r in predicted.records)
    assert metrics["grounding_rate"] == round((total - 1) / total, 4)
    assert metrics["evidence_by_alignment"] == {
        "exact": total - 3, "normalized": 1, "fuzzy": 1, "unaligned": 1
    }  # fmt: skip


def _type(record: Record) -> str:
    return type(record).__name__.replace("FundingAsk", "funding_ask").lower()


def test_an_unresolved_date_does_not_match_a_resolved_one(bop_fixture: Fixture, text: str) -> None:
    records = list(bop_fixture.gold.records)
    index = next(i for i, r in enumerate(records) if isinstance(r, Meeting) and r.date)
    meeting = records[index]
    assert meeting.date is not None
    unresolved = DateMention(text=meeting.date.text, unresolved=DateIssue.UNRECOGNIZED)
    records[index] = meeting.model_copy(update={"date": unresolved})
    metrics = run_with(bop_fixture, text, records)
    for mode in ("strict", "relaxed"):
        assert metrics["fields"][mode]["fp"] == 1


def test_another_event_sharing_one_actor_is_not_a_match(bop_fixture: Fixture, text: str) -> None:
    gold = gold_side(bop_fixture)
    davos = next(r for r in gold.records if isinstance(r, Meeting) and r.place == "Davos")
    elsewhere = next(r for r in gold.records if r.record_type is RecordType.INVITATION)
    # Same type and one shared participant, but another passage, place, status and date.
    other_event = davos.model_copy(
        update={
            "participants": davos.participants[:1],
            "place": "Geneva",
            "status": "cancelled",
            "format": "bilateral",
            "date": None,
            "evidence": elsewhere.evidence,
        }
    )
    alone = Side(records=[other_event], actors=gold.actors)
    only_davos = Side(records=[davos], actors=gold.actors)
    metrics = score([ArticleRun(bop_fixture.article_id, text, only_davos, alone)])
    meetings = metrics["records"]["by_type"]["meeting"]
    assert (meetings["tp"], meetings["fp"], meetings["fn"]) == (0, 1, 1)
    # The true prediction of the same event still matches.
    same = score([ArticleRun(bop_fixture.article_id, text, only_davos, only_davos)])
    assert same["records"]["by_type"]["meeting"]["tp"] == 1


def test_macro_f1_leaves_out_a_type_with_neither_gold_nor_predictions(
    bop_fixture: Fixture, text: str
) -> None:
    gold = gold_side(bop_fixture)
    meetings = [r for r in gold.records if r.record_type is RecordType.MEETING]
    only_meetings = Side(records=meetings, actors=gold.actors)
    one_missed = Side(records=meetings[1:], actors=gold.actors)
    metrics = score([ArticleRun(bop_fixture.article_id, text, only_meetings, one_missed)])
    by_type = metrics["records"]["by_type"]
    assert by_type["invitation"]["f1"] is None
    # The mean of the one type present, not of it and three perfect absent ones.
    assert by_type["meeting"]["f1"] == round(2 * 3 / (2 * 3 + 1), 4)
    assert metrics["records"]["macro_f1"] == by_type["meeting"]["f1"]
