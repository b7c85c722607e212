"""The article cut into runs of text, each with the records whose evidence covers it.

A quote's span may overlap another's, of the same record or of another: the text is cut at every
span's start and end, so each run is covered by one fixed set of records, and the page draws a
run once, with the marks of all of them. Quotes without a span (unaligned) mark nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from attache.schemas import Record
from attache.schemas.common import RecordType


@dataclass(frozen=True)
class Run:
    start: int
    end: int
    text: str
    records: tuple[str, ...]
    """Ids of the records whose evidence covers the run, in the order the records came."""
    types: tuple[RecordType, ...]
    """Their types, each once, in the same order."""


def runs(text: str, records: Iterable[Record]) -> list[Run]:
    """`text` as consecutive runs; their texts join to `text` again."""
    spans: list[tuple[int, int, str, RecordType]] = [
        (e.start, e.end, record.id, record.record_type)
        for record in records
        for e in record.evidence
        if e.start is not None and e.end is not None and 0 <= e.start < e.end <= len(text)
    ]
    cuts = sorted({0, len(text), *(s for s, _, _, _ in spans), *(e for _, e, _, _ in spans)})
    out: list[Run] = []
    for start, end in itertools.pairwise(cuts):
        covering = [(rid, kind) for s, e, rid, kind in spans if s <= start and end <= e]
        ids = tuple(dict.fromkeys(rid for rid, _ in covering))
        types = tuple(dict.fromkeys(kind for _, kind in covering))
        out.append(Run(start, end, text[start:end], ids, types))
    return out
