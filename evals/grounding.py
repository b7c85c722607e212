"""The grounding perturbation suite: real quotes as models mangle them, and fabricated ones.

Every case is built deterministically from a sentence of a corpus article. Positive cases keep
what the sentence attests and must align to the sentence's own span; negative cases change a
name or a figure, change the meaning while keeping every name and figure (a negation, an
antonym prefix, a magnitude, a direction, a qualifier of a role), or quote another article, and
must not align at all. The meaning-changing kinds are built from the sentences that hold such a
word (up to `per_article` an article), since few sentences do.

Used by `tests/evals/test_grounding_suite.py` (the aligner must pass every case kind) and by
`bench/grounding.py` (accuracy next to an exact-match baseline and LangExtract's WordAligner).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from attache.evals.corpus import Article
from attache.pipeline.critical import critical

# A sentence: a capital or opening quote, then up to ~280 characters without an end mark (a
# period inside a number, "5.3", is not one), then the end mark.
_SENTENCE = re.compile(r"[A-Z\"\u201c](?:[^.!?]|\.(?=\d)){40,280}[.!?](?!\d)")
_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+")


class Kind(StrEnum):
    VERBATIM = "verbatim"
    REFLOWED = "reflowed"  # line breaks and indents collapsed
    TYPOGRAPHY = "typography"  # straight quotes curled, or curly ones straightened
    LOWERCASED = "lowercased"
    NO_PUNCTUATION = "no_punctuation"
    ELLIPSIS = "ellipsis"  # a middle stretch cut out and replaced by "..."
    WORD_DROPPED = "word_dropped"  # one middle word left out, not a critical one
    INFLECTED = "inflected"  # one word's ending changed
    NAME_CHANGED = "name_changed"  # negative: a capitalized word swapped for another
    NUMBER_CHANGED = "number_changed"  # negative: a figure changed
    OTHER_ARTICLE = "other_article"  # negative: a sentence from another article
    NEGATION_DROPPED = "negation_dropped"  # negative: a "not", "no" or "never" left out
    NEGATION_ADDED = "negation_added"  # negative: "not" put after an auxiliary verb
    ANTONYM_PREFIX = "antonym_prefix"  # negative: "unable" for "able", "agreed" for "disagreed"
    MAGNITUDE_CHANGED = "magnitude_changed"  # negative: "million" for "billion", "bln" for "mln"
    DIRECTION_CHANGED = "direction_changed"  # negative: "imports" for "exports", "rose" for "fell"
    ROLE_CHANGED = "role_changed"  # negative: "former", "deputy"... dropped, or "former" added


MEANING_CHANGED = frozenset({
    Kind.NEGATION_DROPPED, Kind.NEGATION_ADDED, Kind.ANTONYM_PREFIX, Kind.MAGNITUDE_CHANGED,
    Kind.DIRECTION_CHANGED, Kind.ROLE_CHANGED,
})  # fmt: skip
NEGATIVE = frozenset({Kind.NAME_CHANGED, Kind.NUMBER_CHANGED, Kind.OTHER_ARTICLE}) | MEANING_CHANGED


@dataclass(frozen=True)
class Case:
    article_id: str
    kind: Kind
    quote: str
    expected: tuple[int, int] | None  # the span it must align to; None: must not align

    @property
    def negative(self) -> bool:
        return self.expected is None


def sentences(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _SENTENCE.finditer(text)]


def cases(articles: Mapping[str, Article], per_article: int = 4) -> Iterator[Case]:
    ids = sorted(articles)
    for article_id in ids:
        text = articles[article_id].text
        rng = random.Random(article_id)  # noqa: S311 - reproducible sampling, not security
        spans = sentences(text)
        for start, end in rng.sample(spans, min(per_article, len(spans))):
            sentence = text[start:end]
            for kind, make in _PERTURBATIONS.items():
                quote = make(sentence, rng)
                if quote is None or (quote == sentence and kind is not Kind.VERBATIM):
                    continue
                expected = None if kind in NEGATIVE else (start, end)
                if expected is None and _occurs(quote, text):
                    continue  # the "changed" quote happens to be true elsewhere in the article
                yield Case(article_id, kind, quote, expected)
        other = articles[ids[(ids.index(article_id) + 1) % len(ids)]].text
        foreign = [other[s:e] for s, e in sentences(other) if not _occurs(other[s:e], text)]
        if foreign:
            yield Case(article_id, Kind.OTHER_ARTICLE, rng.choice(foreign), None)
        for kind, change in _MEANING_CHANGES.items():
            # A generator of its own per kind: the cases of the other kinds stay as they were.
            kind_rng = random.Random(f"{article_id}/{kind}")  # noqa: S311 - as above
            changed = [
                quote
                for quote in (change(text[s:e], kind_rng) for s, e in spans)
                if quote is not None and not _occurs(quote, text)
            ]
            for quote in kind_rng.sample(changed, min(per_article, len(changed))):
                yield Case(article_id, kind, quote, None)


def _occurs(quote: str, text: str) -> bool:
    squash = " ".join(_WORD.findall(quote)).casefold()
    return squash in " ".join(_WORD.findall(text)).casefold()


def _reflowed(sentence: str, _rng: random.Random) -> str:
    return " ".join(sentence.split())


def _typography(sentence: str, _rng: random.Random) -> str | None:
    if '"' in sentence:
        curled = re.sub(r'"(\w)', "\u201c\\1", sentence)
        return " ".join(curled.replace('"', "\u201d").split())
    if any(c in sentence for c in "\u201c\u201d\u2019"):
        straight = sentence.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'")
        return " ".join(straight.split())
    return None


def _lowercased(sentence: str, _rng: random.Random) -> str:
    return " ".join(sentence.lower().split())


def _no_punctuation(sentence: str, _rng: random.Random) -> str | None:
    stripped = re.sub(r"[,;:\"\u201c\u201d()]", "", sentence)
    return " ".join(stripped.split()) if stripped != sentence else None


def _ellipsis(sentence: str, rng: random.Random) -> str | None:
    words = sentence.split()
    if len(words) < 12:
        return None
    cut = rng.randrange(4, len(words) - 6)
    return " ".join(words[:cut]) + " ... " + " ".join(words[cut + 3 :])


def _word_dropped(sentence: str, rng: random.Random) -> str | None:
    words = sentence.split()
    # Dropping a critical word ("not", "billion", "former") changes the meaning: other kinds.
    middle = [
        i for i in range(3, len(words) - 3)
        if words[i].isalpha() and words[i].islower() and critical(words[i]) is None
    ]  # fmt: skip
    if len(words) < 10 or not middle:
        return None
    drop = rng.choice(middle)
    return " ".join(words[:drop] + words[drop + 1 :])


def _inflected(sentence: str, rng: random.Random) -> str | None:
    words = sentence.split()
    candidates = [
        i for i in range(2, len(words) - 1) if words[i].isalpha() and words[i].islower()
        and len(words[i]) > 4
    ]  # fmt: skip
    if len(words) < 8 or not candidates:
        return None
    i = rng.choice(candidates)
    words[i] = words[i][:-1] if words[i].endswith("s") else words[i] + "s"
    return " ".join(words)


_NAMES = ("Canada", "Brazil", "Smith", "Tokyo", "Kenya", "Norway", "Lopez", "Geneva")


def _name_changed(sentence: str, rng: random.Random) -> str | None:
    words = sentence.split()
    names = [
        i for i in range(1, len(words))
        if words[i][:1].isupper() and words[i].isalpha() and len(words[i]) > 2
    ]  # fmt: skip
    if not names:
        return None
    i = rng.choice(names)
    words[i] = next(n for n in _NAMES if n != words[i])
    return " ".join(words)


def _number_changed(sentence: str, _rng: random.Random) -> str | None:
    match = _NUMBER.search(sentence)
    if match is None:
        return None
    changed = str(int(match.group()) + 1)
    return " ".join((sentence[: match.start()] + changed + sentence[match.end() :]).split())


_PERTURBATIONS: dict[Kind, Callable[[str, random.Random], str | None]] = {
    Kind.VERBATIM: lambda s, _r: s,
    Kind.REFLOWED: _reflowed,
    Kind.TYPOGRAPHY: _typography,
    Kind.LOWERCASED: _lowercased,
    Kind.NO_PUNCTUATION: _no_punctuation,
    Kind.ELLIPSIS: _ellipsis,
    Kind.WORD_DROPPED: _word_dropped,
    Kind.INFLECTED: _inflected,
    Kind.NAME_CHANGED: _name_changed,
    Kind.NUMBER_CHANGED: _number_changed,
}


_NEGATIONS = re.compile(r" (?:not|no|never)\b")
_AUXILIARY = re.compile(
    r"\b(?:is|was|are|were|will|would|could|should|can|may|might|must|has|have|had|did|does)"
    r"\b(?! not\b| never\b|n't|['\u2019]t)"
)
# A word and its opposite by an antonym prefix, read both ways: the common ones of news copy.
_PREFIXED = {
    "able": "unable", "likely": "unlikely", "agreed": "disagreed", "agree": "disagree",
    "agreement": "disagreement", "binding": "non-binding", "conclusive": "inconclusive",
    "expected": "unexpected", "changed": "unchanged", "official": "unofficial",
    "certain": "uncertain", "possible": "impossible", "formal": "informal", "direct": "indirect",
    "directly": "indirectly", "legal": "illegal", "stable": "unstable", "stability": "instability",
    "acceptable": "unacceptable", "available": "unavailable", "sufficient": "insufficient",
    "adequate": "inadequate", "effective": "ineffective", "secured": "unsecured",
    "employment": "unemployment", "disclosed": "undisclosed", "limited": "unlimited",
    "fair": "unfair", "fairly": "unfairly", "usual": "unusual", "willing": "unwilling",
    "clear": "unclear", "decided": "undecided", "settled": "unsettled", "balance": "imbalance",
    "balances": "imbalances", "dependent": "independent", "active": "inactive",
    "precedented": "unprecedented", "noticed": "unnoticed", "necessary": "unnecessary",
    "known": "unknown", "named": "unnamed", "specified": "unspecified", "paid": "unpaid",
    "confirmed": "unconfirmed", "popular": "unpopular", "complete": "incomplete",
    "consistent": "inconsistent", "appropriate": "inappropriate", "regular": "irregular",
    "responsible": "irresponsible", "satisfied": "dissatisfied", "advantage": "disadvantage",
    "continued": "discontinued", "approve": "disapprove", "approved": "disapproved",
    "aligned": "non-aligned", "favourable": "unfavourable", "favorable": "unfavorable",
}  # fmt: skip
_MAGNITUDES = {
    "thousand": "million", "thousands": "millions", "million": "billion", "millions": "billions",
    "billion": "million", "billions": "millions", "trillion": "billion", "mln": "bln",
    "bln": "mln", "pct": "points",
}  # fmt: skip
_DIRECTIONS = {
    "rise": "fall", "rises": "falls", "rose": "fell", "risen": "fallen", "rising": "falling",
    "higher": "lower", "before": "after", "earlier": "later", "up": "down", "more": "less",
    "above": "below", "import": "export", "imports": "exports", "imported": "exported",
    "importers": "exporters", "increase": "decrease", "increased": "decreased",
    "increases": "decreases", "surplus": "deficit", "surpluses": "deficits", "buy": "sell",
    "bought": "sold", "profit": "loss", "profits": "losses", "gain": "loss",
}  # fmt: skip
_QUALIFIERS = re.compile(r"\b(?:former|deputy|vice|acting)[ -]", re.IGNORECASE)
# A role, after the capitalized words of its title ("Finance Minister", "Vice President").
_ROLE = re.compile(
    r"\b(?:(?!The )[A-Z][a-z]+ )*(?:[Mm]inister|[Pp]resident|[Cc]hairman|[Ss]ecretary|[Gg]overnor|"
    r"[Dd]irector|[Aa]mbassador|[Ss]pokesman|[Ee]nvoy|[Pp]remier)\b"
)


def _swap(table: dict[str, str]) -> Callable[[str, random.Random], str | None]:
    """A change of one word of the sentence for its counterpart in `table`, read both ways."""
    both = {**{v: k for k, v in table.items()}, **table}
    pattern = re.compile(
        r"\b(?:" + "|".join(map(re.escape, sorted(both, key=len)[::-1])) + r")\b", re.IGNORECASE
    )

    def change(sentence: str, rng: random.Random) -> str | None:
        found = list(pattern.finditer(sentence))
        if not found:
            return None
        match = rng.choice(found)
        word = match.group()
        other = both[word.lower()]
        other = other.capitalize() if word[0].isupper() else other
        return " ".join((sentence[: match.start()] + other + sentence[match.end() :]).split())

    return change


def _negation_dropped(sentence: str, rng: random.Random) -> str | None:
    found = list(_NEGATIONS.finditer(sentence))
    if not found:
        return None
    match = rng.choice(found)
    return " ".join((sentence[: match.start()] + sentence[match.end() :]).split())


def _negation_added(sentence: str, rng: random.Random) -> str | None:
    found = list(_AUXILIARY.finditer(sentence))
    if not found:
        return None
    at = rng.choice(found).end()
    return " ".join((sentence[:at] + " not" + sentence[at:]).split())


def _role_changed(sentence: str, rng: random.Random) -> str | None:
    dropped = list(_QUALIFIERS.finditer(sentence))
    if dropped:
        match = rng.choice(dropped)
        return " ".join((sentence[: match.start()] + sentence[match.end() :]).split())
    roles = list(_ROLE.finditer(sentence))
    if not roles:
        return None
    at = rng.choice(roles).start()
    return " ".join((sentence[:at] + ("Former " if at == 0 else "former ") + sentence[at:]).split())


_MEANING_CHANGES: dict[Kind, Callable[[str, random.Random], str | None]] = {
    Kind.NEGATION_DROPPED: _negation_dropped,
    Kind.NEGATION_ADDED: _negation_added,
    Kind.ANTONYM_PREFIX: _swap(_PREFIXED),
    Kind.MAGNITUDE_CHANGED: _swap(_MAGNITUDES),
    Kind.DIRECTION_CHANGED: _swap(_DIRECTIONS),
    Kind.ROLE_CHANGED: _role_changed,
}


def correct(case: Case, span: tuple[int, int] | None, *, min_overlap: float = 0.9) -> bool:
    """A negative case is right when nothing aligned; a positive one when the span found covers
    the expected one with an intersection-over-union of at least `min_overlap`."""
    if case.expected is None or span is None:
        return case.expected is None and span is None
    (a, b), (c, d) = case.expected, span
    inter = max(0, min(b, d) - max(a, c))
    union = max(b, d) - min(a, c)
    return inter / union >= min_overlap
