"""Find each evidence quote in the article and give it a character span.

Strategies, strictest first; the first that finds the quote decides its `alignment`:

1. exact: the quote occurs verbatim.
2. normalized: it occurs once the article and the quote are both
   - folded: runs of whitespace (line breaks and wire indents included) become one space, and
     typographic quotes, apostrophes and dashes become ASCII; then also case-folded;
   - or reduced to their words, which survives dropped or changed punctuation;
   - or, for a quote joined by an ellipsis (`...`, `…`), each piece is found in order, each within
     `MAX_ELLIPSIS_GAP` characters of the one before; the span runs from the first to the last.
3. fuzzy: word-level alignment (longest common subsequence of words, via rapidfuzz) over a
   window seeded by a word pair the two share, accepted when all of these hold:
   - at least `FUZZY_MIN_COVERAGE` of the quote's words appear, in order, in the span;
   - matched words make up at least `FUZZY_MIN_DENSITY` of the span's words;
   - every *critical* word of the quote (one with a digit, or capitalized past its first word)
     is matched in place, spelled the same: a quote that changes a name or a figure is not
     grounded, even when the new name or figure occurs nearby;
   - every other quote word missing from the span is a function word or a close variant
     (rapidfuzz ratio >= `FUZZY_VARIANT_RATIO`) of a span word: inflection and typos pass, a
     different verb does not.
4. unaligned: no span.

Spans are Python string indices into the original text (code points, end exclusive). When a
quote occurs several times, the occurrence nearest the record's other evidence wins (the
record's `anchor`), then the first inside the chunk the quote came from, then the first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq

from attache.schemas import Alignment, Evidence

FUZZY_MIN_COVERAGE = 0.8
FUZZY_MIN_DENSITY = 0.7
FUZZY_VARIANT_RATIO = 80.0
FUZZY_MIN_WORDS = 4
MAX_ELLIPSIS_GAP = 600

Span = tuple[int, int]

# Typographic characters models swap for ASCII ones, by code point so the table is unambiguous.
_FOLD = str.maketrans(
    {
        **dict.fromkeys("\u201c\u201d\u201e\u00ab\u00bb", '"'),  # curly and guillemet quotes
        **dict.fromkeys("\u2018\u2019\u201a", "'"),  # curly single quotes, apostrophe
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-"),  # hyphens, dashes, minus
    }
)
_SPACE = re.compile(r"\s+")
_EDGE_PUNCTUATION = "\"'()[].,;:!?-"
# A word, or a number with its thousands separators and decimals kept whole ("55,000" == "55000").
_WORD = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\w+")
_ELLIPSIS = re.compile(r"\s*(?:\[\s*(?:\.\.\.|\u2026)\s*\]|\.\.\.|\u2026)\s*")
# Words a model may drop or swap without changing what a quote attests.
_FUNCTION_WORDS = frozenset({
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "by", "with", "from", "and", "or",
    "but", "as", "is", "are", "was", "were", "be", "been", "has", "have", "had", "will",
    "would", "that", "this", "these", "those", "it", "its", "their", "his", "her", "which",
    "who", "whom", "than", "then", "also", "said", "says",
})  # fmt: skip


@dataclass(frozen=True)
class _Word:
    key: str  # case-folded
    start: int
    end: int


def _key(word: str) -> str:
    return word.replace(",", "").casefold()


def _fold_char(char: str) -> str:
    lower = char.casefold()
    # Keep a 1:1 character mapping: a few characters case-fold to two ("ß" -> "ss").
    return lower if len(lower) == 1 else char


class Aligner:
    """Aligns quotes against one article; build once per article, then call per record."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._folded, self._origin = _fold(text)
        self._caseless = "".join(map(_fold_char, self._folded))
        self._words = [_Word(_key(m.group()), m.start(), m.end()) for m in _WORD.finditer(text)]
        self._keys = [w.key for w in self._words]
        self._positions: dict[str, list[int]] = {}
        for index, key in enumerate(self._keys):
            self._positions.setdefault(key, []).append(index)
        # The re-ask check and the merge stage both ask about the same quotes.
        self._found: dict[str, tuple[Alignment, list[Span]]] = {}

    def align(
        self, quote: str, *, window: Span | None = None, anchor: int | None = None
    ) -> Evidence:
        """Align one quote; `window` is the chunk it came from, `anchor` where its record is."""
        alignment, spans = self.candidates(quote)
        if not spans:
            return Evidence(quote=quote, alignment=Alignment.UNALIGNED)
        start, end = _choose(spans, window, anchor)
        return Evidence(quote=quote, start=start, end=end, alignment=alignment)

    def align_record(self, quotes: Sequence[str], *, window: Span | None = None) -> list[Evidence]:
        """Align a record's quotes; an ambiguous quote takes the occurrence nearest the others."""
        found = [self.candidates(q) for q in quotes]
        fixed = [spans[0][0] for _, spans in found if len(spans) == 1]
        anchor = round(sum(fixed) / len(fixed)) if fixed else None
        return [self.align(q, window=window, anchor=anchor) for q in quotes]

    def candidates(self, quote: str) -> tuple[Alignment, list[Span]]:
        """Every span the strictest successful strategy finds, in article order."""
        if quote not in self._found:
            self._found[quote] = self._search(quote)
        return self._found[quote]

    def _search(self, quote: str) -> tuple[Alignment, list[Span]]:
        if not quote.strip():
            return Alignment.UNALIGNED, []
        spans = _all(self.text, quote)
        if spans:
            return Alignment.EXACT, spans
        spans = self._normalized(quote)
        if spans:
            return Alignment.NORMALIZED, spans
        pieces = [p for p in _ELLIPSIS.split(quote) if _WORD.search(p)]
        if len(pieces) > 1:
            spans = self._joined(pieces)
            if spans:
                return Alignment.NORMALIZED, spans
        spans = self._fuzzy(quote)
        if spans:
            return Alignment.FUZZY, spans
        return Alignment.UNALIGNED, []

    def _normalized(self, quote: str) -> list[Span]:
        folded = _SPACE.sub(" ", quote.translate(_FOLD)).strip()
        for haystack, needle in (
            (self._folded, folded),
            (self._caseless, "".join(map(_fold_char, folded))),
        ):
            hits = _all(haystack, needle)
            if hits:
                return [(self._origin[a], self._origin[b - 1] + 1) for a, b in hits]
        return [
            self._widen(s, quote) for s in self._word_run([_key(w) for w in _WORD.findall(quote)])
        ]

    def _word_run(self, keys: list[str]) -> list[Span]:
        if not keys:
            return []
        n = len(keys)
        return [
            (self._words[i].start, self._words[i + n - 1].end)
            for i in self._positions.get(keys[0], [])
            if self._keys[i : i + n] == keys
        ]

    def _joined(self, pieces: list[str]) -> list[Span]:
        spans: list[Span] = []
        for first in self._piece(pieces[0]):
            start, end = first
            for piece in pieces[1:]:
                following = [s for s in self._piece(piece) if end <= s[0] <= end + MAX_ELLIPSIS_GAP]
                if not following:
                    break
                end = following[0][1]
            else:
                spans.append((start, end))
        return spans

    def _piece(self, piece: str) -> list[Span]:
        return _all(self.text, piece.strip()) or self._normalized(piece)

    def _fuzzy(self, quote: str) -> list[Span]:
        words = _WORD.findall(quote)
        keys = [_key(w) for w in words]
        if len(keys) < FUZZY_MIN_WORDS:
            return []
        critical = {
            index
            for index, word in enumerate(words)
            if any(c.isdigit() for c in word) or (index > 0 and word[0].isupper())
        }
        spans: list[Span] = []
        for origin in self._seeds(keys):
            span = self._fuzzy_at(keys, critical, origin)
            if span is not None and span not in spans:
                spans.append(self._widen(span, quote))
        return sorted(spans)

    def _widen(self, span: Span, quote: str) -> Span:
        """Take in the punctuation the quote opens or closes with (a quote mark, a full stop)
        when the article has it right there too: word matching alone leaves it out."""
        start, end = span
        quote = quote.strip().translate(_FOLD)
        lead = len(quote) - len(quote.lstrip(_EDGE_PUNCTUATION))
        if lead and self.text[max(0, start - lead) : start].translate(_FOLD) == quote[:lead]:
            start -= lead
        trail = len(quote) - len(quote.rstrip(_EDGE_PUNCTUATION))
        if trail and self.text[end : end + trail].translate(_FOLD) == quote[len(quote) - trail :]:
            end += trail
        return start, end

    def _seeds(self, keys: list[str]) -> list[int]:
        """Where the quote would start in the article, voted by the word pairs the two share."""
        votes: Counter[int] = Counter()
        for i in range(len(keys) - 1):
            for j in self._positions.get(keys[i], []):
                if j + 1 < len(self._keys) and self._keys[j + 1] == keys[i + 1]:
                    votes[j - i] += 1
        # Nearby origins are one alignment seen through a dropped or added word: keep the
        # best-supported origin of each run.
        seeds: list[int] = []
        run: list[int] = []
        for origin in sorted(votes):
            if run and origin - run[-1] > len(keys) // 2:
                seeds.append(max(run, key=votes.__getitem__))
                run = []
            run.append(origin)
        if run:
            seeds.append(max(run, key=votes.__getitem__))
        return seeds

    def _fuzzy_at(self, keys: list[str], critical: set[int], origin: int) -> Span | None:
        slack = max(3, len(keys) // 3)
        pairs = self._matches(keys, origin - slack, origin + len(keys) + slack)
        if pairs:
            # LCS breaks ties arbitrarily, and in a wide window a tie can pick a far-off copy of
            # a word; aligning again in the window the first pass found keeps the match compact.
            pairs = self._matches(keys, pairs[0][1] - 2, pairs[-1][1] + 3)
        if len(pairs) < FUZZY_MIN_COVERAGE * len(keys):
            return None
        first, last = pairs[0][1], pairs[-1][1]
        if len(pairs) < FUZZY_MIN_DENSITY * (last - first + 1):
            return None
        matched_quote = {q for q, _ in pairs}
        # A name or a figure must be matched in place, not merely occur somewhere nearby.
        if not critical <= matched_quote:
            return None
        span_keys = self._keys[first : last + 1]
        for index, key in enumerate(keys):
            if index in matched_quote or key in _FUNCTION_WORDS:
                continue
            if not any(fuzz.ratio(key, other) >= FUZZY_VARIANT_RATIO for other in span_keys):
                return None
        return self._words[first].start, self._words[last].end

    def _matches(self, keys: list[str], lo: int, hi: int) -> list[tuple[int, int]]:
        """(quote word, article word) pairs of the LCS of `keys` and article words [lo, hi)."""
        lo, hi = max(0, lo), min(len(self._keys), hi)
        pairs: list[tuple[int, int]] = []
        for op in LCSseq.opcodes(keys, self._keys[lo:hi]):
            if op.tag == "equal":
                quote_words = range(op.src_start, op.src_end)
                pairs.extend(
                    zip(quote_words, range(lo + op.dest_start, lo + op.dest_end), strict=True)
                )
        # A lone match across a gap at either end is chance, not where the quote begins or ends;
        # the word it stood for may still match right next to the rest.
        while len(pairs) > 1 and _stray(pairs[0], pairs[1]):
            pairs.pop(0)
        while len(pairs) > 1 and _stray(pairs[-2], pairs[-1]):
            pairs.pop()
        if pairs:
            q, j = pairs[0]
            while q > 0 and j > 0 and keys[q - 1] == self._keys[j - 1]:
                q, j = q - 1, j - 1
                pairs.insert(0, (q, j))
            q, j = pairs[-1]
            while (
                q + 1 < len(keys) and j + 1 < len(self._keys) and keys[q + 1] == self._keys[j + 1]
            ):
                q, j = q + 1, j + 1
                pairs.append((q, j))
        return pairs


def _stray(before: tuple[int, int], after: tuple[int, int]) -> bool:
    """Two matched pairs that sit further apart in the article than in the quote, by more than
    one word: the edge one is a chance match, not where the quote begins or ends."""
    return (after[1] - before[1]) - (after[0] - before[0]) > 1


class ReaskUnaligned:
    """An `EvidenceCheck` that sends unaligned quotes back to the model, `budget` times at most.

    Once the budget is spent it accepts the answer as it is; the merge stage then drops (or
    flags) what is still unaligned. One instance serves one model call.
    """

    def __init__(self, aligner: Aligner, budget: int) -> None:
        self._aligner = aligner
        self._budget = budget

    def __call__(self, quotes: Sequence[str], /) -> list[str]:
        if self._budget <= 0:
            return []
        missing = [q for q in quotes if self._aligner.candidates(q)[0] is Alignment.UNALIGNED]
        if missing:
            self._budget -= 1
        return missing


def _all(haystack: str, needle: str) -> list[Span]:
    spans: list[Span] = []
    if not needle:
        return spans
    at = haystack.find(needle)
    while at >= 0:
        spans.append((at, at + len(needle)))
        at = haystack.find(needle, at + 1)
    return spans


def _choose(spans: list[Span], window: Span | None, anchor: int | None) -> Span:
    if anchor is not None:
        return min(spans, key=lambda s: abs(s[0] - anchor))
    if window is not None:
        inside = [s for s in spans if window[0] <= s[0] and s[1] <= window[1]]
        if inside:
            return inside[0]
    return spans[0]


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
        folded.extend(match.group().translate(_FOLD))
        origin.extend(range(match.start(), match.end()))
    if folded and folded[-1] == " ":
        folded.pop()
        origin.pop()
    return "".join(folded), origin
