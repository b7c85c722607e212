"""`attache batch`: one whole line per input line, each id once, resumable after any stop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from attache.batch import (
    Item,
    Output,
    Summary,
    extract_each,
    line_key,
    parse_line,
    run_batch,
)
from attache.errors import ExitCode
from attache.evals.corpus import Article
from attache.extractor import Extractor
from attache.settings import Settings
from tests.conftest import SettingsFactory
from tests.fake_upstream import fake_upstream
from tests.fakes import BASE_URL, COMPLETIONS, EMPTY_ANSWER, completion, error, ok


def requests_file(path: Path, articles: list[Article], *extra: str) -> Path:
    lines = [json.dumps({"id": a.id, "text": a.text}) for a in articles]
    path.write_text("\n".join([*lines, *extra]) + "\n", encoding="utf-8")
    return path


def entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def some(articles: dict[str, Article]) -> list[Article]:
    return list(articles.values())[:6]


async def batch(settings: Settings, source: Path, output: Path, **kwargs: Any) -> Summary:
    with source.open("rb") as inp, Output.resume(output, **kwargs) as out:
        async with Extractor.open(settings) as extractor:
            return await run_batch(extractor, inp, out, concurrency=3)


@given(st.binary(max_size=300) | st.text(max_size=300))
def test_any_line_is_a_request_or_says_why_not(raw: bytes | str) -> None:
    item = parse_line(7, raw)
    assert (item.request is None) != (item.error is None)
    if item.error is not None:
        assert item.error.status == 400
        assert "line 7" in item.error.detail


@given(st.binary(max_size=300) | st.text(max_size=300) | st.builds(
    lambda i: json.dumps({"id": i, "text": "x"}), st.text(max_size=20)
))  # fmt: skip
def test_a_resumed_run_skips_by_the_key_the_full_parse_gives(raw: bytes | str) -> None:
    assert line_key(7, raw) == parse_line(7, raw).key


async def test_one_whole_line_per_input_line_problems_included(
    make_settings: SettingsFactory, some: list[Article], tmp_path: Path
) -> None:
    failing = some[1].id
    source = requests_file(
        tmp_path / "in.jsonl", some, "", "{not json", json.dumps({"text": "no id"}),
        json.dumps({"id": some[0].id, "text": "the same id again"}),
    )  # fmt: skip

    def model(request: httpx.Request) -> httpx.Response:
        if some[1].text[:200] in request.content.decode("unicode_escape"):
            return error(400, "no")
        return ok(EMPTY_ANSWER)

    with respx.mock(base_url=BASE_URL) as upstream:
        route = upstream.post(COMPLETIONS).mock(side_effect=model)
        summary = await batch(make_settings(), source, tmp_path / "out.jsonl")
    got = entries(tmp_path / "out.jsonl")
    assert route.call_count == len(some)
    assert sorted(e["line"] for e in got) == [1, 2, 3, 4, 5, 6, 8, 9]  # 7 blank, 10 a duplicate
    by_line = {e["line"]: e for e in got}
    assert by_line[8]["problem"]["type"].endswith(":malformed-json")
    assert by_line[9]["problem"]["type"].endswith(":invalid-request")
    assert by_line[9]["id"] is None
    assert by_line[2]["id"] == failing
    assert by_line[2]["problem"]["type"].endswith(":upstream-rejected")
    assert all("response" in by_line[n] for n in (1, 3, 4, 5, 6))
    assert (summary.done, summary.failed, summary.duplicates, summary.skipped) == (5, 3, 1, 0)
    assert summary.problems_in_output == 3


async def test_a_rerun_cuts_a_torn_line_and_skips_what_is_done(
    make_settings: SettingsFactory, some: list[Article], tmp_path: Path
) -> None:
    source = requests_file(tmp_path / "in.jsonl", some)
    output = tmp_path / "out.jsonl"
    with respx.mock(base_url=BASE_URL) as upstream:
        upstream.post(COMPLETIONS).mock(return_value=ok(EMPTY_ANSWER))
        await batch(make_settings(), source, output)
    # Killed while writing its third line:
    lines = output.read_bytes().splitlines(keepends=True)
    output.write_bytes(b"".join(lines[:2]) + lines[2][: len(lines[2]) // 2])
    with respx.mock(base_url=BASE_URL) as upstream:
        route = upstream.post(COMPLETIONS).mock(return_value=ok(EMPTY_ANSWER))
        summary = await batch(make_settings(), source, output)
    assert route.call_count == len(some) - 2
    assert summary.skipped == 2
    assert sorted(e["id"] for e in entries(output)) == sorted(a.id for a in some)


async def test_retry_failed_does_the_failed_articles_again_and_keeps_each_id_once(
    make_settings: SettingsFactory, some: list[Article], tmp_path: Path
) -> None:
    source = requests_file(tmp_path / "in.jsonl", some)
    output = tmp_path / "out.jsonl"
    with respx.mock(base_url=BASE_URL) as upstream:
        upstream.post(COMPLETIONS).mock(side_effect=[error(400), *[ok(EMPTY_ANSWER)] * 10])
        first = await batch(make_settings(upstream_retries=0), source, output)
    assert first.problems_in_output == 1
    with respx.mock(base_url=BASE_URL) as upstream:
        route = upstream.post(COMPLETIONS).mock(return_value=ok(EMPTY_ANSWER))
        again = await batch(make_settings(), source, output)
        assert route.call_count == 0  # without --retry-failed, a problem line is an answer
        retried = await batch(make_settings(), source, output, retry_failed=True)
        assert route.call_count == 1
    assert (again.problems_in_output, retried.problems_in_output) == (1, 0)
    got = entries(output)
    assert sorted(e["id"] for e in got) == sorted(a.id for a in some)
    assert all("response" in e for e in got)


async def test_no_more_than_concurrency_articles_are_in_flight(
    make_settings: SettingsFactory, articles: dict[str, Article], tmp_path: Path
) -> None:
    source = requests_file(tmp_path / "in.jsonl", list(articles.values())[:12])
    in_flight, most = 0, 0

    async def model(_request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return ok(EMPTY_ANSWER)

    with respx.mock(base_url=BASE_URL) as upstream:
        upstream.post(COMPLETIONS).mock(side_effect=model)
        summary = await batch(make_settings(), source, tmp_path / "out.jsonl")
    assert summary.done == 12
    assert most == 3


# --- the command, as a process ---------------------------------------------------------------


def _command(base_url: str, *args: str | Path, **popen: Any) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ATTACHE_BASE_URL": base_url,
        "ATTACHE_MODEL": "fake-model",
        "ATTACHE_API_KEY": "k",
    }
    argv = [sys.executable, "-m", "attache", "batch", *map(str, args), "--no-progress"]
    return subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, **popen)  # noqa: S603


def _wait_for_lines(output: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if output.exists() and output.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"{output} never reached {count} lines")


def _many(tmp_path: Path, count: int) -> Path:
    source = tmp_path / "in.jsonl"
    lines = (
        json.dumps({"id": f"a{n}", "text": f"Article {n}: ministers met."}) for n in range(count)
    )
    source.write_text("\n".join(lines) + "\n")
    return source


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_killed_or_interrupted_then_rerun_answers_every_id_exactly_once(
    how: signal.Signals, tmp_path: Path
) -> None:
    source, output = _many(tmp_path, 60), tmp_path / "out.jsonl"
    answer = completion(EMPTY_ANSWER)
    with fake_upstream(lambda _body: answer, latency_s=0.05) as (base_url, received):
        first = _command(base_url, source, "-o", output, "--concurrency", "4")
        _wait_for_lines(output, 20, first)
        first.send_signal(how)
        _, stderr = first.communicate(timeout=60)
        if how is signal.SIGINT:
            assert first.returncode == ExitCode.INTERRUPTED
            assert b"INTERRUPTED" in stderr
            assert output.read_bytes().endswith(b"\n")  # a clean stop writes whole lines only
        else:
            assert first.returncode == -signal.SIGKILL
        stopped_at = len(entries(output)) if output.read_bytes().endswith(b"\n") else None
        second = _command(base_url, source, "-o", output)
        _, stderr = second.communicate(timeout=120)
    assert second.returncode == 0, stderr.decode()
    got = [e["id"] for e in entries(output)]
    assert sorted(got) == sorted(f"a{n}" for n in range(60))
    if stopped_at is not None:
        assert f"{stopped_at} skipped".encode() in stderr
    assert len(received) < 60 + 8  # at most the abandoned in-flight ones asked twice


def test_stdin_to_stdout(tmp_path: Path) -> None:
    source = _many(tmp_path, 5)
    answer = completion(EMPTY_ANSWER)
    with fake_upstream(lambda _body: answer) as (base_url, _received):
        process = _command(base_url, "-", stdin=source.open("rb"), stdout=subprocess.PIPE)
        stdout, _stderr = process.communicate(timeout=60)
    assert process.returncode == 0
    got = [json.loads(line) for line in stdout.decode().splitlines()]
    assert sorted(e["id"] for e in got) == [f"a{n}" for n in range(5)]


async def test_closing_the_stream_early_leaves_no_extraction_behind(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    async def slow(_request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return ok(EMPTY_ANSWER)

    async def items() -> AsyncIterator[Item]:
        for n in range(50):
            yield parse_line(n + 1, json.dumps({"id": f"a{n}", "text": f"Talks {n}."}))

    before = asyncio.all_tasks()
    with respx.mock(base_url=BASE_URL) as upstream:
        route = upstream.post(COMPLETIONS).mock(side_effect=slow)
        async with Extractor.open(make_settings()) as extractor:
            answers = extract_each(extractor, items(), 4)
            assert "response" in await anext(answers)
            await answers.aclose()
            left = asyncio.all_tasks() - before
            asked = route.call_count
            await asyncio.sleep(0.2)
    assert left == set()
    assert route.call_count == asked  # nothing was asked after the close
