r"""A cheap test that rules a regular expression out before it runs: the literals a match needs.

    gate = Prefilter(pattern)
    finder = Finder(gates)                  # once: every gate's words, for whole articles
    article = finder.text(text)             # one pass over the article for all of them
    if gate.may_match(article):             # False: the pattern cannot match the article
        ...
    paragraph = Text(part)                  # a short text: each word looked for with `in`
    if gate.may_match(paragraph):
        pattern.finditer(part)

Python's `re` tries a pattern that opens with a lookbehind or an alternation at every position
of the text: the injection detector's 40 patterns cost about 5 microseconds a character, most of
an extraction's CPU. Almost every text lacks a word each pattern cannot do without ("ignore",
"instructions", "AI"), and `str.__contains__` finds that out in C, hundreds of times faster.
Asked of a whole article, the gates looked for some 200 words one `in` at a time, half a
millisecond; `Finder` finds all of them in one pass of an Aho-Corasick automaton
(`ahocorasick_rs`, in Rust).

The words are read off the pattern's own syntax tree (`re._parser`, the parser `re.compile`
uses), so they never drift from the pattern: each required piece of a match (a run of
literal characters, a group, a repeat of at least one, an alternation whose every branch requires
something, and the text of a lookahead or lookbehind, which lies in the same string) adds a
clause, a set of words of which the text must contain one. `may_match` is True when every
clause holds. It is a necessary condition only: the pattern decides.

Where the pattern says what comes right after a word (whitespace, or punctuation), a word
counts only where that follows it (`Next`): "hi" followed by `\s*,?\s+` is not the "hi" of
"which", nor "report" followed by `\s+` the one of "reported". Without that, the greetings and
the imperatives of three patterns were in almost every news story, and those patterns ran
over every paragraph.

A word is searched for as written where the pattern is case-sensitive ("AI", not the "ai" of
"said"), and folded where it ignores case: `fold` maps a text so that a character
`re.IGNORECASE` equates with a literal folds to the same string: `str.casefold`, plus the two
characters where `re` and `casefold` part (U+0130 and U+0131, the dotted capital and the
dotless small i, both match "i"). A test checks every character of every literal against all
of Unicode.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ahocorasick_rs import AhoCorasick, Implementation

# The parser re.compile uses, and the opcodes of its tree: modules without type stubs.
_parser: Any = importlib.import_module("re._parser")
sre: Any = importlib.import_module("re._constants")

_FOLD_APART = str.maketrans({"\u0131": "i", "\u0307": None})

# A parsed pattern is a sequence of (opcode, argument) pairs; their types are internal to re.
_Node = list[tuple[Any, Any]]


@dataclass(frozen=True)
class Next:
    """What a match holds right after a word: a whitespace character (`space`), or one of
    `chars` (punctuation, which has no case)."""

    space: bool
    chars: frozenset[str]

    def follows(self, text: str, word: str) -> bool:
        """True when `word` occurs in `text` followed by what this allows."""
        at = text.find(word)
        while at >= 0:
            after = text[at + len(word) : at + len(word) + 1]
            if after in self.chars or (self.space and after.isspace()):
                return True
            at = text.find(word, at + 1)
        return False


@dataclass(frozen=True)
class Word:
    """A literal a match holds: as written where the pattern is case-sensitive, else folded;
    with what the pattern requires right after it, where that is known (`then`)."""

    text: str
    folded: bool
    then: Next | None = None


Clause = frozenset[Word]


def fold(text: str) -> str:
    """`text` case-folded the way the gates expect."""
    folded = text.casefold()
    # A translation looks up every character: ten times the cost of the rare check.
    if "\u0131" in folded or "\u0307" in folded:
        return folded.translate(_FOLD_APART)
    return folded


class Text:
    """A text the gates ask about: each word looked for with `in`, or, made by a `Finder`,
    looked up among the words the finder found (by `folded`: in the folded text or not)."""

    def __init__(
        self, text: str, folded: str | None = None, found: dict[bool, _Found] | None = None
    ) -> None:
        self.text = text
        self.folded = fold(text) if folded is None else folded
        self._found = found or {}

    def has(self, word: str, *, folded: bool, then: Next | None) -> bool:
        haystack = self.folded if folded else self.text
        lookup = self._found.get(folded)
        present = word in lookup.found if lookup and word in lookup.looked_for else word in haystack
        return present and (then is None or then.follows(haystack, word))


@dataclass(frozen=True)
class _Found:
    looked_for: frozenset[str]
    found: frozenset[str]


class Finder:
    """Every word of some gates, looked for in one pass over a text; see the module docstring."""

    def __init__(self, gates: Iterable[Prefilter]) -> None:
        words = [word for gate in gates for clause in gate.clauses for word in clause]
        self._automata = {
            folded: _Automaton({word.text for word in words if word.folded is folded})
            for folded in (True, False)
        }

    def text(self, text: str) -> Text:
        folded = fold(text)
        found = {
            case: _Found(automaton.words, automaton.found(folded if case else text))
            for case, automaton in self._automata.items()
        }
        return Text(text, folded, found)


class _Automaton:
    # Words this short are in almost every text ("a", "th"): the automaton would report each
    # of their hundreds of copies, where `in` stops at the first. `Text` asks those with `in`.
    _SHORT = 2

    def __init__(self, words: set[str]) -> None:
        self.words = frozenset(word for word in words if len(word) > self._SHORT)
        self._ordered = sorted(self.words)
        # A DFA: twice as fast as the default NFA on these words. The automaton refuses an
        # empty list of words.
        self._automaton = (
            AhoCorasick(self._ordered, implementation=Implementation.DFA) if self._ordered else None
        )

    def found(self, text: str) -> frozenset[str]:
        if self._automaton is None:
            return frozenset()
        # Overlapping: "instruct" inside "instructions" is found, as `in` would find it.
        matches = self._automaton.find_matches_as_indexes(text, overlapping=True)
        return frozenset(self._ordered[index] for index, _, _ in matches)


class Prefilter:
    """The literal clauses of one compiled pattern; see the module docstring."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        parsed = list(_parser.parse(pattern.pattern, pattern.flags))
        clauses = dict.fromkeys(_clauses(parsed, ignore_case=bool(pattern.flags & re.IGNORECASE)))
        # The clause likeliest to fail first: most texts are ruled out by one search.
        self.clauses = tuple(sorted(clauses, key=_selectivity, reverse=True))

    def may_match(self, text: Text) -> bool:
        """False when the pattern cannot match `text`."""
        return all(
            any(text.has(word.text, folded=word.folded, then=word.then) for word in clause)
            for clause in self.clauses
        )


