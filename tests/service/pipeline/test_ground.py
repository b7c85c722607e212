from __future__ import annotations

import functools
import re
from collections.abc import Callable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from attache.evals.corpus import Article, read_articles
from attache.evals.grounding import sentences
from attache.pipeline.critical import Family, critical
from attache.pipeline.ground import _TYPOGRAPHIC, Aligner, _typography
from attache.schemas import Alignment

Span = tuple[int, int]

BOP = "board-of-peace-2026-01-20"
WIRE = "reuters-5176"


def squash(text: str) -> str:
    return " ".join(text.split())


def occurs(quote: str, text: str) -> bool:
    """Whether a changed quote happens to be true elsewhere in the article, word for word."""
    words = re.compile(r"\w+")
    return " ".join(words.findall(quote)).casefold() in " ".join(words.findall(text)).casefold()


def _cuts(text: str, at: int) -> bool:
    return 0 < at < len(text) and text[at - 1].isalnum() and text[at].isalnum()


LAST_WORD = re.compile(r"(\w+)[^\w.!?;:\n]*$")


def _qualified(text: str, start: int) -> bool:
    """Whether the word before `start`, in its sentence, negates or qualifies what follows."""
    found = LAST_WORD.search(text, 0, start)
    word = critical(found.group(1).casefold()) if found else None
    return word is not None and word.family in {Family.NEGATION, Family.ROLE}


def whole_words(data: st.DataObject, text: str) -> tuple[int, int]:
    """A slice as a model quotes: whole words, not cut off from a qualifier before it."""
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, min(len(text), start + 400)))
    while _cuts(text, start):  # widen a cut word to its edges
        start -= 1
    while _cuts(text, end):
        end += 1
    assume(text[start:end].strip())  # a blank quote is no evidence of anything
    assume(not _qualified(text, start))
    return start, end


@given(data=st.data())
def test_any_slice_of_whole_words_aligns_back_to_exactly_itself(
    data: st.DataObject, articles: dict[str, Article]
) -> None:
    text = articles[data.draw(st.sampled_from(sorted(articles)))].text
    start, end = whole_words(data, text)
    evidence = Aligner(text).align(text[start:end], window=(start, end))
    assert evidence.alignment is Alignment.EXACT
    assert (evidence.start, evidence.end) == (start, end)


@pytest.mark.parametrize(
    ("quote", "why"),
    [
        ("likely to attend the summit", "part of the word 'unlikely'"),
        ("agreed to the plan", "drops the 'not' before it"),
        ("Finance Minister Kiichi Miyazawa said", "drops the 'former' before it"),
        ("ikely to attend", "starts inside a word"),
    ],
)
def test_a_verbatim_piece_that_drops_what_qualifies_it_is_not_grounded(
    quote: str, why: str
) -> None:
    text = (
        "Japan is unlikely to attend the summit. The ministers have not agreed to the plan. "
        "Former Finance Minister Kiichi Miyazawa said talks would go on."
    )
    assert quote in text
    assert Aligner(text).align(quote).alignment is Alignment.UNALIGNED, why
    # Quoted with what qualifies it, the same words ground.
    whole = {"likely": "unlikely", "agreed": "not agreed", "Finance": "Former Finance"}
    fixed = next((quote.replace(k, v, 1) for k, v in whole.items() if quote.startswith(k)), None)
    if fixed is not None:
        assert Aligner(text).align(fixed).alignment is Alignment.EXACT


@given(data=st.data())
def test_reflowed_slices_align_to_the_original_lines(
    data: st.DataObject, articles: dict[str, Article]
) -> None:
    """A model quoting a hard-wrapped wire story joins its lines and drops the indents."""
    text = articles[WIRE].text
    start, end = whole_words(data, text)
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


# A quote that keeps every name and figure but changes the meaning (issue 9, section 2).


def sentence_with(articles: dict[str, Article], article_id: str, phrase: str) -> tuple[str, Span]:
    """The corpus sentence of `article_id` holding `phrase`, as one line, and its span."""
    text = articles[article_id].text
    start, end = next((s, e) for s, e in sentences(text) if phrase in squash(text[s:e]))
    return squash(text[start:end]), (start, end)


def refused(article_id: str, quote: str, articles: dict[str, Article]) -> bool:
    return Aligner(articles[article_id].text).align(quote).alignment is Alignment.UNALIGNED


