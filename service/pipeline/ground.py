"""Find each evidence quote in the article and give it a character span.

Two strategies, strictest first:

- exact: the quote occurs verbatim;
- normalized: it occurs once whitespace runs (line breaks and wire indents included) collapse
  to one space and typographic quotes, apostrophes and dashes fold to their ASCII forms.

Spans are Python string indices into the original text (code points, end exclusive). Among
several occurrences, the one inside the chunk the quote came from wins, then the first.
"""

from __future__ import annotations

import re

from schemas import Alignment, Evidence

# Typographic characters models swap for ASCII ones, by code point so the table is unambiguous.
_FOLD = str.maketrans(
    {
        **dict.fromkeys("\u201c\u201d\u201e\u00ab\u00bb", '"'),  # curly and guillemet quotes
        **dict.fromkeys("\u2018\u2019\u201a", "'"),  # curly single quotes, apostrophe
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-"),  # hyphens, dashes, minus
    }
)
_SPACE = re.compile(r"\s+")


class Aligner:
    """Aligns quotes against one article; build once per article, call per quote."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._folded, self._origin = _fold(text)

    def align(self, quote: str, *, window: tuple[int, int] | None = None) -> Evidence:
        if not quote.strip():
            return Evidence(quote=quote, alignment=Alignment.UNALIGNED)
        lo, hi = window if window is not None else (0, len(self.text))
        span = _find(self.text, quote, lo, hi)
        if span is not None:
            return Evidence(quote=quote, start=span[0], end=span[1], alignment=Alignment.EXACT)
        folded_quote = _SPACE.sub(" ", quote.translate(_FOLD)).strip()
        if folded_quote:
            folded_span = _find(
                self._folded, folded_quote, self._folded_index(lo), self._folded_index(hi)
            )
            if folded_span is not None:
                start = self._origin[folded_span[0]]
                end = self._origin[folded_span[1] - 1] + 1
                return Evidence(quote=quote, start=start, end=end, alignment=Alignment.NORMALIZED)
        return Evidence(quote=quote, alignment=Alignment.UNALIGNED)

    def _folded_index(self, original: int) -> int:
        # First folded position whose origin is at or after `original`.
        lo, hi = 0, len(self._origin)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._origin[mid] < original:
                lo = mid + 1
            else:
                hi = mid
        return lo


def _find(haystack: str, needle: str, lo: int, hi: int) -> tuple[int, int] | None:
    """The occurrence inside [lo, hi) if there is one, else the first anywhere."""
    at = haystack.find(needle, lo, hi)
    if at < 0:
        at = haystack.find(needle)
    return (at, at + len(needle)) if at >= 0 else None


def _fold(text: str) -> tuple[str, list[int]]:
    """Fold `text` and record, for each folded character, its index in `text`."""
    folded: list[str] = []
    origin: list[int] = []
    for match in re.finditer(r"\s+|\S+", text):
        if match.group().isspace():
            if folded:  # leading whitespace folds away entirely
                folded.append(" ")
                origin.append(match.start())
            continue
        piece = match.group().translate(_FOLD)
        folded.extend(piece)
        origin.extend(range(match.start(), match.end()))
    if folded and folded[-1] == " ":
        folded.pop()
        origin.pop()
    return "".join(folded), origin
