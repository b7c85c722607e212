from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from attache.evals.corpus import Article
from attache.pipeline.chunk import split

words = st.lists(
    st.one_of(
        st.text(alphabet="abcdefghij.,", min_size=1, max_size=12),
        st.sampled_from([" ", "\n", "\n    ", "\n\n", ". "]),
    ),
    max_size=400,
).map("".join)


@given(text=words, max_chars=st.integers(1000, 3000), overlap=st.integers(0, 400))
def test_chunks_cover_the_text_in_bounded_overlapping_windows(
    text: str, max_chars: int, overlap: int
) -> None:
    chunks = split(text, max_chars=max_chars, overlap=overlap)
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text)
    for chunk in chunks:
        assert chunk.text == text[chunk.start : chunk.end]
        assert len(chunk.text) <= max_chars
    for before, after in itertools.pairwise(chunks):
        assert after.start > before.start  # progress
        assert after.start <= before.end  # no gap
        assert before.end - after.start <= overlap


def test_short_article_is_one_chunk(board_of_peace: Article) -> None:
    chunks = split(board_of_peace.text, max_chars=16_000, overlap=1000)
    assert len(chunks) == 1
    assert chunks[0].text == board_of_peace.text


def test_wire_story_is_cut_at_paragraph_starts(articles: dict[str, Article]) -> None:
    text = articles["reuters-17953"].text
    chunks = split(text, max_chars=2000, overlap=200)
    assert len(chunks) >= 3
    for chunk in chunks[:-1]:
        # The Reuters wire indents each paragraph: every cut lands just before an indent.
        assert text[chunk.end : chunk.end + 4] == "    "


def test_text_without_whitespace_is_cut_hard() -> None:
    chunks = split("x" * 2500, max_chars=1000, overlap=100)
    assert [len(c.text) for c in chunks] == [1000, 1000, 700]
