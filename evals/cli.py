"""`attache eval run` and `attache eval compare` (see evals/runner.py and evals/compare.py)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from attache.errors import AttacheError
from attache.evals import compare as comparing
from attache.evals.corpus import FIXTURES
from attache.evals.recording import ReplayError
from attache.evals.runner import RunConfig, run
from attache.settings import ModelMode, Settings


@click.group("eval")
def eval_group() -> None:
    """Evaluate extraction on labelled fixtures."""


@eval_group.command("run")
@click.option(
    "--fixtures",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=FIXTURES,
    show_default=True,
)
@click.option("--base-url", help="OpenAI-compatible endpoint [default: ATTACHE_BASE_URL].")
@click.option("--model", help="Model name [default: ATTACHE_MODEL].")
@click.option(
    "--mode",
    type=click.Choice([m.value for m in ModelMode]),
    help="Instructor mode [default: ATTACHE_MODE].",
)
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True)
@click.option(
    "--record",
    type=click.Path(file_okay=False, path_type=Path),
    help="Save every raw model answer here.",
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
    base_url: str | None,
    model: str | None,
    mode: str | None,
    concurrency: int,
    record: Path | None,
    replay: Path | None,
    out: Path | None,
    progress: bool,
    injection: bool,
) -> None:
    """Run the pipeline over FIXTURES, score it and write results and reports."""
    if record and replay:
        raise click.UsageError("--record and --replay exclude each other")
    overrides: dict[str, Any] = {"base_url": base_url, "model": model, "mode": mode}
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        click.echo(f"attache: invalid configuration:\n{exc}", err=True)
        sys.exit(4)
    config = RunConfig(fixtures, settings, out, concurrency, record, replay, progress, injection)
    try:
        folder = asyncio.run(run(config))
    except (AttacheError, ReplayError) as exc:
        click.echo(f"attache eval: {exc}", err=True)
        sys.exit(4 if isinstance(exc, AttacheError) else 5)
    click.echo((folder / "report.md").read_text(encoding="utf-8"))
    click.echo(f"results: {folder}")


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
    """Print metric deltas from BASELINE to CANDIDATE; exit 1 if a gated metric drops."""
    rows = comparing.compare(
        comparing.load_results(baseline), comparing.load_results(candidate), threshold
    )
    click.echo(comparing.table(rows))
    failed = [row.metric for row in rows if row.failed]
    if failed:
        click.echo(f"dropped beyond {threshold}: {', '.join(failed)}", err=True)
        sys.exit(1)
