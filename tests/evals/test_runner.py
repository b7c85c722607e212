"""The runner end to end, offline: replay, record then replay, stale recordings, compare."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from click.testing import CliRunner

from attache.cli import main
from attache.errors import ExitCode
from attache.evals.corpus import FIXTURES
from attache.evals.fixtures import Fixture, load_all
from attache.evals.recording import ReplayError
from attache.evals.runner import RunConfig, run
from attache.settings import Settings
from tests.evals.synthetic import completion, gold_as_draft, write_synthetic_recording
from tests.fakes import BASE_URL, COMPLETIONS


def fixtures_in(folder: Path) -> list[Fixture]:
    return [fixture for _, fixture in load_all(folder)]


@pytest.fixture
def few(tmp_path: Path) -> Path:
    """Three fixtures, the Board of Peace story among them."""
    folder = tmp_path / "fixtures"
    folder.mkdir()
    paths = sorted(FIXTURES.glob("*.json"))
    others = [p for p in paths if "board-of-peace" not in p.name]
    chosen = [FIXTURES / "board-of-peace-2026-01-20.json", *others[:2]]
    for path in chosen:
        shutil.copy(path, folder / path.name)
    return folder


async def test_replaying_gold_answers_scores_one_and_says_synthetic(tmp_path: Path) -> None:
    recording = tmp_path / "recording"
    write_synthetic_recording(recording, fixtures_in(FIXTURES))
    config = RunConfig(FIXTURES, Settings(_env_file=None), tmp_path / "out", replay=recording)
    out = await run(replace(config, progress=False))
    results = json.loads((out / "results.json").read_text())
    assert results["meta"]["synthetic"] is True
    metrics = results["metrics"]
    assert metrics["articles"] == len(fixtures_in(FIXTURES))
    assert metrics["failed_articles"] == 0
    assert metrics["records"]["micro"]["f1"] == 1.0
    assert metrics["grounding_rate"] == 1.0
    assert "SYNTHETIC" in (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    assert "SYNTHETIC" in page
    assert "<mark" in page


def serve_gold(fixtures: list[Fixture]) -> Any:
    answers = {f.article_id: completion(gold_as_draft(f)) for f in fixtures}

    def respond(request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["messages"][-1]["content"]
        article_id = next(a for a in answers if f'"{a}"' in prompt or _article_text(a) in prompt)
        return httpx.Response(200, content=answers[article_id],
                              headers={"content-type": "application/json"})  # fmt: skip

    return respond


def _article_text(article_id: str) -> str:
    from attache.evals.corpus import read_texts  # noqa: PLC0415

    return read_texts()[article_id]


def _without_latency(metrics: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in metrics.items() if k != "latency_ms_per_article"}
    kept["per_article"] = [
        {k: v for k, v in row.items() if k != "latency_ms"} for row in metrics["per_article"]
    ]
    return kept


async def test_a_recorded_run_replays_to_identical_results(few: Path, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, base_url=BASE_URL, model="fake-model", upstream_retries=0)
    recording = tmp_path / "recording"
    with respx.mock(base_url=BASE_URL, assert_all_called=True) as upstream:
        upstream.post(COMPLETIONS).mock(side_effect=serve_gold(fixtures_in(few)))
        config = RunConfig(few, settings, tmp_path / "live", record=recording, progress=False)
        live = await run(config)
    with respx.mock(base_url=BASE_URL, assert_all_mocked=True) as offline:
        config = RunConfig(few, Settings(_env_file=None), tmp_path / "replay", replay=recording)
        replayed = await run(replace(config, progress=False))
        assert not offline.calls
    a = json.loads((live / "results.json").read_text())
    b = json.loads((replayed / "results.json").read_text())
    assert a["predictions"] == b["predictions"]
    assert _without_latency(a["metrics"]) == _without_latency(b["metrics"])
    assert a["meta"]["model"] == b["meta"]["model"] == "fake-model"
    assert b["meta"]["synthetic"] is False


async def test_a_replay_restores_the_recorded_settings_and_names_what_differs(
    few: Path, tmp_path: Path
) -> None:
    recording = tmp_path / "recording"
    recorded_with = Settings(
        _env_file=None, base_url=BASE_URL, model="fake-model", api_key="k", max_output_tokens=1536
    )
    with respx.mock(base_url=BASE_URL, assert_all_called=True) as upstream:
        upstream.post(COMPLETIONS).mock(side_effect=serve_gold(fixtures_in(few)))
        await run(RunConfig(few, recorded_with, tmp_path / "live", record=recording,
                            progress=False))  # fmt: skip
    manifest = json.loads((recording / "manifest.json").read_text())
    assert manifest["settings"]["max_output_tokens"] == 1536
    # A fresh shell with other defaults still replays: the manifest brings the cap back.
    fresh = Settings(_env_file=None, max_output_tokens=4096)
    replayed = await run(RunConfig(few, fresh, tmp_path / "replay", replay=recording,
                                   progress=False))  # fmt: skip
    assert json.loads((replayed / "results.json").read_text())["metrics"]["failed_articles"] == 0
    # A recording whose request really differs names the field.
    manifest["settings"]["max_output_tokens"] = 4096
    (recording / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ReplayError, match=r"max_tokens: recorded 1536, now 4096"):
        await run(RunConfig(few, fresh, tmp_path / "stale", replay=recording, progress=False))


async def test_a_stale_recording_fails_loudly(few: Path, tmp_path: Path) -> None:
    recording = tmp_path / "recording"
    write_synthetic_recording(recording, fixtures_in(few))
    file = next(recording.glob("*.jsonl"))
    answer = json.loads(file.read_text())
    answer["request_sha256"] = "0" * 64  # recorded for a request the pipeline no longer sends
    file.write_text(json.dumps(answer) + "\n")
    with pytest.raises(ReplayError, match="differs from the recorded one"):
        await run(RunConfig(few, Settings(_env_file=None), tmp_path / "out", replay=recording,
                            progress=False))  # fmt: skip


def test_compare_gates_on_a_drop(tmp_path: Path) -> None:
    metrics = {
        "records": {"micro": {"precision": 0.9, "recall": 0.8, "f1": 0.85}, "macro_f1": 0.8,
                    "by_type": {}},
        "fields": {"strict": {"f1": 0.6}, "relaxed": {"f1": 0.7}},
        "status_accuracy": 0.9,
        "grounding_rate": 0.95,
    }  # fmt: skip
    worse = json.loads(json.dumps(metrics))
    worse["records"]["micro"]["f1"] = 0.80
    unmeasured = json.loads(json.dumps(metrics))
    unmeasured["status_accuracy"] = None
    files = (("a.json", metrics), ("same.json", metrics), ("worse.json", worse),
             ("unmeasured.json", unmeasured))  # fmt: skip
    for name, value in files:
        (tmp_path / name).write_text(json.dumps({"meta": {}, "metrics": value}))

    def compare(candidate: str, threshold: str) -> Any:
        baseline = str(tmp_path / "a.json")
        arguments = ["eval", "compare", baseline, str(tmp_path / candidate), "--threshold"]
        return CliRunner().invoke(main, [*arguments, threshold])

    same = compare("same.json", "0.02")
    assert same.exit_code == 0, same.output
    dropped = compare("worse.json", "0.02")
    assert dropped.exit_code == ExitCode.METRIC_DROPPED
    assert "records.micro.f1" in dropped.stderr
    assert compare("worse.json", "0.1").exit_code == 0
    gone = compare("unmeasured.json", "0.1")
    assert gone.exit_code == ExitCode.METRIC_DROPPED
    assert "status_accuracy" in gone.stderr


def test_eval_run_without_a_model_exits_4(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["eval", "run", "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 4
    assert "model" in result.stderr


def test_a_run_with_failed_articles_exits_7_and_counts_them_as_misses(
    tmp_path: Path, few: Path
) -> None:
    recording = tmp_path / "recording"
    fixtures = fixtures_in(few)
    write_synthetic_recording(recording, fixtures)
    # One article's recorded answer is a refusal (not retried): that article fails, the run goes on.
    broken = recording / f"{fixtures[0].article_id}.jsonl"
    answer = json.loads(broken.read_text(encoding="utf-8").splitlines()[0])
    answer.update(status=400, body=json.dumps({"error": {"message": "boom"}}))
    broken.write_text(json.dumps(answer) + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["eval", "run", "--fixtures", str(few), "--replay", str(recording), "--out",
         str(tmp_path / "out"), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == ExitCode.ARTICLES_FAILED, result.output
    assert "1 article(s) failed" in result.stderr
    metrics = json.loads((tmp_path / "out" / "results.json").read_text())["metrics"]
    assert metrics["failed_articles"] == 1
    assert metrics["records"]["micro"]["recall"] < 1.0
