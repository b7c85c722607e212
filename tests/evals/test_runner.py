"""The runner end to end, offline: replay, record then replay, stale recordings, a dead endpoint,
an articles file of your own, compare."""

from __future__ import annotations

import json
import logging
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
from attache.evals.corpus import FIXTURES, read_articles
from attache.evals.fixtures import Fixture, load_all
from attache.evals.recording import (
    Answer,
    ReplayError,
    ReplayTransport,
    append_answer,
    current_article,
    request_digest,
    request_fields,
)
from attache.evals.runner import RunConfig, run
from attache.settings import Settings, TokenLimitParam
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


def test_compare_refuses_runs_that_scored_different_articles(tmp_path: Path) -> None:
    def results(name: str, *articles: str) -> str:
        rows = [{"article_id": a} for a in articles]
        metrics = {"records": {"micro": {"f1": 0.5}}, "per_article": rows}
        (tmp_path / name).write_text(json.dumps({"meta": {}, "metrics": metrics}))
        return str(tmp_path / name)

    base = results("base.json", "a", "b", "c")
    same = CliRunner().invoke(main, ["eval", "compare", base, results("same.json", "c", "b", "a")])
    assert same.exit_code == 0, same.output
    other = CliRunner().invoke(main, ["eval", "compare", base, results("other.json", "a", "d")])
    assert other.exit_code == ExitCode.INPUT
    assert "only the baseline scored 2 (b, c); only the candidate scored 1 (d)" in other.stderr
    assert other.stdout == ""


