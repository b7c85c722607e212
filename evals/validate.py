"""Check labelled fixtures against their articles and the schemas.

    attache eval validate [FIXTURE ...] [--articles FILE.jsonl]   # all of evals/fixtures/
    attache eval validate --fill-offsets FILE      # set each evidence span from its quote

A fixture passes when it validates against the schemas (`attache.evals.fixtures.Fixture`), its
article is in the corpus, and every evidence quote stands verbatim at its offsets, aligned `exact`.
`--fill-offsets` is the annotator's tool: it finds each quote in the article (the `start`
already given, if any, picks among several occurrences) and writes the offsets back.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from attache.evals.corpus import CORPUS, fixtures_folder, read_texts
from attache.evals.fixtures import Fixture, load
from attache.schemas.records import RECORD_KINDS


def problems(fixture: Fixture, articles: dict[str, str]) -> list[str]:
    text = articles.get(fixture.article_id)
    if text is None:
        return [f"article {fixture.article_id!r} is not in the corpus"]
    found: list[str] = []
    for record in fixture.gold.records:
        for evidence in record.evidence:
            if evidence.alignment != "exact" or evidence.start is None:
                found.append(f"{record.id}: gold evidence must be exact with offsets")
            elif text[evidence.start : evidence.end] != evidence.quote:
                found.append(f"{record.id}: {evidence.quote[:60]!r} is not at {evidence.start}")
    return found


def _fill_offsets(path: Path, articles: dict[str, str]) -> list[str]:
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    text = articles.get(raw.get("article_id", ""))
    if text is None:
        return [f"{path}: unknown article_id"]
    missing: list[str] = []
    for kind in RECORD_KINDS:
        for record in raw.get("gold", {}).get(kind.field, []):
            for evidence in record.get("evidence", []):
                quote = evidence["quote"]
                starts = _occurrences(text, quote)
                if not starts:
                    missing.append(f"{record.get('id')}: {quote[:70]!r} not in the article")
                    continue
                hint = evidence.get("start")
                start = (
                    min(starts, key=lambda s: abs(s - hint)) if isinstance(hint, int) else starts[0]
                )
                evidence.update(start=start, end=start + len(quote), alignment="exact")
    path.write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return missing


def _occurrences(text: str, quote: str) -> list[int]:
    starts, at = [], text.find(quote)
    while at >= 0:
        starts.append(at)
        at = text.find(quote, at + 1)
    return starts


@dataclass
class Report:
    checked: int = 0
    failures: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        counted = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        return f"{self.checked} fixtures, {len(self.failures)} problems; {counted}"


def validate(
    paths: list[Path], articles_file: Path = CORPUS, *, fill_offsets: bool = False
) -> Report:
    """Check `paths` (default: every fixture of the repository) against `articles_file`."""
    articles = read_texts(articles_file)
    chosen = paths or sorted(fixtures_folder().glob("*.json"))
    report = Report(checked=len(chosen))
    for path in chosen:
        if fill_offsets:
            report.failures += [f"{path.name}: {p}" for p in _fill_offsets(path, articles)]
        try:
            fixture = load(path)
        except ValidationError as exc:
            report.failures.append(f"{path.name}: {exc}")
            continue
        report.failures += [f"{path.name}: {p}" for p in problems(fixture, articles)]
        gold = fixture.gold
        report.counts.update({kind.field: len(getattr(gold, kind.field)) for kind in RECORD_KINDS})
        report.counts.update(empty_articles=int(not gold.records), notes=len(fixture.notes))
    return report