@pytest.mark.parametrize(
    ("article_id", "phrase", "changed"),
    [
        ("reuters-8473", "did not anticipate", "did anticipate"),
        ("reuters-740", "was no binding", "was binding"),
        ("reuters-359", "did not receive", "did receive"),
        ("reuters-8310", "we don't believe", "we do believe"),
        ("reuters-8121", "can't expect", "can expect"),
    ],
    ids=["not", "no", "not, later in the sentence", "don't", "can't"],
)
def test_a_dropped_negation_is_not_grounded(
    article_id: str, phrase: str, changed: str, articles: dict[str, Article]
) -> None:
    """The article's span holds the negation the quote leaves out: it must match in place too."""
    sentence, _ = sentence_with(articles, article_id, phrase)
    assert refused(article_id, sentence.replace(phrase, changed), articles)


def test_an_added_negation_is_not_grounded(articles: dict[str, Article]) -> None:
    sentence, _ = sentence_with(articles, BOP, "Dmitriev will meet")
    assert refused(BOP, sentence.replace("will meet", "will not meet"), articles)
    assert refused(BOP, sentence.replace("will meet", "will never meet"), articles)


def test_a_spelled_out_contraction_is_still_grounded(articles: dict[str, Article]) -> None:
    sentence, span = sentence_with(articles, "reuters-8310", "we don't believe")
    quote = sentence.replace("don't", "do not")
    evidence = Aligner(articles["reuters-8310"].text).align(quote)
    assert evidence.alignment is Alignment.FUZZY
    assert (evidence.start, evidence.end) == span


@pytest.mark.parametrize(
    ("article_id", "phrase", "changed"),
    [
        ("reuters-3034", "had been unable", "had been able"),
        ("reuters-8121", "it was inconclusive", "it was conclusive"),
        ("reuters-15576", "was inconclusively discussed", "was conclusively discussed"),
        ("reuters-16937", "had been disagreements", "had been agreements"),
        ("reuters-5176", "seem likely", "seem unlikely"),
        ("reuters-740", "no binding time", "no non-binding time"),
        ("reuters-740", "no binding time", "no nonbinding time"),
        ("reuters-13657", "more binding", "more non-binding"),
        ("reuters-6829", "5 billion dlrs", "5 million dlrs"),
        ("reuters-359", "922 mln dlrs", "922 bln dlrs"),
        ("reuters-8310", "34.5 pct", "34.5 points"),
        ("reuters-15048", "Italian acting Finance Minister", "Italian Finance Minister"),
        ("reuters-2878", "paraphrasing former British", "paraphrasing British"),
        ("reuters-17598", "Bundesbank vice-president", "Bundesbank president"),
        ("reuters-4027", "first deputy prime minister", "first prime minister"),
        ("reuters-12718", "invited President Jose Sarney", "invited former President Jose Sarney"),
        ("reuters-15048", "Treasury Secretary James", "Treasury Deputy Secretary James"),
    ],
    ids=[
        "unable-able", "inconclusive-conclusive", "inconclusively-conclusively",
        "disagreements-agreements", "likely-unlikely", "binding-non-binding",
        "binding-nonbinding", "binding-non-binding, last word",
        "billion-million", "mln-bln", "pct-points",
        "acting dropped", "former dropped", "vice dropped", "deputy dropped", "former added",
        "Deputy added",
    ],
)  # fmt: skip
def test_an_antonym_prefix_a_magnitude_or_a_role_qualifier_changed_is_not_grounded(
    article_id: str, phrase: str, changed: str, articles: dict[str, Article]
) -> None:
    sentence, _ = sentence_with(articles, article_id, phrase)
    assert refused(article_id, sentence.replace(phrase, changed), articles)


@pytest.mark.parametrize(
    ("phrase", "changed"),
    [
        (
            "tea exports and oil and fertiliser imports",
            "tea imports and oil and fertiliser exports",
        ),
        ("tea exports", "tea imports"),
        ("fertiliser imports", "fertiliser exports"),
    ],
    ids=["swapped", "exports->imports", "imports->exports"],
)
def test_a_swapped_trade_direction_is_not_grounded(
    phrase: str, changed: str, articles: dict[str, Article]
) -> None:
    """The sentence has both words: each must match in place, not merely occur in the span."""
    sentence, _ = sentence_with(articles, "reuters-1723", phrase)
    assert refused("reuters-1723", sentence.replace(phrase, changed), articles)


@pytest.mark.parametrize(
    ("word", "opposite"),
    [("rise", "fall"), ("higher", "lower"), ("after", "before"), ("before", "after")],
)
def test_a_swapped_direction_or_comparison_is_not_grounded(
    word: str, opposite: str, articles: dict[str, Article]
) -> None:
    """Every corpus sentence with `word`, the word swapped for its opposite."""
    tried = 0
    for article_id, article in articles.items():
        for start, end in sentences(article.text):
            sentence = squash(article.text[start:end])
            quote = re.sub(rf"\b{word}\b", opposite, sentence, count=1)
            if quote != sentence and not occurs(quote, article.text):
                tried += 1
                assert refused(article_id, quote, articles), quote
    assert tried >= 5


