"""A cheap test that rules a regular expression out before it runs: the literals a match needs.

    gate = Prefilter(pattern)
    folded = fold(paragraph)                    # once per text, shared by every gate
    if gate.may_match(paragraph, folded):       # False: the pattern cannot match `paragraph`
        pattern.finditer(paragraph)

Python's `re` tries a pattern that opens with a lookbehind or an alternation at every position
of the text: the injection detector's 40 patterns cost about 5 microseconds a character, most of
an extraction's CPU. Almost every text lacks a word each pattern cannot do without ("ignore",
"instructions", "AI"), and `str.__contains__` finds that out in C, hundreds of times faster.

The words are read off the pattern's own syntax tree (`re._parser`, the parser `re.compile`
uses), so they never drift from the pattern: each required piece of a match (a run of
literal characters, a group, a repeat of at least one, an alternation whose every branch requires
something, and the text of a lookahead or lookbehind, which lies in the same string) adds a
clause, a set of words of which the text must contain one. `may_match` is True when every
clause holds. It is a necessary condition only: the pattern decides.

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
from dataclasses import dataclass
from typing import Any

# The parser re.compile uses, and the opcodes of its tree: modules without type stubs.
_parser: Any = importlib.import_module("re._parser")
sre: Any = importlib.import_module("re._constants")

_FOLD_APART = str.maketrans({"\u0131": "i", "\u0307": None})

# A parsed pattern is a sequence of (opcode, argument) pairs; their types are internal to re.
_Node = list[tuple[Any, Any]]


@dataclass(frozen=True)
class Word:
    """A literal a match holds: as written where the pattern is case-sensitive, else folded."""

    text: str
    folded: bool


Clause = frozenset[Word]


def fold(text: str) -> str:
    """`text` case-folded the way `may_match` expects."""
    folded = text.casefold()
    # A translation looks up every character: ten times the cost of the rare check.
    if "\u0131" in folded or "\u0307" in folded:
        return folded.translate(_FOLD_APART)
    return folded


class Prefilter:
    """The literal clauses of one compiled pattern; see the module docstring."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        parsed = list(_parser.parse(pattern.pattern, pattern.flags))
        clauses = dict.fromkeys(_clauses(parsed, ignore_case=bool(pattern.flags & re.IGNORECASE)))
        # The clause likeliest to fail first: most texts are ruled out by one search.
        self.clauses = tuple(sorted(clauses, key=_selectivity, reverse=True))
        # The same, as plain strings by where to look: checked some 400 times an article, and
        # plain loops over strings take a fifth less time than generators over `Word`s.
        self._searches = tuple(
            (
                tuple(word.text for word in clause if word.folded),
                tuple(word.text for word in clause if not word.folded),
            )
            for clause in self.clauses
        )

    def may_match(self, text: str, folded: str) -> bool:
        """False when the pattern cannot match `text`; `folded` is `fold(text)`."""
        for in_folded, as_written in self._searches:
            for word in in_folded:
                if word in folded:
                    break
            else:
                for word in as_written:
                    if word in text:
                        break
                else:
                    return False
        return True


def _clauses(node: _Node, *, ignore_case: bool) -> list[Clause]:
    clauses: list[Clause] = []
    run: list[str] = []

    def literal_run() -> None:
        if run:
            written = "".join(run)
            word = Word(fold(written) if ignore_case else written, folded=ignore_case)
            clauses.append(frozenset({word}))
            run.clear()

    for op, arg in node:
        if op is sre.LITERAL:
            run.append(chr(arg))
            continue
        literal_run()
        clauses += _of(op, arg, ignore_case=ignore_case)
    literal_run()
    return clauses


def _of(op: Any, arg: Any, *, ignore_case: bool) -> list[Clause]:
    """The clauses one element of a sequence requires; none for what may match nothing."""
    match op, arg:
        case sre.SUBPATTERN, (_, int(add), int(remove), body):
            scoped = (ignore_case or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            return _clauses(list(body), ignore_case=scoped)
        case ((sre.MAX_REPEAT | sre.MIN_REPEAT | sre.POSSESSIVE_REPEAT), (int(least), _, body)):
            return _clauses(list(body), ignore_case=ignore_case) if least >= 1 else []
        case sre.ASSERT, (_, body):
            # A lookaround's text is in the string the pattern searches, if not in the match.
            return _clauses(list(body), ignore_case=ignore_case)
        case sre.BRANCH, (_, branches):
            each = [_clauses(list(branch), ignore_case=ignore_case) for branch in branches]
            if not all(each):
                return []
            return [frozenset().union(*(max(clauses, key=_selectivity) for clauses in each))]
    # Character classes, anchors, negative lookarounds, back references: no literal required.
    return []


def _selectivity(clause: Clause) -> int:
    """How rarely a clause holds, roughly: by its shortest word (case kept counts double), and
    fewer words first."""
    return min(len(word.text) * (1 if word.folded else 2) for word in clause) * 100 - len(clause)
