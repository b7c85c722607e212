from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from attache.evals.corpus import Article
from attache.pipeline.ground import Aligner
from attache.schemas import Alignment

BOP = "board-of-peace-2026-01-20"
WIRE = "reuters-5176"


def squash(text: str) -> str:
    return " ".join(text.split())


@given(data=st.data())
def test_any_slice_aligns_back_to_exactly_itself(
    data: st.DataObject, articles: dict[str, Article]
) -> None:
    text = articles[data.draw(st.sampled_from(sorted(articles)))].text
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, min(len(text), start + 400)))
    assume(text[start:end].strip())  # a blank quote is no evidence of anything
    evidence = Aligner(text).align(text[start:end], window=(start, end))
    assert evidence.alignment is Alignment.EXACT
    assert (evidence.start, evidence.end) == (start, end)


@given(data=st.data())
def test_reflowed_slices_align_to_the_original_lines(
    data: st.DataObject, articles: dict[str, Article]
) -> None:
    """A model quoting a hard-wrapped wire story joins its lines and drops the indents."""
    text = articles[WIRE].text
    start = data.draw(st.integers(0, len(text) - 2))
    end = data.draw(st.integers(start + 1, min(len(text), start + 400)))
    quote = squash(text[start:end])
    assume(quote and quote != text[start:end] and quote not in text)
    evidence = Aligner(text).align(quote, window=(start, end))
    assert evidence.alignment is Alignment.NORMALIZED
    assert evidence.start is not None
    assert evidence.end is not None
    assert 0 <= evidence.start < evidence.end <= len(text)
    assert squash(text[evidence.start : evidence.end]) == quote


def test_straight_quotes_find_curly_ones(articles: dict[str, Article]) -> None:
    text = articles[BOP].text
    quote = 'to join the Gaza "Board of Peace," an initiative'
    evidence = Aligner(text).align(quote)
    assert evidence.alignment is Alignment.NORMALIZED
    assert evidence.start is not None
    assert text[evidence.start : evidence.end] == "to join the Gaza “Board of Peace,” an initiative"


def test_a_repeated_phrase_maps_to_the_occurrence_in_its_window(
    articles: dict[str, Article],
) -> None:
    text = articles[BOP].text
    phrase = "Witkoff and Kushner"
    first = text.index(phrase)
    second = text.index(phrase, first + 1)
    aligner = Aligner(text)
    assert aligner.align(phrase).start == first
    assert aligner.align(phrase, window=(second - 50, len(text))).start == second


@pytest.mark.parametrize(
    "quote",
    [
        "Dmitriev will meet members of the UK delegation",  # a changed entity
        "a contribution of USD2 billion from any country",  # a changed figure
        "Putin accepted the invitation",  # not in the article at all
    ],
)
def test_text_not_in_the_article_is_unaligned(quote: str, articles: dict[str, Article]) -> None:
    evidence = Aligner(articles[BOP].text).align(quote)
    assert evidence.alignment is Alignment.UNALIGNED
    assert evidence.start is None
    assert evidence.end is None


def test_whitespace_only_quote_is_unaligned() -> None:
    assert Aligner("some   text").align("   ").alignment is Alignment.UNALIGNED


DAVOS = (
    "Dmitriev will meet members of the US delegation, including Trump envoys Steve Witkoff "
    "and Jared Kushner, on 20 January, to continue discussions on resolving the ongoing "
    "conflict in Ukraine."
)


@pytest.mark.parametrize(
    ("quote", "alignment"),
    [
        (DAVOS, Alignment.EXACT),
        (DAVOS.lower(), Alignment.NORMALIZED),
        (DAVOS.replace(",", ""), Alignment.NORMALIZED),
        (
            "Dmitriev will meet members of the US delegation ... to continue discussions on "
            "resolving the ongoing conflict in Ukraine.",
            Alignment.NORMALIZED,
        ),
        (DAVOS.replace("the ongoing ", ""), Alignment.FUZZY),
        (DAVOS.replace("discussions", "discussion"), Alignment.FUZZY),
    ],
    ids=["exact", "lowercased", "no commas", "ellipsis", "word dropped", "inflected"],
)
def test_perturbed_quotes_align_to_the_sentence(
    quote: str, alignment: Alignment, articles: dict[str, Article]
) -> None:
    text = articles[BOP].text
    evidence = Aligner(text).align(quote)
    assert evidence.alignment is alignment
    assert (evidence.start, evidence.end) == (text.index(DAVOS), text.index(DAVOS) + len(DAVOS))


@pytest.mark.parametrize(
    "quote",
    [
        DAVOS.replace("Witkoff", "Pompeo"),
        DAVOS.replace("20 January", "21 January"),
        DAVOS.replace("will meet", "refused to meet"),
        DAVOS.replace("US delegation", "UK delegation"),
    ],
    ids=["name", "date", "verb", "country"],
)
def test_a_changed_detail_is_not_grounded_even_as_fuzzy(
    quote: str, articles: dict[str, Article]
) -> None:
    assert Aligner(articles[BOP].text).align(quote).alignment is Alignment.UNALIGNED


def test_an_ambiguous_quote_takes_the_occurrence_near_its_record(
    articles: dict[str, Article],
) -> None:
    text = articles[BOP].text
    later = "From the US side, Trump\u2019s envoys Witkoff and Kushner attended"
    evidence = Aligner(text).align_record([later, "Witkoff and Kushner"])
    assert evidence[1].start == text.index("Witkoff and Kushner", text.index(later))
    assert evidence[1].start != text.index("Witkoff and Kushner")


@given(data=st.data())
def test_spans_always_index_the_original_text(
    data: st.DataObject, articles: dict[str, Article]
) -> None:
    text = articles[data.draw(st.sampled_from(sorted(articles)))].text
    lines = [line for line in text.split("\n") if line]
    quote = data.draw(st.text(min_size=1, max_size=80) | st.sampled_from(lines))
    evidence = Aligner(text).align(quote)
    if evidence.start is not None and evidence.end is not None:
        assert 0 <= evidence.start < evidence.end <= len(text)
        assert text[evidence.start : evidence.end].strip()
