"""Grounding and normalization: time per article, and aligner accuracy against two baselines.

    .venv/bin/pip install -q -e '.[bench]' && .venv/bin/python -m bench.grounding

1. Time. For every corpus article: build the aligner, align 10 quotes taken from the
   perturbation suite (evals/grounding.py) as one record's evidence, resolve 3 dates, parse
   2 amounts and resolve 10 actor mentions; the median of 20 runs per article, in CPU time
   (`time.process_time`: on shared cores, wall time counts other jobs too). Reported for the
   whole corpus and for the articles of 4,000 characters or more (the targets: a median under
   1 ms an article, and under 5 ms for a 5,000-character article with 10 quotes).
   The same for the work the service really does: the gold records of each labelled article
   (evals/fixtures/), answered as a perfect model would answer them, through the service's own
   stages (an aligner, `merge`, `normalize`): real quotes, dates, amounts and actors, where
   the first workload's quotes are perturbed ones, 3 in 10 of them (a word dropped or
   inflected) fit only for the fuzzy path. Then how often dates fall through every rule to
   dateparser: over these dates, and over the gold dates of the labelled fixtures, each
   against its article's publication date.
2. Accuracy on the perturbation suite, in the same run, for:
   - attache's aligner (service/pipeline/ground.py);
   - exact match only (`str.find`), the baseline every aligner must beat;
   - LangExtract's `WordAligner` (langextract.resolver), with its defaults (fuzzy alignment on,
     threshold 0.75), when langextract is installed.
   A positive case is right when the span found overlaps the quote's true sentence with an
   intersection-over-union of 0.9 or more; a negative one (a name or figure changed, the
   meaning changed with every name and figure kept, a sentence from another article) only when
   nothing is aligned.
"""

from __future__ import annotations

import datetime as dt
import platform
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from importlib.util import find_spec

from attache.evals.corpus import Article, read_articles, read_texts
from attache.evals.fixtures import load_all
from attache.evals.grounding import MEANING_CHANGED, NEGATIVE, Case, Kind, cases, correct
from attache.pipeline.chunk import Chunk
from attache.pipeline.ground import Aligner
from attache.pipeline.merge import ChunkDraft, merge
from attache.pipeline.normalize import actors, dates, money
from attache.pipeline.normalize.records import normalize
from attache.schemas import Actor, ActorKind, ExtractionDraft, RecordType
from tests.evals.synthetic import gold_as_draft

Span = tuple[int, int] | None
Method = Callable[[str, str], Span]

RUNS = 20
DATES = ("this week", "on Tuesday", "in December")
AMOUNTS = ("900 mln dlrs", "USD1 billion")
ACTORS = [
    Actor(name=n, canonical_name=c, kind=k)
    for n, c, k in [
        ("Vladimir Putin", "Vladimir Putin", ActorKind.PERSON),
        ("Putin", "Vladimir Putin", ActorKind.PERSON),
        ("U.S.", "United States", ActorKind.COUNTRY),
        ("Washington", "United States", ActorKind.COUNTRY),
        ("Japan", "Japan", ActorKind.COUNTRY),
        ("James Baker", "James Baker", ActorKind.PERSON),
        ("Baker", "Baker", ActorKind.PERSON),
        ("IMF", "International Monetary Fund", ActorKind.ORGANIZATION),
        ("West Germany", "West Germany", ActorKind.COUNTRY),
        ("Britain", "Britain", ActorKind.COUNTRY),
    ]
]


def ground_and_normalize(text: str, quotes: list[str], published: dt.date) -> None:
    Aligner(text).align_record(quotes)
    for phrase in DATES:
        dates.resolve(phrase, published, dates.Tense.NEAREST)
    for amount in AMOUNTS:
        money.parse(amount)
    registry = actors.Registry()
    for actor in ACTORS:
        registry.add(actor)
    registry.resolve()


