"""Join the chunks' drafts into one list of identified, grounded drafts.

- Drafts of types the caller did not ask for are left out.
- A salvaged answer (`attache.salvage`) says what it lost: a warning for each record left out
  for failing validation, and one for an answer cut at the token limit.
- Evidence quotes are grounded (`ground.Aligner.align_record`) within the chunk they came from.
- Unaligned evidence is dropped, and a record left with no evidence is dropped, each with a
  warning; with `keep_ungrounded` both stay, flagged `unaligned`.
- A record reported twice (the same content, typically from two overlapping chunks) is kept once,
  with the union of its evidence.
- Records get ids `<prefix>-<n>` numbered by where their evidence starts in the article, so ids are
  stable for one response and read in article order.
- Links by the model's local refs become links by record id; a link to a record that does not
  exist is dropped with a warning.
- A record whose every grounded quote lies inside `suspected` passages (`injection.suspect`:
  text that reads like instructions to a model) is flagged with a warning; with
  `drop_suspected`, it is dropped with one, before ids are given, so links to it are dropped too.

Values (dates, money, actors) are left as the model wrote them: normalizing them is the next
stage's job.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from attache.pipeline.chunk import Chunk
from attache.pipeline.ground import Aligner
from attache.schemas import (
    Alignment,
    Evidence,
    ExtractionDraft,
    ExtractionWarning,
    Link,
    RecordType,
    SuspectedInjection,
    WarningCode,
)
from attache.schemas.records import RECORD_KINDS, Draft

_DRAFT_ONLY_FIELDS = {"ref", "evidence", "links"}


@dataclass(frozen=True)
class ChunkDraft:
    chunk: Chunk
    draft: ExtractionDraft
    lost: tuple[str, ...] = ()
    """Records left out of a salvaged answer (`attache.salvage.Drafted.lost`)."""
    truncated: bool = False


@dataclass
class _Entry:
    record_type: RecordType
    draft: Draft
    evidence: list[Evidence]
    sources: list[tuple[int, Draft]] = field(default_factory=list)

    @property
    def position(self) -> float:
        starts = [e.start for e in self.evidence if e.start is not None]
        return min(starts) if starts else math.inf


@dataclass(frozen=True)
class MergedDraft:
    """A draft that made it: its response id, grounded evidence and links by id."""

    id: str
    draft: Draft
    evidence: list[Evidence]
    links: list[Link]


@dataclass(frozen=True)
class Merged:
    drafts: list[MergedDraft]
    warnings: list[ExtractionWarning]


def merge(
    parts: list[ChunkDraft],
    aligner: Aligner,
    types: frozenset[RecordType],
    *,
    keep_ungrounded: bool = False,
    suspected: Sequence[SuspectedInjection] = (),
    drop_suspected: bool = False,
) -> Merged:
    warnings: list[ExtractionWarning] = []
    entries: dict[str, _Entry] = {}
    chunks = len({part.chunk.start for part in parts})
    for index, part in enumerate(parts):
        warnings.extend(_salvage_warnings(part, chunks))
        for draft in part.draft.records:
            if draft.record_type not in types:
                continue
            evidence = aligner.align_record(
                draft.evidence, window=(part.chunk.start, part.chunk.end)
            )
            if not keep_ungrounded:
                evidence = _grounded_only(draft, evidence, warnings)
                if not evidence:
                    continue
            key = _content_key(draft)
            if key in entries:
                entry = entries[key]
                entry.evidence = _union(entry.evidence, evidence)
                warnings.append(
                    ExtractionWarning(
                        code=WarningCode.DUPLICATE_MERGED,
                        message=f"the same {draft.record_type.value} was reported twice",
                    )
                )
            else:
                entry = entries[key] = _Entry(draft.record_type, draft, evidence)
            entry.sources.append((index, draft))

    # Dropped before ids are given: ids stay consecutive and links to a dropped record go too.
    entries = _without_suspected(entries, suspected, warnings) if drop_suspected else entries

    ids: dict[tuple[int, str], str | None] = {}
    ordered: list[tuple[str, _Entry]] = []
    for kind in RECORD_KINDS:
        same_type = sorted(
            (e for e in entries.values() if e.record_type is kind.type),
            key=lambda e: e.position,
        )
        for n, entry in enumerate(same_type, start=1):
            record_id = f"{kind.id_prefix}-{n}"
            ordered.append((record_id, entry))
            for index, source in entry.sources:
                # A label two records of one answer share names neither.
                taken = (index, source.ref) in ids and ids[(index, source.ref)] != record_id
                ids[(index, source.ref)] = None if taken else record_id

    merged: list[MergedDraft] = []
    for record_id, entry in ordered:
        links = _links(record_id, entry, ids, warnings)
        if any(e.alignment is Alignment.UNALIGNED for e in entry.evidence):
            warnings.append(
                ExtractionWarning(
                    code=WarningCode.EVIDENCE_UNALIGNED,
                    message="an evidence quote was not found in the article; kept, flagged",
                    record_id=record_id,
                )
            )
        merged.append(MergedDraft(record_id, entry.draft, entry.evidence, links))
    return Merged(drafts=merged, warnings=warnings + _flag_suspected(merged, suspected))


def _grounded_only(
    draft: Draft, evidence: list[Evidence], warnings: list[ExtractionWarning]
) -> list[Evidence]:
    grounded = [e for e in evidence if e.alignment is not Alignment.UNALIGNED]
    dropped = len(evidence) - len(grounded)
    if dropped and grounded:
        warnings.append(
            ExtractionWarning(
                code=WarningCode.EVIDENCE_DROPPED,
                message=f"{dropped} quote(s) of a {draft.record_type.value} were not in the "
                "article and were dropped",
            )
        )
    elif dropped:
        warnings.append(
            ExtractionWarning(
                code=WarningCode.RECORD_DROPPED,
                message=f"a {draft.record_type.value} was dropped: none of its quotes are in "
                f"the article ({draft.evidence[0][:120]!r})",
            )
        )
    return grounded


def _without_suspected(
    entries: dict[str, _Entry],
    suspected: Sequence[SuspectedInjection],
    warnings: list[ExtractionWarning],
) -> dict[str, _Entry]:
    kept: dict[str, _Entry] = {}
    for key, entry in entries.items():
        if not _only_in(entry.evidence, suspected):
            kept[key] = entry
            continue
        warnings.append(
            ExtractionWarning(
                code=WarningCode.EVIDENCE_IN_SUSPECTED_INJECTION,
                message=f"a {entry.record_type.value} was dropped: every quote of it lies in a "
                "passage that reads like instructions to a model "
                f"({entry.evidence[0].quote[:120]!r})",
            )
        )
    return kept


def _flag_suspected(
    merged: list[MergedDraft], suspected: Sequence[SuspectedInjection]
) -> list[ExtractionWarning]:
    return [
        ExtractionWarning(
            code=WarningCode.EVIDENCE_IN_SUSPECTED_INJECTION,
            message="every quote of this record lies in a passage that reads like instructions "
            "to a model (suspected prompt injection); kept, flagged",
            record_id=record.id,
        )
        for record in merged
        if _only_in(record.evidence, suspected)
    ]


def _only_in(evidence: list[Evidence], suspected: Sequence[SuspectedInjection]) -> bool:
    """True when the record has grounded quotes and each lies inside one suspected passage."""
    spans = [(e.start, e.end) for e in evidence if e.start is not None and e.end is not None]
    return bool(spans) and all(
        any(p.start <= start and end <= p.end for p in suspected) for start, end in spans
    )


def _salvage_warnings(part: ChunkDraft, chunks: int) -> list[ExtractionWarning]:
    where = f" (the chunk at character {part.chunk.start})" if chunks > 1 else ""
    warnings = [
        ExtractionWarning(
            code=WarningCode.RECORD_INVALID,
            message=f"a record in the model's last answer{where} did not validate and was left "
            f"out: {reason}",
        )
        for reason in part.lost
    ]
    if part.truncated:
        warnings.append(
            ExtractionWarning(
                code=WarningCode.ANSWER_TRUNCATED,
                message=f"the model's answer{where} was cut at the output token limit: the "
                "records complete before the cut are kept, any after it are missing",
            )
        )
    return warnings


def _content_key(draft: Draft) -> str:
    # Serialized by pydantic-core, in the class's field order: the same for equal drafts.
    return f"{draft.record_type.value}:{draft.model_dump_json(exclude=_DRAFT_ONLY_FIELDS)}"


def _union(kept: list[Evidence], more: list[Evidence]) -> list[Evidence]:
    seen = {(e.quote, e.start, e.end) for e in kept}
    return kept + [e for e in more if (e.quote, e.start, e.end) not in seen]


def _links(
    record_id: str,
    entry: _Entry,
    ids: dict[tuple[int, str], str | None],
    warnings: list[ExtractionWarning],
) -> list[Link]:
    links: dict[tuple[str, str], Link] = {}
    for index, source in entry.sources:
        for draft_link in source.links:
            target = ids.get((index, draft_link.target_ref))
            if target is None or target == record_id:
                warnings.append(
                    ExtractionWarning(
                        code=WarningCode.LINK_DROPPED,
                        message=f"link {draft_link.relation.value} to {draft_link.target_ref} "
                        "points at no other record, or at more than one",
                        record_id=record_id,
                    )
                )
                continue
            links[(draft_link.relation.value, target)] = Link(
                relation=draft_link.relation, target=target
            )
    return list(links.values())
