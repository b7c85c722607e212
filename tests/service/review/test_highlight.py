"""The article cut into runs for highlighting: every character once, with exactly the records
whose evidence covers it, however spans overlap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from attache.review.highlight import runs
from attache.schemas import Meeting, Record
from attache.schemas.common import Alignment, Evidence

TEXT = "Putin met Trump in Davos. They agreed to meet again in Paris next month."


def _meeting(number: int, spans: list[tuple[int, int]]) -> Meeting:
    return Meeting.model_validate(
        {
            "id": f"mtg-{number}",
            "participants": [{"id": "act-1", "name": "Putin", "canonical_name": "Vladimir Putin",
                              "kind": "person"}],
            "status": "held",
            "evidence": [
                {"quote": TEXT[s:e], "start": s, "end": e, "alignment": "exact"} for s, e in spans
            ] or [{"quote": "not in the article", "alignment": "unaligned"}],
        }
    )  # fmt: skip


spans = st.lists(
    st.tuples(st.integers(0, len(TEXT) - 1), st.integers(1, len(TEXT))).filter(
        lambda span: span[0] < span[1]
    ),
    max_size=3,
)


@given(st.lists(spans, max_size=5))
def test_runs_cover_the_text_once_each_marked_by_exactly_the_records_covering_it(
    per_record: list[list[tuple[int, int]]],
) -> None:
    records: list[Record] = [_meeting(n, s) for n, s in enumerate(per_record, start=1)]
    cut = runs(TEXT, records)
    assert "".join(run.text for run in cut) == TEXT
    assert [run.start for run in cut] == [0, *(run.end for run in cut[:-1])]
    for run in cut:
        assert run.text
        assert TEXT[run.start : run.end] == run.text
        for at in range(run.start, run.end):
            covering = [
                f"mtg-{n}"
                for n, s in enumerate(per_record, start=1)
                if any(start <= at < end for start, end in s)
            ]
            assert list(run.records) == covering


def test_quotes_without_a_span_mark_nothing() -> None:
    unaligned = Meeting.model_validate(
        {**_meeting(1, []).model_dump(), "evidence": [
            Evidence(quote="Putin met Trump", alignment=Alignment.UNALIGNED)]}
    )  # fmt: skip
    [run] = runs(TEXT, [unaligned])
    assert (run.text, run.records) == (TEXT, ())


def test_an_overlap_of_two_types_is_one_run_with_both() -> None:
    meeting = _meeting(1, [(0, 25)])
    declaration = _meeting(2, [(10, 40)])
    cut = runs(TEXT, [meeting, declaration])
    assert [(r.start, r.end, r.records) for r in cut] == [
        (0, 10, ("mtg-1",)),
        (10, 25, ("mtg-1", "mtg-2")),
        (25, 40, ("mtg-2",)),
        (40, len(TEXT), ()),
    ]
