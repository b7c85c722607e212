"""`attache eval run`, `compare` and `validate` (evals/runner.py, compare.py, validate.py).

Exit codes are `attache.errors.ExitCode`'s: 5 when a run stopped because the endpoint could not
be reached, 7 when a run had failed articles, 8 when compare finds a gated metric dropped, 9 when
a replay's recording does not fit, 10 for invalid fixtures.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from attache.cli import load_settings
from attache.errors import AttacheError, ExitCode
from attache.evals import compare as comparing
from attache.evals import validate as validating
from attache.evals.corpus import CORPUS, FIXTURES, MissingDataError
from attache.evals.recording import ReplayError
from attache.evals.runner import RunConfig, run
from attache.settings import ModelMode, Settings


@click.group("eval")
def eval_group() -> None:
    """Evaluate extraction on labelled fixtures."""


ARTICLES = click.option(
    "--articles",
    type=click.Path(dir_okay=False, path_type=Path),
    default=CORPUS,
    help="JSONL file of the articles the fixtures label (id, text, published_at) "
    "[default: the repository's corpus].",
)


@eval_group.command("run")
@click.option(
    "--fixtures",
    type=click.Path(file_okay=False, path_type=Path),
    default=FIXTURES,
    help="Folder of fixtures [default: the repository's evals/fixtures].",
)
@ARTICLES
@click.option("--base-url", help="OpenAI-compatible endpoint [default: ATTACHE_BASE_URL].")
@click.option("--model", help="Model name [default: ATTACHE_MODEL].")
@click.option(
    "--mode",
    type=click.Choice([m.value for m in ModelMode]),
    help="Instructor mode [default: ATTACHE_MODE].",
)
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True)
@click.option(
    "--max-connection-failures",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Stop the run once this many articles in a row could not reach the endpoint "
    "(0: never stop).",
)
@click.option(
    "--record",
    type=click.Path(file_okay=False, path_type=Path),
    help="Save every raw model answer here.",
)
@click.option(
    "--server",
    help="With --record: what serves the model, and its version, for the manifest "
    "('llama-cpp-python 0.3.36').",
)
@click.option(
    "--model-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --record: the weights file the server runs; its SHA-256 goes into the manifest.",
)
@click.option(
    "--replay",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Answer from a recording instead of a model (offline).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Results folder [default: evals/runs/<time>-<model>].",
)
@click.option("--progress/--no-progress", default=True)
@click.option(
    "--injection", is_flag=True, help="Run the prompt-injection cases (evals/injection.py) instead."
)
def run_command(
    fixtures: Path,
    articles: Path,
    base_url: str | None,
    model: str | None,
    mode: str | None,
    concurrency: int,
    max_connection_failures: int,
    record: Path | None,
    server: str | None,
    model_file: Path | None,
    replay: Path | None,
    out: Path | None,
    progress: bool,
    injection: bool,
) -> None:
    """Run the pipeline over FIXTURES, score it and write results and reports."""
    if record and replay:
        raise click.UsageError("--record and --replay exclude each other")
    overrides: dict[str, Any] = {"base_url": base_url, "model": model, "mode": mode}
    settings = load_settings(Settings, **{k: v for k, v in overrides.items() if v is not None})
    config = RunConfig(
        fixtures,
        settings,
        out,
        concurrency,
        record,
        replay,
        progress,
        injection,
        articles,
        max_connection_failures,
        server,
        model_file,
    )
    try:
        folder = asyncio.run(run(config))
    except (AttacheError, MissingDataError) as exc:
        click.echo(f"attache eval: {exc}", err=True)
        sys.exit(ExitCode.CONFIG)
    except ReplayError as exc:
        click.echo(f"attache eval: {exc}", err=True)
        sys.exit(ExitCode.RECORDING_MISMATCH)
    click.echo((folder / "report.md").read_text(encoding="utf-8"))
    click.echo(f"results: {folder}")
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    failed, skipped = results["metrics"]["failed_articles"], results["metrics"]["not_attempted"]
    if results["meta"]["stopped"]:
        click.echo(
            f"attache eval: stopped: {results['meta']['stopped']}; {skipped} article(s) not "
            "attempted",
            err=True,
        )
        sys.exit(ExitCode.UPSTREAM)
    if failed:
        click.echo(f"attache eval: {failed} article(s) failed; they count as misses", err=True)
        sys.exit(ExitCode.ARTICLES_FAILED)


@eval_group.command("compare")
@click.argument("baseline", type=click.Path(exists=True, path_type=Path))
@click.argument("candidate", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=0.02,
    show_default=True,
    help="Largest drop of a gated metric that still passes.",
)
def compare_command(baseline: Path, candidate: Path, threshold: float) -> None:
    """Print metric deltas from BASELINE to CANDIDATE; exit 8 if a gated metric drops.

    Both must have scored the same articles (exit 3 otherwise)."""
    before, after = comparing.load_results(baseline), comparing.load_results(candidate)
    if apart := comparing.different_articles(before, after):
        click.echo(f"attache eval compare: the runs scored different articles: {apart}", err=True)
        sys.exit(ExitCode.INPUT)
    rows = comparing.compare(before, after, threshold)
    click.echo(comparing.table(rows))
    failed = [row.metric for row in rows if row.failed]
    if failed:
        click.echo(f"dropped beyond {threshold}: {', '.join(failed)}", err=True)
        sys.exit(ExitCode.METRIC_DROPPED)


@eval_group.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@ARTICLES
@click.option(
    "--fill-offsets", is_flag=True, help="Set each evidence span from its quote (annotators)."
)
def validate_command(paths: tuple[Path, ...], articles: Path, fill_offsets: bool) -> None:
    """Check fixtures (default: all of evals/fixtures) against the schemas and their articles."""
    try:
        report = validating.validate(list(paths), articles, fill_offsets=fill_offsets)
    except MissingDataError as exc:
        click.echo(f"attache eval: {exc}", err=True)
        sys.exit(ExitCode.CONFIG)
    for failure in report.failures:
        click.echo(failure, err=True)
    click.echo(report.summary())
    if report.failures:
        sys.exit(ExitCode.INVALID_FIXTURES)
