"""Find each evidence quote in the article and give it a character span.

Strategies, strictest first; the first that finds the quote decides its `alignment`:

0. Whatever the strategy, a span must stand alone: it may not start or end inside a word
   ("likely" out of "unlikely"), nor start right after a negation or a role qualifier of its
   own sentence ("agreed to the plan" out of "has not agreed to the plan", "Finance Minister"
   out of "former Finance Minister"): such a quote says what the article does not.
1. exact: the quote occurs verbatim.
2. normalized: it occurs once the article and the quote are both
   - folded: runs of whitespace (line breaks and wire indents included) become one space, and
     typographic quotes, apostrophes and dashes become ASCII; then also case-folded;
   - or reduced to their words, which survives dropped or changed punctuation (never a dropped
     or changed word: the words must run exactly as in the article);
   - or, for a quote joined by an ellipsis (`...`, `…`), each piece is found in order, each within
     `MAX_ELLIPSIS_GAP` characters of the one before; the span runs from the first piece to the
     last, the first taken at its copy nearest the second (the tightest span).
3. fuzzy: word-level alignment (longest common subsequence of words, via rapidfuzz) over a
   window seeded by a word pair the two share. The matched words cut quote and span into *gaps*:
   the words between two consecutive matches, on either side; the quote's words before its
   first match or after its last face no span words, unless the article word next to the span
   is a variant of them (below), which the span then takes in. Accepted when all of these hold:
   - at least `FUZZY_MIN_COVERAGE` of the quote's words appear, in order, in the span;
   - matched words make up at least `FUZZY_MIN_DENSITY` of the span's words;
   - in every gap, the *critical* words of the quote and those of the span are the same, in the
     same order: a quote that drops, adds or swaps one is not grounded, even when the new word
     occurs nearby, and neither is one that leaves out a critical word the span has ("did
     agree" against "did not agree"). Critical are the quote's names and figures (a word with a
     digit, or capitalized past the quote's first word), spelled the same; and, in the quote
     and the span alike, the words listed in `attache.pipeline.critical`, up to their
     inflection ("rises" for "rose"): negation and polarity ("not", "n't", "no", "never",
     "refused"), magnitudes ("million", "bln", "pct"), direction and comparison ("rose",
     "lower", "after", "exports") and qualifiers of a role ("former", "deputy", "acting");
   - every other quote word of a gap is a function word, or a close variant (rapidfuzz ratio
     >= `FUZZY_VARIANT_RATIO`) of a span word of the same gap that is not its antonym by a
     prefix (un-, in-, dis-, non-...: "unable" is no variant of "able"). Inflection and typos
     pass; a different verb does not, nor a word that resembles one elsewhere in the span;
   - span words the quote leaves out may be any non-critical words (within the density).
   LCS ties are broken for the tightest span: an earlier copy of the quote's first words does
   not stretch it. Of overlapping candidates, the one that matches the most words stands.
4. unaligned: no span.

A span found by its words (reduced to words, or fuzzy) takes in the punctuation the quote opens
or closes with when the article has it right there too, whitespace between ignored ("cuts --"
keeps its dash). Spans are Python string indices into the original text (code points, end
exclusive). When a quote occurs several times, the occurrence nearest the record's other
evidence wins (the record's `anchor`), then the first inside the chunk the quote came from, then
the first.
"""

from __future__ import annotations

import re
import string
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from functools import cached_property
from itertools import accumulate, count, pairwise, repeat
from operator import itemgetter

from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq

from attache.pipeline.critical import Critical, Family, antonyms, critical
from attache.schemas import Alignment, Evidence

FUZZY_MIN_COVERAGE = 0.8
FUZZY_MIN_DENSITY = 0.7
FUZZY_VARIANT_RATIO = 80.0
FUZZY_MIN_WORDS = 4
MAX_ELLIPSIS_GAP = 600
# How far back the word before a span is looked for, at least (see `_word_before`).
_LOOK_BACK = 64

Span = tuple[int, int]

