"""Score predicted records against gold records.

Matching. Per article and record type, predicted and gold records are paired by optimal
(Hungarian) assignment on a similarity in [0, 1]; a pair is only possible when both records
share at least one *key actor* (inviters and invitees; participants and host; issuers;
requester and addressees), compared alias-tolerantly, and are the same event: their evidence
spans overlap, or, quoting different sentences, `MIN_AGREEMENT_APART` of their compared fields
agree. The similarity is the mean of the
record's field scores (relaxed) and its evidence overlap, so among possible pairs the one that
agrees most wins.

Metrics.
- Records: precision, recall and F1 per type; micro (pooled counts) and macro (mean of the
  per-type F1 over the types present in gold or prediction). A rate with nothing to count is
  None ("n/a"), never 1.0: precision of a type nobody predicted, an article with neither gold
  nor predictions; a type with neither is left out of the macro mean. A failed article counts
  as predicting nothing: its gold records are misses, and with no gold it is still failed, not
  perfect. Articles a stopped run never attempted are failed ones too (`not_attempted`).
- Fields: every filled field of every record is an item. A predicted field is right when its
  record is matched and the value agrees with gold's. Precision = right / predicted items,
  recall = right / gold items. *Strict* agreement is equality (actor sets by canonical name,
  exact date windows, exact amounts); *relaxed* accepts aliases ("Putin" for "Vladimir Putin",
  a country by its ISO code), overlapping date windows of any granularity, and amounts within
  5 % in the same currency.
- Status accuracy over matched pairs; a type-confusion table (gold type x predicted type, with
  the gold records nobody predicted and the predictions matching no gold); the grounding rate
  (share of predicted evidence aligned to a span of the article, exact, normalized or fuzzy),
  with the count per alignment; tokens (failed articles' included) and latency per article.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from scipy.optimize import linear_sum_assignment

from attache.schemas import (
    Actor,
    ActorKind,
    CanonicalActor,
    DateMention,
    Evidence,
    Money,
    Record,
    RecordType,
)
from attache.schemas.records import KIND_OF, RECORD_KINDS

AMOUNT_TOLERANCE = 0.05
MIN_AGREEMENT_APART = 0.75
"""Share of compared fields that must agree for two records with no evidence span in common
to count as the same event (a record quoting another sentence of the same story)."""


@dataclass(frozen=True)
class Side:
    """One article's records from one source (gold or a prediction), with its actor table."""

    records: Sequence[Record]
    actors: Sequence[CanonicalActor]

    def of(self, record_type: RecordType) -> list[Record]:
        return [r for r in self.records if r.record_type is record_type]


@dataclass(frozen=True)
class ArticleRun:
    """What the scorer needs of one article."""

    article_id: str
    text: str
    gold: Side
    predicted: Side | None  # None: the extraction failed
    tokens: int = 0
    latency_ms: float = 0.0
    error: str | None = None
    attempted: bool = True  # False: the run stopped before this article (predicted is None)
    reasks: int = 0
    invalid_output: bool = False  # failed because no answer of the model's was valid
    salvaged: bool = False  # the last answer failed, and what held of it was kept
    records_lost: int = 0  # records a salvage left out for failing validation
    records_ungrounded: int = 0  # records dropped: none of their quotes are in the article
    records_part_grounded: int = 0  # records that lost some of their quotes so