def timing(articles: dict[str, str], suite: list[Case]) -> dict[str, float]:
    by_article: dict[str, list[str]] = defaultdict(list)
    for case in suite:
        if not case.negative:
            by_article[case.article_id].append(case.quote)
    published = dt.date(1987, 3, 16)
    medians: dict[str, float] = {}
    ground_and_normalize(next(iter(articles.values())), [], published)  # imports, caches
    for article_id, text in articles.items():
        quotes = (by_article[article_id] * 10)[:10]
        runs = []
        for _ in range(RUNS):
            started = time.process_time()
            ground_and_normalize(text, quotes, published)
            runs.append((time.process_time() - started) * 1000)
        medians[article_id] = statistics.median(runs)
    return medians


def labelled_timing(corpus: dict[str, Article]) -> dict[str, float]:
    """Per labelled article: its gold records, as a perfect model would answer them, through the
    service's own stages (an aligner, `merge`, `normalize`); median CPU ms of `RUNS` runs."""
    medians: dict[str, float] = {}
    for _, fixture in load_all():
        article = corpus[fixture.article_id]
        draft = ExtractionDraft.model_validate(gold_as_draft(fixture))
        parts = [ChunkDraft(Chunk(0, article.text), draft)]
        published = article.published_at
        day = published.date() if isinstance(published, dt.datetime) else published
        runs = []
        for _ in range(RUNS):
            started = time.process_time()
            merged = merge(parts, Aligner(article.text), frozenset(RecordType))
            normalize(merged.drafts, day)
            runs.append((time.process_time() - started) * 1000)
        medians[fixture.article_id] = statistics.median(runs)
    return medians


def dateparser_share(phrases: Sequence[tuple[str, dt.date | None]]) -> tuple[int, int]:
    """How many of `phrases` (each with its publication date) dateparser resolved, of all."""
    before = dates.stats.dateparser_calls
    for phrase, published in phrases:
        dates.resolve(phrase, published, dates.Tense.NEAREST)
    return dates.stats.dateparser_calls - before, len(phrases)


def gold_dates(articles: dict[str, Article]) -> list[tuple[str, dt.date | None]]:
    """The dates of the fixtures' gold records as written, with their articles' dates."""
    found: list[tuple[str, dt.date | None]] = []
    for _, fixture in load_all():
        published = articles[fixture.article_id].published_at
        if isinstance(published, dt.datetime):
            published = published.date()
        found.extend(
            (date.text, published)
            for record in fixture.gold.records
            if (date := getattr(record, "date", None)) is not None
        )
    return found


def attache(text: str, quote: str) -> Span:
    evidence = Aligner(text).align(quote)
    return (
        None if evidence.start is None or evidence.end is None else (evidence.start, evidence.end)
    )


def exact_only(text: str, quote: str) -> Span:
    at = text.find(quote)
    return None if at < 0 else (at, at + len(quote))


def langextract_method() -> Method | None:
    if find_spec("langextract") is None:
        return None
    from langextract import data, resolver  # noqa: PLC0415 - optional, bench-only dependency

    aligner = resolver.WordAligner()

    def align(text: str, quote: str) -> Span:
        extraction = data.Extraction(extraction_class="evidence", extraction_text=quote)
        [[aligned]] = aligner.align_extractions([[extraction]], text)
        interval = aligned.char_interval
        if interval is None or interval.start_pos is None or interval.end_pos is None:
            return None
        return interval.start_pos, interval.end_pos

    return align


def accuracy(
    articles: dict[str, str], suite: list[Case], method: Method
) -> tuple[dict[Kind, float], float]:
    """Share right per kind (IoU >= 0.9), and the share of positive cases whose span at least
    overlaps the true sentence (a lenient reading, for aligners that return partial spans)."""
    right: dict[Kind, list[bool]] = defaultdict(list)
    overlapping: list[bool] = []
    for case in suite:
        span = method(articles[case.article_id], case.quote)
        right[case.kind].append(correct(case, span))
        if not case.negative:
            overlapping.append(correct(case, span, min_overlap=1e-9))
    return {kind: sum(r) / len(r) for kind, r in right.items()}, sum(overlapping) / len(overlapping)