# Typographic characters models swap for ASCII ones, by code point so the table is unambiguous.
_TYPOGRAPHIC = {
    **dict.fromkeys("\u201c\u201d\u201e\u00ab\u00bb", '"'),  # curly and guillemet quotes
    **dict.fromkeys("\u2018\u2019\u201a", "'"),  # curly single quotes, apostrophe
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-"),  # hyphens, dashes, minus
}
_LONG_SPACE = re.compile(r"\s\s+")
_SENTENCE_END = re.compile(r"[.!?;:\n]")
_EDGE_PUNCTUATION = "\"'()[].,;:!?-" + string.whitespace
_DASHES = re.compile(r"-+")
# A word, or a number with its thousands separators and decimals kept whole ("55,000" == "55000").
_WORD = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\w+")
_WORD_SPLIT = re.compile(f"({_WORD.pattern})")
# The same words in ASCII text, found a third faster: a letter or "_" starts a word, a digit
# a number.
_ASCII_WORD_SPLIT = re.compile(
    r"([A-Za-z_]\w*|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)", re.ASCII
)
_ELLIPSIS = re.compile(r"\s*(?:\[\s*(?:\.\.\.|\u2026)\s*\]|\.\.\.|\u2026)\s*")
# Words a model may drop or swap without changing what a quote attests.
_FUNCTION_WORDS = frozenset({
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "by", "with", "from", "and", "or",
    "but", "as", "is", "are", "was", "were", "be", "been", "has", "have", "had", "will",
    "would", "that", "this", "these", "those", "it", "its", "their", "his", "her", "which",
    "who", "whom", "than", "then", "also", "said", "says",
})  # fmt: skip


def _typography(text: str) -> str:
    """`text` with its typographic characters folded to ASCII."""
    # Every character folded is outside ASCII. `str.translate` looks up each character of a
    # non-ASCII text in the table: 0.4 ms for a 2,600-character article, where looking for
    # each of the 14 characters and replacing the few present takes a few microseconds.
    if text.isascii():
        return text
    for char, ascii_char in _TYPOGRAPHIC.items():
        if char in text:
            text = text.replace(char, ascii_char)
    return text


def _keys(words: list[str]) -> list[str]:
    """The words as compared: case-folded, thousands separators dropped ("55,000" == "55000").
    Done on one string, split again at NULs: no word contains one, nor case-folds to one."""
    return "\0".join(words).replace(",", "").casefold().split("\0") if words else []


def _caseless(folded: str) -> str:
    """`folded` case-folded character by character, keeping a 1:1 mapping: the few characters
    that case-fold to two ("ß" -> "ss") stay as they are."""
    lower = folded.casefold()
    if len(lower) == len(folded):  # no character grew, so each folded to exactly one
        return lower
    return "".join(c if len(c.casefold()) > 1 else c.casefold() for c in folded)