class PRF(BaseModel):
    """Counts, and the rates they give; a rate with nothing to count is None (n/a), never 1.0."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        counted = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / counted if counted else None

    def add(self, other: PRF) -> PRF:
        return PRF(tp=self.tp + other.tp, fp=self.fp + other.fp, fn=self.fn + other.fn)

    def summary(self) -> dict[str, float | int | None]:
        return {
            "precision": _round(self.precision),
            "recall": _round(self.recall),
            "f1": _round(self.f1),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass
class _Tally:
    records: dict[RecordType, PRF] = field(default_factory=lambda: {t: PRF() for t in RecordType})
    strict: PRF = field(default_factory=PRF)
    relaxed: PRF = field(default_factory=PRF)
    fields_by_type: dict[tuple[RecordType, str], PRF] = field(default_factory=dict)
    status_right: int = 0
    status_total: int = 0
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    evidence_total: int = 0
    evidence_grounded: int = 0
    by_alignment: dict[str, int] = field(default_factory=dict)

    def confuse(self, gold: str, predicted: str) -> None:
        row = self.confusion.setdefault(gold, {})
        row[predicted] = row.get(predicted, 0) + 1


def score(runs: Sequence[ArticleRun]) -> dict[str, Any]:
    """Every metric of the module docstring, as a JSON-ready dict."""
    total = _Tally()
    per_article: list[dict[str, Any]] = []
    for run in runs:
        tally = _Tally()
        predicted = run.predicted or Side(records=[], actors=[])
        _score_article(run.text, run.gold, predicted, tally)
        _merge(total, tally)
        pooled = _pooled(tally.records.values())
        per_article.append(
            {
                "article_id": run.article_id,
                "records": pooled.summary(),
                "fields_relaxed_f1": _round(tally.relaxed.f1),
                "tokens": run.tokens,
                "latency_ms": round(run.latency_ms, 1),
                "error": run.error,
            }
        )
    present = [f1 for t in RecordType if (f1 := total.records[t].f1) is not None]
    micro = _pooled(total.records.values())
    succeeded = [r for r in runs if r.predicted is not None]
    attempted = [r for r in runs if r.attempted]
    return {
        "articles": len(runs),
        "failed_articles": len(runs) - len(succeeded),
        "not_attempted": sum(not r.attempted for r in runs),
        "records": {
            "micro": micro.summary(),
            "macro_f1": _round(sum(present) / len(present)) if present else None,
            "by_type": {t.value: total.records[t].summary() for t in RecordType},
        },
        "fields": {
            "strict": total.strict.summary(),
            "relaxed": total.relaxed.summary(),
            "by_type": {
                t.value: {
                    agreement: total.fields_by_type.get((t, agreement), PRF()).summary()
                    for agreement in ("strict", "relaxed")
                }
                for t in RecordType
            },
        },
        "status_accuracy": round(total.status_right / total.status_total, 4)
        if total.status_total
        else None,
        "type_confusion": total.confusion,
        "grounding_rate": round(total.evidence_grounded / total.evidence_total, 4)
        if total.evidence_total
        else None,
        "evidence_by_alignment": dict(sorted(total.by_alignment.items())),
        "tokens_per_article": _spread([r.tokens for r in succeeded]),
        # Failed articles spent tokens too (re-asks, retries): counted here, not hidden.
        "tokens_total": sum(r.tokens for r in runs),
        "latency_ms_per_article": _spread([r.latency_ms for r in succeeded]),
        # Of the articles attempted: how many the model answered validly as a whole, how many
        # ended without a usable answer (the model's fault, not the endpoint's), how many were
        # kept in part (`attache.salvage`), how many were re-asked and how many of those
        # re-asks ended in an answer valid as a whole.
        "valid_output_rate": _rate(
            sum(r.predicted is not None and not r.salvaged for r in attempted), len(attempted)
        ),
        "invalid_output_rate": _rate(sum(r.invalid_output for r in attempted), len(attempted)),
        # The grounding rate counts the evidence returned; this is what never reached it.
        "dropped_ungrounded": {
            "records": sum(r.records_ungrounded for r in succeeded),
            "records_losing_quotes": sum(r.records_part_grounded for r in succeeded),
        },
        "salvaged": {
            "articles": sum(r.salvaged for r in succeeded),
            "records_lost": sum(r.records_lost for r in succeeded),
        },
        "reasks": {
            "total": sum(r.reasks for r in runs),
            "articles": sum(r.reasks > 0 for r in runs),
            "rescued": sum(r.reasks > 0 and not r.salvaged for r in succeeded),
        },
        "per_article": per_article,
    }


def _rate(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def _score_article(text: str, gold: Side, predicted: Side, tally: _Tally) -> None:
    unmatched_gold: list[Record] = []
    unmatched_predicted: list[Record] = []
    for record_type in (kind.type for kind in RECORD_KINDS):
        golds, preds = gold.of(record_type), predicted.of(record_type)
        pairs = match(golds, preds, gold, predicted)
        matched_gold = {g for g, _ in pairs}
        matched_pred = {p for _, p in pairs}
        tally.records[record_type] = tally.records[record_type].add(
            PRF(tp=len(pairs), fp=len(preds) - len(pairs), fn=len(golds) - len(pairs))
        )
        for g, p in pairs:
            tally.confuse(record_type.value, record_type.value)
            tally.status_total += hasattr(golds[g], "status")
            tally.status_right += getattr(golds[g], "status", None) == getattr(
                preds[p], "status", object()
            )
        for index, record in enumerate(golds):
            if index not in matched_gold:
                unmatched_gold.append(record)
        for index, record in enumerate(preds):
            if index not in matched_pred:
                unmatched_predicted.append(record)
        _score_fields(record_type, golds, preds, pairs, gold=gold, predicted=predicted, tally=tally)
    _confusions(unmatched_gold, unmatched_predicted, gold, predicted, tally)
    for record in predicted.records:
        for evidence in record.evidence:
            tally.evidence_total += 1
            tally.evidence_grounded += _grounded(text, evidence)
            alignment = str(evidence.alignment)  # a StrEnum, or its value in an unvalidated copy
            tally.by_alignment[alignment] = tally.by_alignment.get(alignment, 0) + 1


def match(
    golds: Sequence[Record], preds: Sequence[Record], gold: Side, predicted: Side
) -> list[tuple[int, int]]:
    """Optimal pairs (gold index, predicted index) of records of one type."""
    if not golds or not preds:
        return []
    similarity = [[similarity_of(g, p, gold, predicted) for p in preds] for g in golds]
    rows, cols = linear_sum_assignment([[-s for s in row] for row in similarity])
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if similarity[r][c] > 0]


def similarity_of(g: Record, p: Record, gold: Side, predicted: Side) -> float:
    """0 when the records cannot pair (another type, no key actor in common), else (0, 1]."""
    if p.record_type is not g.record_type:
        return 0.0
    key = g.key_actors
    if not _share_actor(_actors(g, key), _actors(p, key), gold, predicted):
        return 0.0
    scores = [_agree(getattr(g, f), getattr(p, f), gold, predicted, strict=False)
              for f in g.compared_fields]  # fmt: skip
    agreement = sum(scores) / len(scores)
    overlap = _evidence_overlap(g.evidence, p.evidence)
    # One shared actor is not one event: without evidence in common, the fields must agree.
    if overlap == 0 and agreement < MIN_AGREEMENT_APART:
        return 0.0
    return max(1e-6, (sum(scores) + overlap) / (len(scores) + 1))


def _score_fields(
    record_type: RecordType,
    golds: Sequence[Record],
    preds: Sequence[Record],
    pairs: list[tuple[int, int]],
    *,
    gold: Side,
    predicted: Side,
    tally: _Tally,
) -> None:
    partner = dict(pairs)
    names = KIND_OF[record_type].record.compared_fields
    gold_items = sum(_filled(getattr(g, n)) for g in golds for n in names)
    pred_items = sum(_filled(getattr(p, n)) for p in preds for n in names)
    for strict, prf in ((True, "strict"), (False, "relaxed")):
        right = 0
        for g_index, p_index in partner.items():
            g, p = golds[g_index], preds[p_index]
            right += sum(
                _filled(getattr(p, n))
                and _filled(getattr(g, n))
                and _agree(getattr(g, n), getattr(p, n), gold, predicted, strict=strict) == 1.0
                for n in names
            )
        found = PRF(tp=right, fp=pred_items - right, fn=gold_items - right)
        current: PRF = getattr(tally, prf)
        setattr(tally, prf, current.add(found))
        key = (record_type, prf)
        tally.fields_by_type[key] = tally.fields_by_type.get(key, PRF()).add(found)


def _confusions(
    golds: list[Record], preds: list[Record], gold: Side, predicted: Side, tally: _Tally
) -> None:
    """Gold records left unmatched that a prediction of another type describes."""
    used: set[int] = set()
    for g in golds:
        found = None
        for index, p in enumerate(preds):
            if index in used or p.record_type is g.record_type:
                continue
            g_actors = _actors(g, g.key_actors)
            p_actors = _actors(p, p.key_actors)
            if _share_actor(g_actors, p_actors, gold, predicted) and _evidence_overlap(
                g.evidence, p.evidence
            ):
                found = index
                break
        if found is None:
            tally.confuse(g.record_type.value, "missed")
        else:
            used.add(found)
            tally.confuse(g.record_type.value, preds[found].record_type.value)
    for index, p in enumerate(preds):
        if index not in used:
            tally.confuse("spurious", p.record_type.value)


# --- agreement of values ------------------------------------------------------------------


def _agree(g: Any, p: Any, gold: Side, predicted: Side, *, strict: bool) -> float:
    """1.0 when the two values agree, else 0.0; both empty agree."""
    if not _filled(g) and not _filled(p):
        return 1.0
    if not _filled(g) or not _filled(p):
        return 0.0
    if isinstance(g, Actor) or (isinstance(g, list) and isinstance(g[0], Actor)):
        return float(_same_actors(_as_list(g), _as_list(p), gold, predicted, strict=strict))
    if isinstance(g, DateMention):
        return float(_same_date(g, p, strict=strict))
    if isinstance(g, Money):
        return float(_same_amount(g, p, strict=strict))
    if isinstance(g, str) and isinstance(p, str):
        a, b = _norm(g), _norm(p)
        return float(a == b or (not strict and (a in b or b in a)))
    return float(g == p)


def _same_actors(
    g: list[Actor], p: list[Actor], gold: Side, predicted: Side, *, strict: bool
) -> bool:
    if strict:
        return {_norm(a.canonical_name) for a in g} == {_norm(a.canonical_name) for a in p}
    return all(any(_alias(a, b, gold, predicted) for b in p) for a in g) and all(
        any(_alias(a, b, gold, predicted) for a in g) for b in p
    )


def _share_actor(g: list[Actor], p: list[Actor], gold: Side, predicted: Side) -> bool:
    return any(_alias(a, b, gold, predicted) for a in g for b in p)


def _alias(a: Actor, b: Actor, gold: Side, predicted: Side) -> bool:
    names_a = _names(a, gold)
    names_b = _names(b, predicted)
    if names_a & names_b:
        return True
    if a.kind == b.kind == ActorKind.COUNTRY and a.country and a.country == b.country:
        return True
    surnames_a = {n.split()[-1] for n in names_a if " " in n} | {n for n in names_a if " " not in n}
    surnames_b = {n.split()[-1] for n in names_b if " " in n} | {n for n in names_b if " " not in n}
    return a.kind == b.kind == "person" and bool(surnames_a & surnames_b)


def _names(actor: Actor, side: Side) -> set[str]:
    names = {_norm(actor.name), _norm(actor.canonical_name)}
    actor_id = getattr(actor, "id", None)
    for entry in side.actors:
        if entry.id == actor_id:
            names |= {_norm(n) for n in entry.names} | {_norm(entry.canonical_name)}
    return names - {""}


def _same_date(g: DateMention, p: DateMention, *, strict: bool) -> bool:
    if g.start is None or g.end is None or p.start is None or p.end is None:
        # A window against none is a miss; two unresolved dates agree when the words do.
        both_unresolved = g.start is None and p.start is None
        return both_unresolved and _norm(g.text) == _norm(p.text)
    if strict:
        return (g.start, g.end) == (p.start, p.end)
    return g.start <= p.end and p.start <= g.end


def _same_amount(g: Money, p: Money, *, strict: bool) -> bool:
    if g.value is None or p.value is None:
        return _norm(g.text) == _norm(p.text)
    if g.currency != p.currency:
        return False
    if strict:
        return math.isclose(g.value, p.value)
    return abs(g.value - p.value) <= AMOUNT_TOLERANCE * max(abs(g.value), 1e-9)


def _evidence_overlap(g: Sequence[Evidence], p: Sequence[Evidence]) -> float:
    """The best intersection-over-union between a gold and a predicted evidence span."""
    best = 0.0
    for a_start, a_end in _spans(g):
        for b_start, b_end in _spans(p):
            inter = min(a_end, b_end) - max(a_start, b_start)
            if inter > 0:
                best = max(best, inter / (max(a_end, b_end) - min(a_start, b_start)))
    return best


def _spans(evidence: Sequence[Evidence]) -> list[tuple[int, int]]:
    return [(e.start, e.end) for e in evidence if e.start is not None and e.end is not None]


def _grounded(text: str, evidence: Evidence) -> bool:
    """Aligned (exact, normalized or fuzzy) to a span that lies in the article."""
    start, end = evidence.start, evidence.end
    return start is not None and end is not None and 0 <= start < end <= len(text)


# --- helpers -----------------------------------------------------------------------------


def _actors(record: Record, names: Iterable[str]) -> list[Actor]:
    found: list[Actor] = []
    for name in names:
        found += _as_list(getattr(record, name, None))
    return found


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _filled(value: Any) -> bool:
    return value not in (None, "", [])


_NOT_WORD = re.compile(r"[^\w]+")


def _norm(text: str) -> str:
    words = _NOT_WORD.sub(" ", text.casefold()).split()
    return " ".join(words[1:] if words[:1] == ["the"] else words)


def _pooled(prfs: Iterable[PRF]) -> PRF:
    total = PRF()
    for prf in prfs:
        total = total.add(prf)
    return total


def _merge(total: _Tally, part: _Tally) -> None:
    for record_type in RecordType:
        total.records[record_type] = total.records[record_type].add(part.records[record_type])
    total.strict = total.strict.add(part.strict)
    total.relaxed = total.relaxed.add(part.relaxed)
    for key, prf in part.fields_by_type.items():
        total.fields_by_type[key] = total.fields_by_type.get(key, PRF()).add(prf)
    total.status_right += part.status_right
    total.status_total += part.status_total
    for gold_type, row in part.confusion.items():
        for predicted_type, count in row.items():
            for _ in range(count):
                total.confuse(gold_type, predicted_type)
    total.evidence_total += part.evidence_total
    total.evidence_grounded += part.evidence_grounded
    for alignment, count in part.by_alignment.items():
        total.by_alignment[alignment] = total.by_alignment.get(alignment, 0) + count


def _spread(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "mean": round(sum(ordered) / len(ordered), 1),
        "p50": round(ordered[len(ordered) // 2], 1),
        "p95": round(ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)], 1),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