@pytest.mark.parametrize(
    ("article_id", "phrase", "changed"),
    [
        (BOP, "two days of talks", "two days of talk"),
        ("reuters-1723", "tea exports", "tea export"),
        ("reuters-6829", "5 billion dlrs", "5 billions dlrs"),
        ("reuters-8473", "did not anticipate", "did not anticipated"),
    ],
    ids=["talks-talk", "exports-export", "billion-billions", "anticipate-anticipated"],
)
def test_an_inflection_still_grounds_even_of_a_critical_word(
    article_id: str, phrase: str, changed: str, articles: dict[str, Article]
) -> None:
    sentence, span = sentence_with(articles, article_id, phrase)
    evidence = Aligner(articles[article_id].text).align(sentence.replace(phrase, changed))
    assert evidence.alignment is Alignment.FUZZY
    assert (evidence.start, evidence.end) == span


def test_a_quote_without_its_punctuation_and_its_not_is_not_grounded(
    articles: dict[str, Article],
) -> None:
    """Reduced to words, a quote must run word for word as in the article: no dropped "not"."""
    sentence, _ = sentence_with(articles, "reuters-8473", "did not anticipate")
    assert refused("reuters-8473", re.sub(r"[,.]", "", sentence.replace(" not", "")), articles)


# Each class of change, on any corpus sentence that has a word of it.
ANTONYMS = {
    "able": "unable", "likely": "unlikely", "agreed": "disagreed", "binding": "non-binding",
    "conclusive": "inconclusive", "expected": "unexpected", "possible": "impossible",
    "legal": "illegal", "formal": "informal", "changed": "unchanged", "certain": "uncertain",
    "stable": "unstable", "acceptable": "unacceptable", "sufficient": "insufficient",
}  # fmt: skip
OPPOSITES = {
    "rise": "fall", "rose": "fell", "higher": "lower", "before": "after", "earlier": "later",
    "imports": "exports", "import": "export", "surplus": "deficit", "up": "down", "more": "less",
    "above": "below", "increase": "decrease", "bought": "sold",
}  # fmt: skip
MAGNITUDES = {"million": "billion", "mln": "bln", "thousand": "million", "trillion": "billion"}


def both_ways(table: dict[str, str]) -> dict[str, str]:
    return {**{v: k for k, v in table.items()}, **table}


def swap(table: dict[str, str]) -> tuple[str, Callable[[re.Match[str]], str]]:
    words = both_ways(table)
    pattern = r"\b(?:" + "|".join(sorted(words, key=len, reverse=True)) + r")\b"
    return pattern, lambda m: words[m.group()]


CHANGES: dict[str, tuple[str, Callable[[re.Match[str]], str]]] = {
    "negation dropped": (r" (?:not|no|never)\b", lambda _m: ""),
    "contraction undone": (r"\b(do|does|did|is|was|are|were|has|have|had|could|would)n't\b",
                           lambda m: m.group(1)),
    "negation added": (r"\b(?:is|was|are|were|will|would|could|should|has|have|had)\b"
                       r"(?! not\b| never\b|n't)", lambda m: m.group() + " not"),
    "antonym prefix": swap(ANTONYMS),
    "magnitude": swap(MAGNITUDES),
    "direction": swap(OPPOSITES),
    "role qualifier dropped": (r"\b(?:[Ff]ormer|[Dd]eputy|[Vv]ice|[Aa]cting)[ -]", lambda _m: ""),
    "role qualifier added": (r"\b(?:[Mm]inister|[Pp]resident|[Cc]hairman|[Ss]ecretary)\b",
                             lambda m: "former " + m.group()),
}  # fmt: skip


@functools.cache
def changes(name: str) -> list[tuple[str, str]]:
    """(article id, changed sentence) for each occurrence of the change's words in the corpus."""
    pattern, replace = CHANGES[name]
    found = []
    for article_id, article in read_articles().items():
        for start, end in sentences(article.text):
            sentence = squash(article.text[start:end])
            for match in re.finditer(pattern, sentence):
                quote = squash(sentence[: match.start()] + replace(match) + sentence[match.end() :])
                if not occurs(quote, article.text):
                    found.append((article_id, quote))
    return found


@pytest.mark.parametrize("name", CHANGES)
@given(data=st.data())
def test_no_change_of_meaning_is_grounded(
    name: str, data: st.DataObject, articles: dict[str, Article]
) -> None:
    article_id, quote = data.draw(st.sampled_from(changes(name)))
    assert refused(article_id, quote, articles)


