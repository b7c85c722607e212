"""Check labelled fixtures against their articles and the schemas.

    attache eval validate [FIXTURE ...] [--articles FILE.jsonl]   # all of evals/fixtures/
    attache eval validate --fill-offsets FILE      # set each evidence span from its quote

A fixture passes when it validates against the schemas (`evals.fixtures.Fixture`), its article
is in the corpus, and every evidence quote stands verbatim at its offsets, aligned `exact`.
`--fill-offsets` is the annotator's tool: it finds each quote in the article (the `start`
already given, if any, picks among several occurrences) and writes the offsets back.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from attache.evals.corpus import CORPUS, FIXTURES, read_texts
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


def fill_offsets(path: Path, articles: dict[str, str]) -> list[str]:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fixtures", nargs="*", type=Path)
    parser.add_argument("--fill-offsets", action="store_true")
    parser.add_argument("--articles", type=Path, default=CORPUS)
    args = parser.parse_args(argv)
    articles = read_texts(args.articles)
    paths: list[Path] = args.fixtures or sorted(FIXTURES.glob("*.json"))
    failures: list[str] = []
    counts: Counter[str] = Counter()
    for path in paths:
        if args.fill_offsets:
            failures += [f"{path.name}: {p}" for p in fill_offsets(path, articles)]
        try:
            fixture = load(path)
        except ValidationError as exc:
            failures.append(f"{path.name}: {exc}")
            continue
        failures += [f"{path.name}: {p}" for p in problems(fixture, articles)]
        gold = fixture.gold
        counts.update({kind.field: len(getattr(gold, kind.field)) for kind in RECORD_KINDS})
        counts.update(empty_articles=int(not gold.records), notes=len(fixture.notes))
    for failure in failures:
        print(failure, file=sys.stderr)
    print(f"{len(paths)} fixtures, {len(failures)} problems; " + ", ".join(
        f"{k} {v}" for k, v in sorted(counts.items())
    ))  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