class Aligner:
    """Aligns quotes against one article; build once per article, then call per record.

    The article's folded forms and words are derived on first use: a verbatim quote needs
    neither, and an article whose quotes all occur verbatim never pays for them.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        # The re-ask check and the merge stage both ask about the same quotes.
        self._found: dict[str, tuple[Alignment, list[Span]]] = {}

    @cached_property
    def _folded(self) -> str:
        return " ".join(_typography(self.text).split())

    @cached_property
    def _caseless(self) -> str:
        return _caseless(self._folded)

    @cached_property
    def _widened(self) -> tuple[list[int], list[int]]:
        """Where each whitespace run longer than one character falls in `_folded` (as one
        space), and how many characters of `text` fold away before each run and after the last:
        the leading whitespace, and one character less than each run. Enough to map a folded
        index back to `text`."""
        lead = len(self.text) - len(self.text.lstrip())
        at: list[int] = []
        dropped = [lead]
        for run in _LONG_SPACE.finditer(self.text, lead):
            at.append(run.start() - dropped[-1])
            dropped.append(dropped[-1] + len(run.group()) - 1)
        return at, dropped

    def _origin(self, index: int) -> int:
        """The index in `text` of the character at `index` in `_folded` (or `_caseless`); a
        space there stands for a whitespace run, and maps to the run's first character."""
        at, dropped = self._widened
        return index + dropped[bisect_left(at, index)]

    @cached_property
    def _words(self) -> _Words:
        return _Words(self.text)

    @property
    def _keys(self) -> list[str]:
        return self._words.keys

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
        spans = self._standing_alone(_all(self.text, quote))
        if spans:
            return Alignment.EXACT, spans
        spans = self._standing_alone(self._normalized(quote))
        if spans:
            return Alignment.NORMALIZED, spans
        pieces = [p for p in _ELLIPSIS.split(quote) if _WORD.search(p)]
        if len(pieces) > 1:
            spans = self._standing_alone(self._joined(pieces))
            if spans:
                return Alignment.NORMALIZED, spans
        spans = self._standing_alone(self._fuzzy(quote))
        if spans:
            return Alignment.FUZZY, spans
        return Alignment.UNALIGNED, []

    def _standing_alone(self, spans: list[Span]) -> list[Span]:
        """The spans that attest what they say on their own.

        A span that starts or ends inside a word quotes part of one ("likely" out of
        "unlikely"); a span right after a negation or a role qualifier of its own sentence
        drops it ("agreed to the plan" out of "has not agreed to the plan", "Finance Minister"
        out of "former Finance Minister"). Both say something the article does not.
        """
        return [s for s in spans if not self._cuts_a_word(s) and not self._after_a_qualifier(s)]

    def _cuts_a_word(self, span: Span) -> bool:
        start, end = span
        text = self.text
        inside_start = 0 < start < len(text) and text[start - 1].isalnum() and text[start].isalnum()
        inside_end = 0 < end < len(text) and text[end - 1].isalnum() and text[end].isalnum()
        return inside_start or inside_end

    def _after_a_qualifier(self, span: Span) -> bool:
        start = span[0]
        before = self._word_before(start)
        if before is None or _SENTENCE_END.search(self.text, before[0], start):
            return False
        found = critical(before[1])
        return found is not None and found.family in {Family.NEGATION, Family.ROLE}

    def _word_before(self, at: int) -> tuple[int, str] | None:
        """Where the last of the article's words to end at or before `at` ends, and its key.

        From the index of every word if a quote already needed it; otherwise read from the text
        just before `at`, so that a quote found verbatim costs no index. Words hold no
        whitespace: text that starts right after a whitespace character splits into the same
        words as the whole article does.
        """
        if "_words" in self.__dict__:  # the cached property, once built
            words = self._words
            index = bisect_right(words.ends, at) - 1
            return (words.ends[index], words.keys[index]) if index >= 0 else None
        text = self.text
        while at > 0:
            lo = max(0, at - _LOOK_BACK)
            while lo > 0 and not text[lo - 1].isspace():
                lo -= 1
            last = None
            for word in _WORD.finditer(text, lo):
                if word.end() > at:
                    break
                last = word
            if last is not None:
                return last.end(), _keys([last.group()])[0]
            # No word ends between `lo` and `at`, and none can end at `lo`, after a space.
            at = lo - 1
        return None

    def _normalized(self, quote: str) -> list[Span]:
        folded = " ".join(_typography(quote).split())
        for haystack, needle in (
            (self._folded, folded),
            (self._caseless, _caseless(folded)),
        ):
            hits = _all(haystack, needle)
            if hits:
                return [(self._origin(a), self._origin(b - 1) + 1) for a, b in hits]
        return [self._widen(s, quote) for s in self._word_run(_keys(_WORD.findall(quote)))]

    def _word_run(self, keys: list[str]) -> list[Span]:
        if not keys:
            return []
        words = self._words
        return [(words.starts[i], words.ends[i + len(keys) - 1]) for i in words.find(keys)]

    def _joined(self, pieces: list[str]) -> list[Span]:
        # By end: copies of the first piece come in article order, so a later copy that leads
        # to the same last piece replaces an earlier one, and the span is the tightest.
        starts: dict[int, int] = {}
        for first in self._piece(pieces[0]):
            start, end = first
            for piece in pieces[1:]:
                following = [s for s in self._piece(piece) if end <= s[0] <= end + MAX_ELLIPSIS_GAP]
                if not following:
                    break
                end = following[0][1]
            else:
                starts[end] = start
        return sorted((start, end) for end, start in starts.items())

    def _piece(self, piece: str) -> list[Span]:
        return _all(self.text, piece.strip()) or self._normalized(piece)

    def _fuzzy(self, quote: str) -> list[Span]:
        words = _WORD.findall(quote)
        if len(words) < FUZZY_MIN_WORDS:
            return []
        keys = _keys(words)
        senses: list[Critical | None] = []  # needed by an alignment that gets that far only
        found: list[tuple[int, Span]] = []
        for origin in self._seeds(keys):
            pairs = self._near(keys, origin)
            if pairs is None:
                continue
            senses = senses or list(map(_quote_sense, count(), words, keys))
            pairs = self._agreeing(keys, senses, pairs)
            if pairs:
                span = (self._words.starts[pairs[0][1]], self._words.ends[pairs[-1][1]])
                found.append((len(pairs), span))
        # Seeds near one occurrence can each reach it, one matching fewer of the quote's words;
        # of overlapping spans the one that matches most, then the tightest, stands for it.
        spans: list[Span] = []
        for _, span in sorted(found, key=lambda f: (-f[0], f[1][1] - f[1][0])):
            if all(span[1] <= other[0] or other[1] <= span[0] for other in spans):
                spans.append(span)
        return sorted(self._widen(span, quote) for span in spans)

    def _widen(self, span: Span, quote: str) -> Span:
        """Take in the punctuation the quote opens or closes with (a quote mark, a full stop, a
        dash) when the article has it right there too: word matching alone leaves it out."""
        quote = _typography(quote)
        lead = quote[: len(quote) - len(quote.lstrip(_EDGE_PUNCTUATION))]
        trail = quote[len(quote.rstrip(_EDGE_PUNCTUATION)) :]
        return (
            _reach(self.text, span[0], _marks(lead)[::-1], -1),
            _reach(self.text, span[1], _marks(trail), 1),
        )

    def _seeds(self, keys: list[str]) -> list[int]:
        """Where the quote would start in the article, voted by the word pairs the two share."""
        at: dict[tuple[str, str], list[int]] = {}
        for i, pair in enumerate(pairwise(keys)):
            # "of the", "it was": found all over any article, such a pair votes for origins
            # everywhere, and each origin costs an alignment attempt.
            if not (pair[0] in _FUNCTION_WORDS and pair[1] in _FUNCTION_WORDS):
                at.setdefault(pair, []).append(i)
        votes: Counter[int] = Counter()
        # One pass over the article's pairs, the few it shares with the quote picked out in C.
        shared_pairs = map(at.get, self._words.pairs, repeat(()))
        for j, shared in filter(itemgetter(1), enumerate(shared_pairs)):
            for i in shared:
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

    def _near(self, keys: list[str], origin: int) -> list[tuple[int, int]] | None:
        """The (quote word, article word) pairs matched near `origin`, if they are enough."""
        slack = max(3, len(keys) // 3)
        lo, hi = origin - slack, origin + len(keys) + slack
        # `_matches` only extends the LCS of the window by words next to it, at most one per
        # quote word: its pairs are a common subsequence of the quote and the window widened by
        # the quote's length, so the LCS of those two, cheap to compute, bounds their number.
        reach = self._keys[max(0, lo - len(keys)) : hi + len(keys)]
        if LCSseq.similarity(keys, reach) < FUZZY_MIN_COVERAGE * len(keys):
            return None
        pairs = self._matches(keys, lo, hi)
        if len(pairs) < FUZZY_MIN_COVERAGE * len(keys):
            return None
        first, last = pairs[0][1], pairs[-1][1]
        if len(pairs) < FUZZY_MIN_DENSITY * (last - first + 1):
            return None
        return pairs

    def _agreeing(
        self, keys: list[str], senses: list[Critical | None], pairs: list[tuple[int, int]]
    ) -> list[tuple[int, int]] | None:
        """`pairs` grown by the variants at either end, if every gap between them agrees."""
        pairs = self._reach_variants(keys, senses, pairs)
        first, last = pairs[0][1], pairs[-1][1]
        # Sentinels: a quote's words before its first match or after its last face no article
        # words, since the span ends at those matches.
        bounds = [(-1, first - 1), *pairs, (len(keys), last + 1)]
        gaps = ((a, b) for a, b in pairwise(bounds) if b[0] - a[0] > 1 or b[1] - a[1] > 1)
        if not all(self._gap_agrees(keys, senses, a, b) for a, b in gaps):
            return None
        return pairs

    def _gap_agrees(
        self,
        keys: list[str],
        senses: list[Critical | None],
        before: tuple[int, int],
        after: tuple[int, int],
    ) -> bool:
        """Whether the quote's and the article's words between two matched pairs say the same:
        the same critical words in the same order, and every other quote word a function word
        or a variant of an article word right there, not anywhere in the span."""
        quote_gap = range(before[0] + 1, after[0])
        article_gap = self._keys[before[1] + 1 : after[1]]
        quoted = [sense for sense in (senses[q] for q in quote_gap) if sense is not None]
        if quoted != [sense for sense in map(critical, article_gap) if sense is not None]:
            return False
        return all(
            senses[q] is not None
            or keys[q] in _FUNCTION_WORDS
            or any(_variant(keys[q], other) for other in article_gap)
            for q in quote_gap
        )

    def _reach_variants(
        self, keys: list[str], senses: list[Critical | None], pairs: list[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """`pairs` grown at either end by quote words whose article neighbour is a variant of
        them (the same critical word, or a close variant of a word that is neither critical nor
        a function word): a changed first or last word ("billions" for "billion") then falls
        inside the span, not outside it."""

        def alike(q: int, j: int) -> bool:
            if keys[q] == self._keys[j]:
                return True
            found = critical(self._keys[j])
            if senses[q] is not None:
                return senses[q] == found
            return (
                found is None
                and keys[q] not in _FUNCTION_WORDS
                and _variant(keys[q], self._keys[j])
            )

        grown = list(pairs)
        while grown[0][0] > 0 and grown[0][1] > 0 and alike(grown[0][0] - 1, grown[0][1] - 1):
            grown.insert(0, (grown[0][0] - 1, grown[0][1] - 1))
        while (
            grown[-1][0] + 1 < len(keys)
            and grown[-1][1] + 1 < len(self._keys)
            and alike(grown[-1][0] + 1, grown[-1][1] + 1)
        ):
            grown.append((grown[-1][0] + 1, grown[-1][1] + 1))
        return grown

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
        pairs = self._tighten(keys, pairs)
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

    def _tighten(self, keys: list[str], pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """The same matched quote words, at the article copies that make the span tightest.

        LCS breaks ties arbitrarily: "He said he was" against "he said. He said he was" may
        match its first two words to the first "he said". Each word moves to its last copy
        before the next match (the start comes as close to the end as it can), then to its
        first copy after the previous one (the end comes as close to that start as it can)."""
        article = self._keys
        tight = list(pairs)
        # A word moves only to a copy between it and its neighbour: mostly there is no room.
        for i in range(len(tight) - 2, -1, -1):
            (q, j), following = tight[i], tight[i + 1][1]
            between = article[j + 1 : following]
            if keys[q] in between:
                tight[i] = (q, following - 1 - between[::-1].index(keys[q]))
        for i in range(1, len(tight)):
            (q, j), previous = tight[i], tight[i - 1][1]
            tight[i] = (q, article.index(keys[q], previous + 1, j + 1))
        return tight


class _Words:
    """An article's words: their keys, where they start and end, and the keys strung together,
    each after a NUL (which no key contains), so that a run of words is found as a substring
    with no index of the article's words to build first."""

    def __init__(self, text: str) -> None:
        split = _ASCII_WORD_SPLIT.split if text.isascii() else _WORD_SPLIT.split
        pieces = split(text)  # separators and words, alternating
        bounds = list(accumulate(map(len, pieces)))
        words = pieces[1::2]
        self.keys = _keys(words)
        self.starts = bounds[0::2][: len(words)]
        self.ends = bounds[1::2]
        self._line = "\0" + "\0".join(self.keys) + "\0"

    @cached_property
    def pairs(self) -> list[tuple[str, str]]:
        """Each word's key with the next one's."""
        return list(pairwise(self.keys))

    def find(self, keys: Sequence[str]) -> list[int]:
        """Every index where the words `keys` run in this order, overlapping runs included."""
        needle = "\0" + "\0".join(keys) + "\0"
        found: list[int] = []
        at = self._line.find(needle)
        while at >= 0:
            found.append(self._line.count("\0", 0, at))  # the NULs before it: the words
            at = self._line.find(needle, at + 1)
        return found


def _quote_sense(index: int, word: str, key: str) -> Critical | None:
    """What a quote word must match in place, if anything (see the module docstring)."""
    found = critical(key)
    if found is not None:
        return found
    if any(map(str.isdigit, word)):
        return Critical(Family.FIGURE, key)
    if index > 0 and word[0].isupper():
        return Critical(Family.NAME, key)
    return None


def _variant(key: str, other: str) -> bool:
    """A changed ending or a typo; not a word turned into its opposite by a prefix."""
    return fuzz.ratio(key, other) >= FUZZY_VARIANT_RATIO and not antonyms(key, other)


def _marks(edge: str) -> str:
    """The punctuation of a quote's edge, whitespace dropped and a run of dashes one mark."""
    return _DASHES.sub("-", "".join(edge.split()))


def _reach(text: str, at: int, marks: str, step: int) -> int:
    """Where `text` stops having `marks` next to `at`, reading away from it by `step` (1 or -1)
    and skipping whitespace: `at` itself unless every mark is there. A dash mark takes the
    whole run of dashes ("--", "—")."""
    ahead = 0 if step > 0 else -1  # the next character read is text[i + ahead]
    i = at
    for mark in marks:
        while 0 <= i + ahead < len(text) and text[i + ahead].isspace():
            i += step
        taken = 0
        while 0 <= i + ahead < len(text) and _TYPOGRAPHIC.get(c := text[i + ahead], c) == mark:
            i += step
            taken += 1
            if mark != "-":
                break
        if not taken:
            return at
    return i


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