@given(data=st.data())
def test_a_changed_ending_still_grounds_the_sentence(
    data: st.DataObject, articles: dict[str, Article]
) -> None:
    article_id = data.draw(st.sampled_from(sorted(articles)))
    text = articles[article_id].text
    start, end = data.draw(st.sampled_from(sentences(text)))
    words = text[start:end].split()
    plain = [
        i for i in range(2, len(words) - 1)
        if words[i].isalpha() and words[i].islower() and len(words[i]) > 4
    ]  # fmt: skip
    assume(len(words) >= 8 and plain)
    i = data.draw(st.sampled_from(plain))
    words[i] = words[i][:-1] if words[i].endswith("s") else words[i] + "s"
    evidence = Aligner(text).align(" ".join(words))
    assert evidence.alignment is Alignment.FUZZY
    assert (evidence.start, evidence.end) == (start, end)


# The span of a fuzzy or reduced quote.


def test_a_fuzzy_span_does_not_start_at_an_earlier_copy_of_its_first_words(
    articles: dict[str, Article],
) -> None:
    """The article reads "... he said.\\n    He said he was happy ...": the quote is the second."""
    sentence, span = sentence_with(articles, "reuters-16937", "He said he was happy")
    evidence = Aligner(articles["reuters-16937"].text).align(sentence.replace("donor ", ""))
    assert evidence.alignment is Alignment.FUZZY
    assert (evidence.start, evidence.end) == span


def test_an_ellipsis_quote_starts_at_the_copy_of_its_first_piece_nearest_the_next(
    articles: dict[str, Article],
) -> None:
    text = articles["reuters-1796"].text
    first = text.index("Sporck said the")
    second = text.index("Sporck said the", first + 1)
    evidence = Aligner(text).align("Sporck said the ... ready by June 1.")
    assert evidence.alignment is Alignment.NORMALIZED
    assert (evidence.start, evidence.end) == (second, text.index("June 1.") + len("June 1."))


@pytest.mark.parametrize(
    ("quote", "alignment"),
    [
        ("The official refused to comment, however, on whether the agreement included a pact "
         "to consider further coordinated interest rate cuts --", Alignment.FUZZY),
        ("The official refused to comment however on whether the agreement included a secret "
         "pact to consider further coordinated interest rate cuts --", Alignment.NORMALIZED),
        ("The official refused to comment however on whether the agreement included a secret "
         "pact to consider further coordinated interest rate cuts \u2014", Alignment.NORMALIZED),
    ],
    ids=["fuzzy", "reduced to words", "em dash for two hyphens"],
)  # fmt: skip
def test_a_closing_dash_is_part_of_the_span(
    quote: str, alignment: Alignment, articles: dict[str, Article]
) -> None:
    text = articles["reuters-5176"].text
    evidence = Aligner(text).align(quote)
    assert evidence.alignment is alignment
    assert evidence.start == text.index("The official refused")
    assert evidence.end == text.index("rate cuts --") + len("rate cuts --")


@given(
    st.lists(
        st.sampled_from(
            [*"ab1,. \t\n-'\u00e9", "not", "former", "55,000", "U.S.", "x" * 70, "1,000" * 20]
        )
    ).map("".join),
    st.data(),
)
def test_the_word_before_a_span_is_the_one_the_article_index_holds(
    text: str, data: st.DataObject
) -> None:
    """Read from the text just before the span, it is the last indexed word ending there."""
    at = data.draw(st.integers(0, len(text)))
    aligner = Aligner(text)
    read = aligner._word_before(at)  # no index yet: read from the text
    words = aligner._words
    indexed = [i for i, end in enumerate(words.ends) if end <= at]
    expected = (words.ends[indexed[-1]], words.keys[indexed[-1]]) if indexed else None
    assert read == expected
    assert aligner._word_before(at) == expected  # from the index, now built


@pytest.mark.parametrize(
    ("text", "at", "before"),
    [
        ("a " + "x" * 70, 66, (1, "a")),  # a word longer than the look-back window spans `at`
        ("not " + "y" * 200, 150, (3, "not")),
        ("x" * 100, 50, None),
        ("", 0, None),
    ],
)
def test_the_word_before_is_found_past_a_word_longer_than_the_window(
    text: str, at: int, before: tuple[int, str] | None
) -> None:
    assert Aligner(text)._word_before(at) == before


@given(st.text(alphabet=st.sampled_from([*_TYPOGRAPHIC, *"ab \u00e9\u2026'\"-"])))
def test_typography_folds_each_character_as_its_table_says(text: str) -> None:
    assert _typography(text) == "".join(_TYPOGRAPHIC.get(c, c) for c in text)
