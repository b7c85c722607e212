"""Critical words: the words of a quote, or of the passage it is matched to, that carry its meaning.

Change one and the quote attests something else, however close its letters stay: "did not
agree" is not "did agree", "6 billion" is not "6 million", "exports rose" is not "imports
rose", "the former minister" is not "the minister". The fuzzy strategy of the aligner
(`attache.pipeline.ground`) requires each of them to match in place, in the quote and in the
article alike; this module only says which words they are and when two of them agree.

A critical word has a *sense*: the dictionary form its listed inflections share ("rises",
"rising" and "rose" are all "rise"), so a changed ending still matches in place, while two
senses never match, however alike their spelling ("million" and "billion", "export" and
"import"). The names and figures of a quote are critical too; the aligner tells those apart
itself, from their capitals and digits.

`ANTONYM_PREFIXES` are not words of their own: they turn a word into its opposite ("unable",
"disagreed", "inconclusive"), so two words that differ by one never count as close variants.
The hyphenated forms split into words of their own ("non-binding" is "non", "binding"), and
`NEGATION` lists those prefixes as words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz


class Family(StrEnum):
    """Why a word is critical; one family per kind of meaning it carries."""

    NAME = "name"  # a capitalized word of a quote, past its first word
    FIGURE = "figure"  # a word with a digit
    NEGATION = "negation"  # negation and polarity: "not", "never", "refused", "cancelled"
    MAGNITUDE = "magnitude"  # the scale of a figure: "million", "bln", "pct"
    DIRECTION = "direction"  # direction and comparison: "rose", "higher", "after", "exports"
    ROLE = "role"  # a qualifier of a role: "former", "deputy", "acting"


@dataclass(frozen=True)
class Critical:
    """A critical word as the aligner compares it: two match in place when they are equal."""

    family: Family
    sense: str  # the dictionary form its inflections share; a name or figure: itself


# Each sense with the case-folded forms that share it. Tokens are runs of letters and digits, so
# "didn't" reaches the aligner as "didn", "t": the "t" stands for "not", as "cannot" does.
NEGATION: Mapping[str, tuple[str, ...]] = {
    "not": ("not", "t", "cannot"),
    "no": ("no",),
    "never": ("never",),
    "none": ("none",),
    "nothing": ("nothing",),
    "nobody": ("nobody",),
    "nowhere": ("nowhere",),
    "neither": ("neither",),
    "nor": ("nor",),
    "without": ("without",),
    "non": ("non",),
    "anti": ("anti",),
    "against": ("against",),
    "fail": ("fail", "fails", "failed", "failing", "failure"),
    "refuse": ("refuse", "refuses", "refused", "refusing", "refusal"),
    "deny": ("deny", "denies", "denied", "denying", "denial"),
    "reject": ("reject", "rejects", "rejected", "rejecting", "rejection"),
    "cancel": (
        "cancel", "cancels", "cancelled", "canceled", "cancelling", "canceling", "cancellation",
    ),
}  # fmt: skip
MAGNITUDE: Mapping[str, tuple[str, ...]] = {
    "hundred": ("hundred", "hundreds"),
    "thousand": ("thousand", "thousands"),
    "million": ("million", "millions"),
    "mln": ("mln", "m", "mn"),
    "billion": ("billion", "billions"),
    "bln": ("bln", "bn"),
    "trillion": ("trillion", "trillions"),
    "trln": ("trln", "tln"),
    "pct": ("pct",),
    "percent": ("percent",),
}
DIRECTION: Mapping[str, tuple[str, ...]] = {
    "rise": ("rise", "rises", "rising", "rose", "risen"),
    "fall": ("fall", "falls", "falling", "fell", "fallen"),
    "increase": ("increase", "increases", "increased", "increasing"),
    "decrease": ("decrease", "decreases", "decreased", "decreasing"),
    "gain": ("gain", "gains", "gained", "gaining"),
    "loss": ("loss", "losses", "lose", "loses", "losing", "lost"),
    "decline": ("decline", "declines", "declined", "declining"),
    "profit": ("profit", "profits"),
    "surplus": ("surplus", "surpluses"),
    "deficit": ("deficit", "deficits"),
    "up": ("up",),
    "down": ("down",),
    "higher": ("higher",),
    "lower": ("lower",),
    "highest": ("highest",),
    "lowest": ("lowest",),
    "more": ("more",),
    "less": ("less",),
    "fewer": ("fewer",),
    "most": ("most",),
    "least": ("least",),
    "above": ("above",),
    "below": ("below",),
    "before": ("before",),
    "after": ("after",),
    "earlier": ("earlier",),
    "later": ("later",),
    "since": ("since",),
    "until": ("until",),
    "import": ("import", "imports", "imported", "importing", "importer", "importers"),
    "export": ("export", "exports", "exported", "exporting", "exporter", "exporters"),
    "buy": ("buy", "buys", "buying", "bought", "buyer", "buyers"),
    "sell": ("sell", "sells", "selling", "sold", "seller", "sellers"),
}
ROLE: Mapping[str, tuple[str, ...]] = {
    "former": ("former",),
    "ex": ("ex",),
    "deputy": ("deputy", "deputies"),
    "vice": ("vice",),
    "acting": ("acting",),
    "interim": ("interim",),
    "assistant": ("assistant", "assistants"),
    "outgoing": ("outgoing",),
    "incoming": ("incoming",),
    "elect": ("elect",),
    "designate": ("designate",),
}
ANTONYM_PREFIXES = ("un", "in", "im", "il", "ir", "dis", "non", "anti")
# How close the rest of a prefixed word must be to the other word for the two to be antonyms:
# as close as the aligner asks of an inflection ("conclusively" is "in" + "conclusive" + "ly").
ANTONYM_STEM_RATIO = 80.0

_LEXICON: dict[str, Critical] = {
    form: Critical(family, sense)
    for family, senses in (
        (Family.NEGATION, NEGATION),
        (Family.MAGNITUDE, MAGNITUDE),
        (Family.DIRECTION, DIRECTION),
        (Family.ROLE, ROLE),
    )
    for sense, forms in senses.items()
    for form in forms
}


def critical(key: str) -> Critical | None:
    """The critical word a case-folded word is, if any. A trailing "s" added or dropped is a
    changed ending, not a changed word: "befores" is still "before", "surplu" "surplus"."""
    found = _LEXICON.get(key)
    if found is None and len(key) > 3:
        found = _LEXICON.get(key[:-1]) if key.endswith("s") else _LEXICON.get(key + "s")
    return found


def antonyms(a: str, b: str) -> bool:
    """Whether one case-folded word is the other, or a close variant of it, behind an antonym
    prefix: "unable" and "able", "disagreed" and "agree", "inconclusive" and "conclusively"."""
    for prefix in ANTONYM_PREFIXES:
        for word, other in ((a, b), (b, a)):
            if (
                word.startswith(prefix)
                and not other.startswith(prefix)
                and len(word) - len(prefix) >= 3
                and fuzz.ratio(word[len(prefix) :], other) >= ANTONYM_STEM_RATIO
            ):
                return True
    return False
