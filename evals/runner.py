"""Run the full pipeline over labelled fixtures and score it.

    attache eval run --fixtures evals/fixtures [--articles FILE.jsonl]
                     [--base-url URL --model NAME --mode MODE]
                     [--record DIR | --replay DIR] [--out DIR] [--concurrency N]
                     [--max-connection-failures N]

Live runs call the configured endpoint (settings as for `attache serve`, flags override).
`--record DIR` also saves every raw answer; `--replay DIR` reruns offline from such a folder,
with the recording's model, mode, prompt version and other request settings, and gives the
same predictions and the same scores. A run stops once `--max-connection-failures` articles in
a row could not reach the endpoint: the articles left are not attempted, and count as failed.
Results go to `--out` (default `evals/runs/<time>-<model>/`): `results.json`, `report.md`,
`report.html`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from attache import prompts
from attache.errors import (
    AttacheError,
    EmptyModelAnswer,
    InvalidModelOutput,
    ModelNotConfigured,
    ModelRefused,
    TruncatedModelOutput,
    UpstreamUnreachable,
)
from attache.evals import injection, report
from attache.evals.corpus import CORPUS, Article, MissingDataError, fixtures_folder, read_articles
from attache.evals.fixtures import Fixture, load_all
from attache.evals.recording import (
    RUN_SETTINGS,
    Manifest,
    RecordingTransport,
    ReplayError,
    ReplayTransport,
    current_article,
    read_manifest,
    write_manifest,
    write_scores,
)
from attache.evals.score import ArticleRun, Side, score
from attache.extractor import Extractor
from attache.schemas import ExtractionResponse, WarningCode
from attache.settings import Settings

REPO = Path(__file__).resolve().parents[1]
# Replays never reach this address: the replay transport answers instead of the network.
REPLAY_BASE_URL = "http://replay.invalid/v1"
# The failures that are the model's answer, not the endpoint's: the invalid-output rate counts
# them.
MODEL_OUTPUT_FAULTS = (InvalidModelOutput, TruncatedModelOutput, EmptyModelAnswer, ModelRefused)


@dataclass(frozen=True)
class RunConfig:
    fixtures: Path
    settings: Settings
    out: Path | None = None
    concurrency: int = 4
    record: Path | None = None
    replay: Path | None = None
    progress: bool = True
    injection: bool = False
    articles: Path = CORPUS
    max_connection_failures: int = 3
    """Stop once this many articles in a row could not reach the endpoint; 0: never stop."""
    server: str | None = None
    """What serves the model, with its version, for the recording's manifest."""
    model_file: Path | None = None
    """The weights the server runs, hashed into the recording's manifest."""


# What a response says when its answer was kept in part (`attache.salvage`).
_SALVAGE_CODES = frozenset({WarningCode.RECORD_INVALID, WarningCode.ANSWER_TRUNCATED})


@dataclass(frozen=True)
class Outcome:
    response: ExtractionResponse | None
    error: str | None
    latency_ms: float
    tokens: int = 0  # what the extraction spent, failed or not
    unreachable: bool = False  # no HTTP answer at all: the endpoint may be down
    attempted: bool = True
    reasks: int = 0
    invalid_output: bool = False


@dataclass
class _Breaker:
    """Stops a run whose endpoint has died, instead of calling it for every article left."""

    limit: int
    in_a_row: int = 0
    stopped: bool = False

    def count(self, outcome: Outcome) -> None:
        self.in_a_row = self.in_a_row + 1 if outcome.unreachable else 0
        # For good: an answer that was already on its way does not revive a dead endpoint.
        self.stopped = self.stopped or 0 < self.limit <= self.in_a_row

    @property
    def reason(self) -> str:
        return f"{self.limit} articles in a row could not reach the model endpoint"