def main() -> None:
    articles = read_texts()
    corpus = read_articles()
    suite = list(cases(corpus))
    medians = timing(articles, suite)
    long_ids = [i for i, text in articles.items() if len(text) >= 4000]
    print(f"# Grounding benchmark ({dt.date.today()}, {platform.python_version()}, "  # noqa: DTZ011
          f"{platform.machine()})\n")  # fmt: skip
    print("## Time: align 10 quotes + 3 dates + 2 amounts + 10 actors, median of 20 runs "
          "(CPU time)\n")  # fmt: skip
    print("| articles | n | median ms | p90 ms | max ms |")
    print("|---|---|---|---|---|")
    for label, ids in (("all", list(articles)), (">= 4,000 chars", long_ids)):
        values = sorted(medians[i] for i in ids)
        p90 = values[int(0.9 * (len(values) - 1))]
        print(f"| {label} | {len(ids)} | {statistics.median(values):.2f} | {p90:.2f} | "
              f"{values[-1]:.2f} |")  # fmt: skip
    labelled = sorted(labelled_timing(corpus).values())
    print("\n## Time: the gold records of each labelled article through merge and normalize, "
          "median of 20 runs (CPU time)\n")  # fmt: skip
    print("| articles | n | median ms | p90 ms | max ms |")
    print("|---|---|---|---|---|")
    print(f"| labelled | {len(labelled)} | {statistics.median(labelled):.2f} | "
          f"{labelled[int(0.9 * (len(labelled) - 1))]:.2f} | {labelled[-1]:.2f} |")  # fmt: skip
    print("\n## Dates resolved by dateparser, not by a rule\n")
    print("| dates | n | dateparser | share |")
    print("|---|---|---|---|")
    published = dt.date(1987, 3, 16)
    for label, phrases in (
        ("timed above, once per article", [(d, published) for _ in articles for d in DATES]),
        ("gold dates of the fixtures", gold_dates(corpus)),
    ):
        calls, n = dateparser_share(phrases)
        print(f"| {label} | {n} | {calls} | {calls / n:.3f} |")

    methods: dict[str, Method] = {"attache": attache, "exact match only": exact_only}
    lx = langextract_method()
    if lx is not None:
        methods["LangExtract WordAligner"] = lx
    measured = {name: accuracy(articles, suite, method) for name, method in methods.items()}
    results = {name: by_kind for name, (by_kind, _) in measured.items()}
    counts: dict[Kind, int] = defaultdict(int)
    for case in suite:
        counts[case.kind] += 1
    print(f"\n## Accuracy on the perturbation suite ({len(suite)} cases)\n")
    print("| case | n | " + " | ".join(results) + " |")
    print("|---|---|" + "---|" * len(results))
    for kind in Kind:
        label = f"{kind.value} (must not align)" if kind in NEGATIVE else kind.value
        cells = " | ".join(f"{r[kind]:.3f}" for r in results.values())
        print(f"| {label} | {counts[kind]} | {cells} |")
    for title, kinds in (
        ("all positive", set(Kind) - NEGATIVE),
        ("all negative", NEGATIVE),
        ("meaning changed, names and figures kept", MEANING_CHANGED),
    ):
        n = sum(counts[k] for k in kinds)
        cells = " | ".join(
            f"{sum(r[k] * counts[k] for k in kinds) / n:.3f}" for r in results.values()
        )
        print(f"| **{title}** | {n} | {cells} |")
    n_positive = sum(counts[k] for k in set(Kind) - NEGATIVE)
    cells = " | ".join(f"{lenient:.3f}" for _, lenient in measured.values())
    print(f"| all positive, any overlap counts | {n_positive} | {cells} |")
    if lx is None:
        print("\nLangExtract is not installed: `.venv/bin/pip install -e '.[bench]'`.")


if __name__ == "__main__":
    main()
