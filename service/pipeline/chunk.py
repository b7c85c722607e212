"""Split an article into overlapping windows that each fit one model call."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Boundaries to cut at, best first: a blank line, a wire-style indented paragraph start, the end
# of a sentence, any whitespace.
_BOUNDARIES = (
    re.compile(r"\n[ \t]*\n"),
    re.compile(r"\n(?=[ \t])"),
    re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'\u201d\u2019)]))\s"),
    re.compile(r"\s"),
)


@dataclass(frozen=True)
class Chunk:
    """A window of the article; `start` is its offset in the whole text."""

    start: int
    text: str

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def split(text: str, *, max_chars: int, overlap: int) -> list[Chunk]:
    """Cover `text` with windows of at most `max_chars`, consecutive ones sharing `overlap`.

    Cuts fall on the best boundary in the second half of a window, so no sentence is cut where
    a paragraph break is at hand; a text with no whitespace at all is cut hard.
    """
    if not 0 <= overlap * 2 < max_chars:
        raise ValueError("overlap must be under half of max_chars")
    chunks: list[Chunk] = []
    start = 0
    while len(text) - start > max_chars:
        cut = _best_cut(text, start + max_chars // 2, start + max_chars)
        chunks.append(Chunk(start, text[start:cut]))
        start = _next_start(text, cut - overlap, cut)
    chunks.append(Chunk(start, text[start:]))
    return chunks


def _best_cut(text: str, lo: int, hi: int) -> int:
    for boundary in _BOUNDARIES:
        matches = list(boundary.finditer(text, lo, hi))
        if matches:
            return matches[-1].end()
    return hi


def _next_start(text: str, lo: int, cut: int) -> int:
    # Start the overlap at a word boundary so the model never sees half a word first.
    match = re.compile(r"\s").search(text, lo, cut)
    return match.end() if match else lo