def test_eval_run_without_a_model_exits_4(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["eval", "run", "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 4
    assert "model" in result.stderr


def test_a_run_with_failed_articles_exits_7_and_counts_them_as_misses(
    tmp_path: Path, few: Path
) -> None:
    # One article's recorded answer is a refusal (not retried): that article fails, the run goes on.
    recording, _ = _synthetic_but_the_first(
        few, tmp_path, status=400, body=json.dumps({"error": {"message": "boom"}})
    )
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


def _synthetic_but_the_first(
    few: Path, tmp_path: Path, *, times: int = 1, **answer: Any
) -> tuple[Path, list[Fixture]]:
    """A synthetic recording of `few` whose first article answers with `answer`'s fields over
    the gold answer, `times` in a row."""
    recording = tmp_path / "recording"
    fixtures = fixtures_in(few)
    write_synthetic_recording(recording, fixtures)
    file = recording / f"{fixtures[0].article_id}.jsonl"
    recorded = json.loads(file.read_text(encoding="utf-8").splitlines()[0])
    recorded.update(answer)
    file.write_text((json.dumps(recorded) + "\n") * times, encoding="utf-8")
    return recording, fixtures


def _article_of(request: httpx.Request, texts: dict[str, str]) -> str:
    """Which article a request (first ask or re-ask) is about: its text is in a message."""
    messages = json.loads(request.content)["messages"]
    said = "\n".join(m["content"] for m in messages if isinstance(m.get("content"), str))
    return next(a for a, text in texts.items() if text in said)


async def test_a_replay_restores_every_request_setting_the_recording_was_made_with(
    few: Path, tmp_path: Path
) -> None:
    fixtures = fixtures_in(few)
    texts = {f.article_id: _article_text(f.article_id) for f in fixtures}
    answers = {a: completion(gold_as_draft(f)) for a, f in zip(texts, fixtures, strict=True)}
    retried, reasked = fixtures[1].article_id, fixtures[2].article_id
    asked: dict[str, int] = {}

    def respond(request: httpx.Request) -> httpx.Response:
        article_id = _article_of(request, texts)
        asked[article_id] = asked.get(article_id, 0) + 1
        if asked[article_id] == 1 and article_id == retried:
            return httpx.Response(503, json={"error": {}}, headers={"retry-after-ms": "1"})
        if asked[article_id] == 1 and article_id == reasked:
            return httpx.Response(200, content=completion({"meetings": "not a list"}))
        return httpx.Response(200, content=answers[article_id])

    recorded_with = Settings(
        _env_file=None,
        base_url=BASE_URL,
        model="fake-model",
        max_output_tokens=1536,
        token_limit_param=TokenLimitParam.MAX_COMPLETION_TOKENS,
        temperature=0.3,
        reasks=1,
        reask_temperature=0.7,
        upstream_retries=1,
        salvage=False,
        keep_ungrounded=True,
        injection_policy="drop",
    )
    recording = tmp_path / "recording"
    with respx.mock(base_url=BASE_URL, assert_all_called=True) as upstream:
        upstream.post(COMPLETIONS).mock(side_effect=respond)
        live = await run(RunConfig(few, recorded_with, tmp_path / "live", record=recording,
                                   progress=False))  # fmt: skip
    assert asked == {fixtures[0].article_id: 1, retried: 2, reasked: 2}
    manifest = json.loads((recording / "manifest.json").read_text())
    assert (manifest["model"], manifest["mode"], manifest["base_url"]) == (
        "fake-model", "tools", BASE_URL,
    )  # fmt: skip
    assert manifest["prompt_version"]
    assert manifest["settings"] == {
        "max_output_tokens": 1536, "token_limit_param": "max_completion_tokens",
        "temperature": 0.3, "reasks": 1, "reask_temperature": 0.7, "upstream_retries": 1,
        "chunk_chars": 16_000, "chunk_overlap_chars": 1_000, "passes": "one", "salvage": False,
        "keep_ungrounded": True, "injection_policy": "drop",
    }  # fmt: skip
    # A shell with other settings (no retry, no re-ask, another cap and temperature) replays
    # the recording as it was made: the retried and the re-asked article meet their answers.
    elsewhere = Settings(_env_file=None, mode="json", temperature=0.9, max_output_tokens=4096,
                         reasks=0, reask_temperature=0.0, upstream_retries=0,
                         passes="per-type")  # fmt: skip
    replayed = await run(RunConfig(few, elsewhere, tmp_path / "replay", replay=recording,
                                   progress=False))  # fmt: skip
    a = json.loads((live / "results.json").read_text())
    b = json.loads((replayed / "results.json").read_text())
    assert b["metrics"]["failed_articles"] == 0
    assert a["predictions"] == b["predictions"]


def _stale(recording: Path, fixtures: list[Fixture]) -> list[str]:
    """Two articles' recorded answers made for requests the pipeline no longer sends."""
    write_synthetic_recording(recording, fixtures)
    stale = [fixtures[0].article_id, fixtures[2].article_id]
    for article_id in stale:
        file = recording / f"{article_id}.jsonl"
        answer = json.loads(file.read_text())
        answer["request_sha256"] = "0" * 64
        file.write_text(json.dumps(answer) + "\n")
    return stale


async def test_a_stale_recording_names_each_article_once_and_asks_it_once(
    few: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = _stale(tmp_path / "recording", fixtures_in(few))
    asked: list[str] = []
    answer = ReplayTransport.handle_async_request

    async def counted(self: ReplayTransport, request: httpx.Request) -> httpx.Response:
        asked.append(current_article.get())
        return await answer(self, request)

    monkeypatch.setattr(ReplayTransport, "handle_async_request", counted)
    # SDK retries on: a replay that looked like a connection error would be asked three times.
    settings = Settings(_env_file=None, upstream_retries=2)
    config = RunConfig(few, settings, tmp_path / "out", replay=tmp_path / "recording")
    with pytest.raises(ReplayError) as raised:
        await run(replace(config, progress=False))
    message = str(raised.value)
    for article_id in stale:
        assert message.count(article_id) == 1, message
        assert asked.count(article_id) == 1
    assert message.count("differs from the recorded one") == len(stale)


async def test_a_replay_logs_no_connection_error(
    few: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fixtures = fixtures_in(few)
    recording = tmp_path / "recording"
    _stale(recording, fixtures)
    # And one recorded failure, which instructor would log at ERROR with the answer's dump.
    refused = recording / f"{fixtures[1].article_id}.jsonl"
    answer = json.loads(refused.read_text())
    answer.update(status=400, body=json.dumps({"error": {"message": "boom"}}))
    refused.write_text(json.dumps(answer) + "\n")
    caplog.set_level(logging.DEBUG)
    config = RunConfig(few, Settings(_env_file=None), tmp_path / "out", replay=recording)
    with pytest.raises(ReplayError):
        await run(replace(config, progress=False))
    assert "Connection error" not in caplog.text
    assert "Retrying request" not in caplog.text
    assert not [r for r in caplog.records if r.name.startswith("instructor")]
    assert "Connection error" not in capsys.readouterr().err


async def test_a_failed_article_reports_the_tokens_it_spent(few: Path, tmp_path: Path) -> None:
    # Invalid twice (one re-ask): 150 tokens each, spent for nothing.
    recording, fixtures = _synthetic_but_the_first(
        few, tmp_path, times=2, body=completion({"meetings": "not a list"})
    )
    config = RunConfig(few, Settings(_env_file=None, reasks=1), tmp_path / "out", replay=recording)
    out = await run(replace(config, progress=False))
    metrics = json.loads((out / "results.json").read_text())["metrics"]
    row = next(r for r in metrics["per_article"] if r["article_id"] == fixtures[0].article_id)
    assert row["error"].startswith("invalid-model-output")
    assert row["tokens"] == 300
    assert metrics["tokens_total"] == 300 + 150 * (len(fixtures) - 1)
    [line] = [r for r in (out / "report.md").read_text().splitlines()
              if r.startswith(f"| {fixtures[0].article_id} |")]  # fmt: skip
    assert " | 300 | " in line


@pytest.mark.parametrize(("limit", "attempted"), [(2, 2), (0, 3)])
def test_a_run_stops_once_the_endpoint_cannot_be_reached(
    limit: int, attempted: int, few: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTACHE_UPSTREAM_RETRIES", "0")
    out = tmp_path / "out"
    with respx.mock(base_url=BASE_URL, assert_all_called=True) as upstream:
        route = upstream.post(COMPLETIONS).mock(side_effect=httpx.ConnectError("refused"))
        result = CliRunner().invoke(
            main,
            ["eval", "run", "--fixtures", str(few), "--base-url", BASE_URL, "--model", "m",
             "--concurrency", "1", "--max-connection-failures", str(limit), "--out", str(out),
             "--no-progress"],
        )  # fmt: skip
    assert route.call_count == attempted
    results = json.loads((out / "results.json").read_text())
    metrics, skipped = results["metrics"], 3 - attempted
    assert metrics["failed_articles"] == 3
    assert metrics["not_attempted"] == skipped
    errors = [row["error"] for row in metrics["per_article"]]
    # Each attempted article names the URL it could not reach.
    assert sum(f"{BASE_URL}{COMPLETIONS}" in e for e in errors) == attempted
    assert sum(e.startswith("not attempted") for e in errors) == skipped
    report = (out / "report.md").read_text()
    if skipped:
        assert result.exit_code == ExitCode.UPSTREAM, result.output
        assert f"{skipped} article(s) not attempted" in result.stderr
        assert f"STOPPED EARLY**: {limit} articles in a row" in report
        assert f"3 failed, {skipped} of them not attempted" in report
        assert "STOPPED EARLY" in (out / "report.html").read_text()
    else:
        assert result.exit_code == ExitCode.ARTICLES_FAILED, result.output
        assert results["meta"]["stopped"] is None
        assert "STOPPED" not in report


def test_eval_run_takes_its_articles_from_a_named_file(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    shutil.copy(FIXTURES / "board-of-peace-2026-01-20.json", fixtures)
    bop = read_articles()["board-of-peace-2026-01-20"]
    mine = tmp_path / "mine.jsonl"
    marked = bop.model_copy(update={"text": bop.text + "\n\nA sentence only this file holds."})
    mine.write_text(marked.model_dump_json() + "\n", encoding="utf-8")
    command = ["eval", "run", "--fixtures", str(fixtures), "--base-url", BASE_URL, "--model", "m",
               "--out", str(tmp_path / "out"), "--no-progress", "--articles"]  # fmt: skip
    with respx.mock(base_url=BASE_URL, assert_all_called=True) as upstream:
        route = upstream.post(COMPLETIONS).mock(side_effect=serve_gold(fixtures_in(fixtures)))
        result = CliRunner().invoke(main, [*command, str(mine)])
    assert result.exit_code == 0, result.output
    [call] = route.calls
    user = json.loads(call.request.content)["messages"][-1]["content"]
    assert "A sentence only this file holds." in user
    assert "2026-01-20" in user
    assert "2026-01-20T" not in user  # a date, not midnight
    other = tmp_path / "other.jsonl"
    other.write_text(read_articles()["reuters-288"].model_dump_json() + "\n", encoding="utf-8")
    missing = CliRunner().invoke(main, [*command, str(other)])
    assert missing.exit_code == ExitCode.CONFIG
    assert "holds no article 'board-of-peace-2026-01-20'" in missing.stderr


async def test_an_answer_kept_in_part_is_counted_apart_from_valid_and_failed(
    few: Path, tmp_path: Path
) -> None:
    # The gold answer plus one record that fails validation, twice (one re-ask).
    draft = gold_as_draft(fixtures_in(few)[0])
    draft["meetings"] = [*draft.get("meetings", []), {"ref": "R99"}]
    recording, fixtures = _synthetic_but_the_first(few, tmp_path, times=2, body=completion(draft))
    config = RunConfig(few, Settings(_env_file=None, reasks=1), tmp_path / "out", replay=recording)
    metrics = json.loads((await run(replace(config, progress=False)) / "results.json").read_text())[
        "metrics"
    ]
    assert metrics["failed_articles"] == 0
    assert metrics["salvaged"] == {"articles": 1, "records_lost": 1}
    assert metrics["valid_output_rate"] == round((len(fixtures) - 1) / len(fixtures), 4)
    assert metrics["reasks"] == {"total": 1, "articles": 1, "rescued": 0}
    # The gold records it kept score as they would have.
    row = next(r for r in metrics["per_article"] if r["article_id"] == fixtures[0].article_id)
    assert row["records"]["fp"] == 0


async def test_a_replay_answers_each_request_with_the_answer_recorded_for_its_body(
    tmp_path: Path,
) -> None:
    # Calls of one article that run at once (chunks, per-type passes) reach the network in any
    # order: each must meet its own answer, and a body never recorded still fails.
    bodies = [b'{"pass": "invitations"}', b'{"pass": "meetings"}']
    for body in bodies:
        request = httpx.Request("POST", f"{BASE_URL}{COMPLETIONS}", content=body)
        answer = Answer(status=200, headers={}, body=f"answer to {body.decode()}",
                        elapsed_ms=1.0, request_sha256=request_digest(request),
                        request_fields=request_fields(request))  # fmt: skip
        append_answer(tmp_path, "article", answer)
    replay = ReplayTransport(tmp_path)
    current_article.set("article")
    async with httpx.AsyncClient(transport=replay) as client:
        for body in reversed(bodies):
            response = await client.post(f"{BASE_URL}{COMPLETIONS}", content=body)
            assert response.text == f"answer to {body.decode()}"
        with pytest.raises(Exception, match="holds 2 answer"):
            await client.post(f"{BASE_URL}{COMPLETIONS}", content=bodies[0])
    current_article.set("article")
    async with httpx.AsyncClient(transport=ReplayTransport(tmp_path)) as client:
        with pytest.raises(Exception, match="request 1 differs from the recorded one: pass"):
            await client.post(f"{BASE_URL}{COMPLETIONS}", content=b'{"pass": "declarations"}')