def _clauses(
    node: _Node, *, ignore_case: bool, after: Sequence[tuple[Any, Any]] = ()
) -> list[Clause]:
    """The clauses `node` requires; `after` is what the pattern holds after it, as far as it
    is known (nothing: the end of the pattern, or unknown)."""
    clauses: list[Clause] = []
    run: list[str] = []

    def literal_run(rest: Sequence[tuple[Any, Any]]) -> None:
        if run:
            written = "".join(run)
            # A word of one character is in nearly every text: what follows it is not looked at.
            then = _next([*rest, *after]) if len(written) > 1 else None
            word = Word(fold(written) if ignore_case else written, ignore_case, then)
            clauses.append(frozenset({word}))
            run.clear()

    for index, (op, arg) in enumerate(node):
        if op is sre.LITERAL:
            run.append(chr(arg))
            continue
        literal_run(node[index:])
        clauses += _of(op, arg, ignore_case=ignore_case, after=[*node[index + 1 :], *after])
    literal_run([])
    return clauses


def _of(op: Any, arg: Any, *, ignore_case: bool, after: Sequence[tuple[Any, Any]]) -> list[Clause]:
    """The clauses one element of a sequence requires; none for what may match nothing."""
    match op, arg:
        case sre.SUBPATTERN, (_, int(add), int(remove), body):
            scoped = (ignore_case or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            return _clauses(list(body), ignore_case=scoped, after=after)
        case ((sre.MAX_REPEAT | sre.MIN_REPEAT | sre.POSSESSIVE_REPEAT), (int(least), _, body)):
            # What follows a repeated body may be the body again: not known.
            return _clauses(list(body), ignore_case=ignore_case) if least >= 1 else []
        case sre.ASSERT, (_, body):
            # A lookaround's text is in the string the pattern searches, if not in the match.
            return _clauses(list(body), ignore_case=ignore_case)
        case sre.BRANCH, (_, branches):
            each = [
                _clauses(list(branch), ignore_case=ignore_case, after=after) for branch in branches
            ]
            if not all(each):
                return []
            return [frozenset().union(*(max(clauses, key=_selectivity) for clauses in each))]
    # Character classes, anchors, negative lookarounds, back references: no literal required.
    return []


def _next(elements: Sequence[tuple[Any, Any]]) -> Next | None:
    """What the first character matched by `elements` can be, if they must match one and the
    first element that must is simple enough to tell (`_first`); None otherwise."""
    space, chars = False, set[str]()
    for op, arg in elements:
        first = _first(op, arg)
        if first is None:
            return None
        (first_space, first_chars), optional = first
        space, chars = space or first_space, chars | first_chars
        if not optional:
            return Next(space, frozenset(chars))
    return None


def _first(op: Any, arg: Any) -> tuple[tuple[bool, set[str]], bool] | None:
    """For one element: (whitespace?, punctuation) it may start with, and whether it may match
    nothing; None when it is not that simple (letters, which case-folding changes, included)."""
    match op, arg:
        case sre.LITERAL, int(code) if _caseless(chr(code)):
            return (False, {chr(code)}), False
        case sre.IN, list(items):
            space, chars = False, set[str]()
            for item in items:
                match item:
                    case sre.CATEGORY, sre.CATEGORY_SPACE:
                        space = True
                    case sre.LITERAL, int(code) if _caseless(chr(code)):
                        chars.add(chr(code))
                    case _:
                        return None
            return (space, chars), False
        case ((sre.MAX_REPEAT | sre.MIN_REPEAT | sre.POSSESSIVE_REPEAT), (int(least), _, body)):
            first = _first(*body[0]) if len(body) == 1 else None
            return None if first is None else (first[0], first[1] or least == 0)
        case ((sre.AT | sre.ASSERT | sre.ASSERT_NOT), _):
            # Anchors and lookarounds match no character: look past them.
            return (False, set()), True
    return None


def _caseless(char: str) -> bool:
    return char.isascii() and not char.isalnum()


def _selectivity(clause: Clause) -> int:
    """How rarely a clause holds, roughly: by its shortest word (case kept counts double), and
    fewer words first."""
    return min(len(word.text) * (1 if word.folded else 2) for word in clause) * 100 - len(clause)
