"""Every recording in the repository replays offline to exactly the scores it was made with."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from attache.evals.corpus import FIXTURES, RECORDINGS
from attache.evals.recording import read_manifest, read_scores, scores
from attache.evals.runner import RunConfig, run
from attache.settings import Settings

FOLDERS = sorted(manifest.parent for manifest in RECORDINGS.glob("*/manifest.json"))


def recorded_fixtures(folder: Path, into: Path) -> Path:
    """A fixtures folder holding the fixtures of the articles `folder` has answers for (a run
    stopped early records fewer than all)."""
    into.mkdir()
    for answers in folder.glob("*.jsonl"):
        shutil.copy(FIXTURES / f"{answers.stem}.json", into)
    return into


def test_the_repository_holds_a_recording_of_a_real_model() -> None:
    real = [folder for folder in FOLDERS if not read_manifest(folder).synthetic]
    assert real, f"no recording of a real model in {RECORDINGS}"
    for folder in real:
        manifest = read_manifest(folder)
        assert manifest.server, folder
        assert manifest.model_sha256, folder
        assert len(list(folder.glob("*.jsonl"))) >= 25, folder


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
async def test_a_replay_reproduces_the_recorded_scores(folder: Path, tmp_path: Path) -> None:
    fixtures = recorded_fixtures(folder, tmp_path / "fixtures")
    # The shell's settings are not the recording's: the replay must restore every one.
    shell = Settings(_env_file=None, reasks=0, max_output_tokens=99, keep_ungrounded=True)
    out = await run(RunConfig(fixtures, shell, tmp_path / "out", replay=folder, progress=False))
    results = json.loads((out / "results.json").read_text())
    assert scores(results["metrics"]) == read_scores(folder)


async def test_the_quality_doc_shows_the_replayed_tables(tmp_path: Path) -> None:
    # docs/quality.md names its recording; its tables must be what that recording replays to.
    doc = (Path(__file__).parents[2] / "docs" / "quality.md").read_text()
    folder = next(f for f in FOLDERS if f"evals/recordings/{f.name}/" in doc)
    fixtures = recorded_fixtures(folder, tmp_path / "fixtures")
    out = await run(
        RunConfig(
            fixtures, Settings(_env_file=None), tmp_path / "out", replay=folder, progress=False
        )
    )
    report = (out / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| ") and "|---" not in line]
    tables = report[report.index("## Records") : report.index("## Articles")]
    shown = [line for line in rows if line in tables]
    assert len(shown) > 20
    missing = [line for line in shown if line not in doc]
    assert missing == []