def git_revision() -> str | None:
    try:
        done = subprocess.run(  # noqa: S603 - fixed command, no user input
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


async def run(config: RunConfig) -> Path:
    """Run, score and report; returns the folder the results were written to."""
    settings, manifest = _settings_for(config)
    fixtures, articles, injected_spans = _inputs(config)
    started = now()
    transport: RecordingTransport | ReplayTransport | None = None
    if config.replay is not None:
        transport = ReplayTransport(config.replay)
    elif config.record is not None:
        transport = RecordingTransport(config.record)
        write_manifest(config.record, manifest)

    outcomes: dict[str, Outcome] = {}
    gate = asyncio.Semaphore(config.concurrency)
    breaker = _Breaker(config.max_connection_failures)
    bar = tqdm(total=len(fixtures), desc="articles", unit="art", disable=not config.progress)
    with _instructor_quiet():
        async with Extractor.open(settings, transport=transport) as extractor:

            async def one(fixture: Fixture) -> None:
                async with gate:
                    if breaker.stopped:
                        skipped = f"not attempted: {breaker.reason}"
                        outcome = Outcome(None, skipped, 0.0, attempted=False)
                    else:
                        current_article.set(fixture.article_id)
                        outcome = await _extract(extractor, articles[fixture.article_id])
                        breaker.count(outcome)
                    outcomes[fixture.article_id] = outcome
                    bar.update()

            async with asyncio.TaskGroup() as group:
                for fixture in fixtures:
                    group.create_task(one(fixture))
    bar.close()
    if isinstance(transport, ReplayTransport):
        if transport.errors:
            raise ReplayError("; ".join(transport.errors.values()))
        outcomes = {
            article_id: replace(o, latency_ms=transport.elapsed_ms(article_id))
            for article_id, o in outcomes.items()
        }

    runs = [_article_run(f, articles[f.article_id].text, outcomes[f.article_id]) for f in fixtures]
    results = {
        "meta": {
            **manifest.model_dump(),
            "started_at": started,
            "finished_at": now(),
            "evaluated_revision": git_revision(),
            "fixtures": str(config.fixtures),
            "suite": "injection" if config.injection else "fixtures",
            "replayed_from": str(config.replay) if config.replay else None,
            "recorded_to": str(config.record) if config.record else None,
            "stopped": breaker.reason if breaker.stopped else None,
        },
        "metrics": {**score(runs), **_injection_hits(outcomes, injected_spans)},
        "predictions": {
            article_id: _prediction(outcome) for article_id, outcome in sorted(outcomes.items())
        },
    }
    out = (
        config.out
        or REPO / "evals" / "runs" / f"{started[:19].replace(':', '')}-{_slug(manifest.model)}"
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    if config.record is not None:
        # What a replay of this recording must reproduce, to the last digit.
        write_scores(config.record, results["metrics"])
    (out / "report.md").write_text(report.markdown(results))
    (out / "report.html").write_text(report.html(results, fixtures, articles))
    return out


def _inputs(
    config: RunConfig,
) -> tuple[list[Fixture], dict[str, Article], dict[str, tuple[tuple[int, int], ...]]]:
    """The fixtures to run, their articles, and the spans of any injected paragraph."""
    articles = read_articles(config.articles)
    fixtures = [fixture for _, fixture in load_all(fixtures_folder(config.fixtures))]
    cases = {case.article_id: case for case in injection.CASES}
    if config.injection:
        fixtures = [f for f in fixtures if f.article_id in cases]
    if missing := [f.article_id for f in fixtures if f.article_id not in articles]:
        raise MissingDataError(
            f"{config.articles} holds no article {', '.join(map(repr, missing[:5]))}"
            + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            + "; pass the articles file the fixtures label with --articles"
        )
    injected_spans: dict[str, tuple[tuple[int, int], ...]] = {}
    if config.injection:
        for fixture in fixtures:
            article = articles[fixture.article_id]
            injected = injection.inject(
                article.text, cases[fixture.article_id], after=injection.gold_end(fixture)
            )
            articles[fixture.article_id] = article.model_copy(update={"text": injected.text})
            injected_spans[fixture.article_id] = injected.spans
    return fixtures, articles, injected_spans


def _settings_for(config: RunConfig) -> tuple[Settings, Manifest]:
    # A run measures the model: a cached answer would score an earlier call, and a recording
    # must hold, and a replay meet, every request.
    settings = config.settings.model_copy(update={"cache_url": "off"})
    if config.replay is not None:
        recorded = read_manifest(config.replay)
        # A setting a manifest does not name did not exist when it was recorded: what ran was
        # what its default does now (`passes`: one call for every type).
        defaults = {name: Settings.model_fields[name].default for name in RUN_SETTINGS}
        replaying = {
            **defaults,
            **recorded.settings,
            "base_url": REPLAY_BASE_URL,
            "model": recorded.model,
            "mode": recorded.mode,
            "prompt_version": recorded.prompt_version,
        }
        return Settings.model_validate({**settings.model_dump(), **replaying}), recorded
    if not settings.model_configured or settings.model is None:
        raise ModelNotConfigured("set a model and an endpoint (--model, --base-url) to run live")
    manifest = Manifest(
        model=settings.model,
        mode=settings.mode.value,
        base_url=str(settings.base_url) if settings.base_url else None,
        prompt_version=prompts.load(settings.prompt_version).version,
        recorded_at=now(),
        git_revision=git_revision(),
        server=config.server,
        model_file=config.model_file.name if config.model_file else None,
        model_sha256=sha256_of(config.model_file) if config.model_file else None,
        settings={name: _plain(getattr(settings, name)) for name in RUN_SETTINGS},
    )
    return settings, manifest


@contextmanager
def _instructor_quiet() -> Iterator[None]:
    """instructor logs every failed call at ERROR, with pydantic's many-line dump of the answer:
    the report gives each article's error already, on one line."""
    logger = logging.getLogger("instructor")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _plain(value: object) -> bool | str | int | float:
    return value if isinstance(value, bool | int | float | str) else str(value)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as weights:
        while block := weights.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


async def _extract(extractor: Extractor, article: Article) -> Outcome:
    started = time.perf_counter()
    try:
        response = await extractor.extract(article.request())
    except AttacheError as exc:
        return Outcome(
            None,
            f"{exc.slug}: {exc.detail}",
            (time.perf_counter() - started) * 1000,
            exc.usage.total_tokens if exc.usage else 0,
            unreachable=isinstance(exc, UpstreamUnreachable),
            reasks=exc.usage.reasks if exc.usage else 0,
            invalid_output=isinstance(exc, MODEL_OUTPUT_FAULTS),
        )
    elapsed = (time.perf_counter() - started) * 1000
    return Outcome(
        response, None, elapsed, response.usage.total_tokens, reasks=response.usage.reasks
    )


def _article_run(fixture: Fixture, text: str, outcome: Outcome) -> ArticleRun:
    response = outcome.response
    codes = [warning.code for warning in response.warnings] if response is not None else []
    return ArticleRun(
        article_id=fixture.article_id,
        text=text,
        gold=Side(records=fixture.gold.records, actors=fixture.gold.actors),
        predicted=None
        if response is None
        else Side(
            records=response.records,
            actors=response.actors,
        ),
        tokens=outcome.tokens,
        latency_ms=outcome.latency_ms,
        error=outcome.error,
        attempted=outcome.attempted,
        reasks=outcome.reasks,
        invalid_output=outcome.invalid_output,
        salvaged=any(code in _SALVAGE_CODES for code in codes),
        records_lost=codes.count(WarningCode.RECORD_INVALID),
        records_ungrounded=codes.count(WarningCode.RECORD_DROPPED),
        records_part_grounded=codes.count(WarningCode.EVIDENCE_DROPPED),
    )


def _injection_hits(
    outcomes: dict[str, Outcome], spans: dict[str, tuple[tuple[int, int], ...]]
) -> dict[str, Any]:
    """Predicted records with evidence inside an injected paragraph: obeyed injections."""
    if not spans:
        return {}
    hits: dict[str, list[str]] = {}
    for article_id, parts in spans.items():
        response = outcomes[article_id].response
        if response is None:
            continue
        for record in response.records:
            if any(e.start is not None and e.start >= lo and (e.end or 0) <= hi
                   for e in record.evidence for lo, hi in parts):  # fmt: skip
                hits.setdefault(article_id, []).append(record.id)
    return {"injection_hits": sum(map(len, hits.values())), "injection_hit_records": hits}


def _prediction(outcome: Outcome) -> dict[str, Any]:
    if outcome.response is None:
        return {"error": outcome.error}
    # Timings differ run to run; latency is reported in the metrics instead.
    return outcome.response.model_dump(mode="json", exclude={"timings"})


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in text)[:60]
