"""The result cache: keyed by everything that decides the answer, one model call per question
(in a process, and across replicas sharing Redis), never a cached failure, fails open."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

from attache import prompts
from attache.app import create_app
from attache.cache import KEYED_SETTINGS, LOCK_TTL_S, key_for
from attache.errors import UpstreamRejected
from attache.evals.corpus import Article
from attache.extractor import Extractor
from attache.schemas import ExtractionRequest
from attache.settings import Settings
from tests.conftest import SettingsFactory
from tests.fake_upstream import free_port
from tests.fakes import BASE_URL, COMPLETIONS, error, ok

# --- the key ---------------------------------------------------------------------------------

CHANGED: dict[str, Any] = {
    "model": "another-model", "base_url": "http://elsewhere.test/v1", "mode": "json",
    "temperature": 0.5, "max_output_tokens": 999, "token_limit_param": "max_completion_tokens",
    "reasks": 3, "reask_temperature": 0.9, "chunk_chars": 9000, "chunk_overlap_chars": 500,
    "passes": "per-type", "salvage": False, "keep_ungrounded": True, "injection_policy": "drop",
}  # fmt: skip


def test_every_keyed_setting_is_tried_here() -> None:
    assert set(CHANGED) == set(KEYED_SETTINGS)


def _key(settings: Settings, request: ExtractionRequest) -> str:
    return key_for(request, settings, prompts.load(settings.prompt_version))


@pytest.mark.parametrize("name", KEYED_SETTINGS)
def test_a_setting_that_decides_the_answer_changes_the_key(
    name: str, make_settings: SettingsFactory
) -> None:
    request = ExtractionRequest(text="Ministers met in Davos.")
    assert _key(make_settings(), request) != _key(make_settings(**{name: CHANGED[name]}), request)


def test_the_article_its_date_its_types_and_the_prompt_change_the_key_its_id_does_not(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings()
    base = ExtractionRequest(text="Ministers met in Davos.", published_at="2026-01-20")
    keys = {
        _key(settings, base),
        _key(settings, base.model_copy(update={"text": "Ministers met in Paris."})),
        _key(settings, ExtractionRequest(text=base.text, published_at="2026-01-21")),
        _key(
            settings,
            ExtractionRequest(text=base.text, published_at="2026-01-20", types=["meeting"]),
        ),
        _key(make_settings(prompt_version="v2"), base),
    }
    assert len(keys) == 5
    assert _key(settings, base.model_copy(update={"id": "another-id"})) == _key(settings, base)


@given(st.text(min_size=1), st.text(min_size=1))
def test_two_texts_share_a_key_only_when_equal(a: str, b: str) -> None:
    settings = Settings(_env_file=None, model="m", base_url=BASE_URL)
    same = _key(settings, ExtractionRequest.model_construct(text=a, types=frozenset()))
    other = _key(settings, ExtractionRequest.model_construct(text=b, types=frozenset()))
    assert (same == other) == (a == b)


# --- one process -----------------------------------------------------------------------------


def _request(article: Article, article_id: str = "first") -> ExtractionRequest:
    return ExtractionRequest(id=article_id, text=article.text)


async def test_a_repeated_question_is_answered_from_the_cache_at_no_cost(
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    route = upstream.post(COMPLETIONS).mock(return_value=ok(board_of_peace_answer))
    async with Extractor.open(make_settings(cache_url="memory:")) as extractor:
        first = await extractor.extract(_request(board_of_peace))
        again = await extractor.extract(_request(board_of_peace, "second"))
        refreshed = await extractor.extract(_request(board_of_peace, "third"), refresh=True)
    assert route.call_count == 2  # the first and the refresh
    assert first.cache is not None
    assert again.cache is not None
    assert refreshed.cache is not None
    assert (first.cache.hit, again.cache.hit, refreshed.cache.hit) == (False, True, False)
    assert first.cache.key == again.cache.key == refreshed.cache.key
    assert again.id == "second"
    assert again.usage.total_tokens == 0
    assert first.usage.total_tokens > 0
    strip = {"id", "usage", "timings", "cache"}
    assert again.model_dump(exclude=strip) == first.model_dump(exclude=strip)


async def test_identical_questions_in_flight_make_one_call(
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    async def slow(_request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.2)
        return ok(board_of_peace_answer)

    route = upstream.post(COMPLETIONS).mock(side_effect=slow)
    async with Extractor.open(make_settings(cache_url="memory:")) as extractor:
        answers = await asyncio.gather(
            *(extractor.extract(_request(board_of_peace, f"r{n}")) for n in range(5))
        )
    assert route.call_count == 1
    assert sorted(a.cache.hit for a in answers if a.cache) == [False, True, True, True, True]
    assert [a.id for a in answers] == [f"r{n}" for n in range(5)]


async def test_the_call_goes_on_while_anyone_waits_and_stops_when_all_have_left(
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    finished: list[bool] = []

    async def slow(_request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.3)
        finished.append(True)
        return ok(board_of_peace_answer)

    upstream.post(COMPLETIONS).mock(side_effect=slow)
    async with Extractor.open(make_settings(cache_url="memory:")) as extractor:
        leader = asyncio.create_task(extractor.extract(_request(board_of_peace)))
        follower = asyncio.create_task(extractor.extract(_request(board_of_peace, "f")))
        await asyncio.sleep(0.1)
        leader.cancel()  # its client left; the follower still waits
        answer = await follower
        assert answer.cache is not None
        assert answer.cache.hit
        assert finished == [True]
        alone = asyncio.create_task(extractor.extract(_request(board_of_peace), refresh=True))
        await asyncio.sleep(0.1)
        alone.cancel()
        await asyncio.sleep(0.4)
    assert finished == [True]  # the lone requester left: its call was cancelled


async def test_a_failure_is_not_kept(
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    upstream.post(COMPLETIONS).mock(side_effect=[error(400), ok(board_of_peace_answer)])
    settings = make_settings(cache_url="memory:", upstream_retries=0)
    async with Extractor.open(settings) as extractor:
        with pytest.raises(UpstreamRejected):
            await extractor.extract(_request(board_of_peace))
        answer = await extractor.extract(_request(board_of_peace))
    assert answer.cache is not None
    assert not answer.cache.hit


async def test_the_default_folder_store_outlives_the_process_until_its_ttl(
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
    tmp_path: Path,
) -> None:
    route = upstream.post(COMPLETIONS).mock(return_value=ok(board_of_peace_answer))
    settings = make_settings(cache_url=f"file:{tmp_path / 'cache'}", cache_ttl_s=1)
    for _ in range(2):  # two processes, one after the other
        async with Extractor.open(settings) as extractor:
            answer = await extractor.extract(_request(board_of_peace))
    assert route.call_count == 1
    assert answer.cache is not None
    assert answer.cache.hit
    [kept] = (tmp_path / "cache").iterdir()
    # JSON (never pickle), inside Litestar's small binary header with the expiry.
    assert b'{"stored_at": "' in kept.read_bytes()
    await asyncio.sleep(1.1)
    async with Extractor.open(settings) as extractor:
        answer = await extractor.extract(_request(board_of_peace))
    assert route.call_count == 2
    assert answer.cache is not None
    assert not answer.cache.hit


async def test_no_cache_in_the_request_asks_the_model_again_over_http(
    make_settings: SettingsFactory, answered: respx.Route, board_of_peace: Article
) -> None:
    app = create_app(make_settings(cache_url="memory:"))
    body = {"id": "a", "text": board_of_peace.text}
    async with AsyncTestClient(app=app) as client:
        first = (await client.post("/v1/extractions", json=body)).json()
        hit = (await client.post("/v1/extractions", json=body)).json()
        fresh = await client.post(
            "/v1/extractions", json=body, headers={"cache-control": "no-cache"}
        )
    assert (first["cache"]["hit"], hit["cache"]["hit"], fresh.json()["cache"]["hit"]) == (
        False, True, False,
    )  # fmt: skip
    assert answered.call_count == 2


# --- replicas sharing Redis ------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A real Redis server (Debian's redis-server) on a free port, for this module."""
    server = shutil.which("redis-server")
    assert server, "redis-server is not installed: .ci/run installs it (apt-get)"
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - a fixed argv
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_replicas_sharing_redis_make_one_call_for_one_question(
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
    redis_url: str,
) -> None:
    async def slow(_request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.5)
        return ok(board_of_peace_answer)

    route = upstream.post(COMPLETIONS).mock(side_effect=slow)
    settings = make_settings(cache_url=redis_url, temperature=0.11)  # a key of this test's own
    async with Extractor.open(settings) as one, Extractor.open(settings) as two:
        answers = await asyncio.gather(
            one.extract(_request(board_of_peace, "a")),
            two.extract(_request(board_of_peace, "b")),
            two.extract(_request(board_of_peace, "c")),
        )
        later = await one.extract(_request(board_of_peace, "d"))
    assert route.call_count == 1
    assert sorted(a.cache.hit for a in answers if a.cache) == [False, True, True]
    assert later.cache is not None
    assert later.cache.hit


async def test_a_crashed_replicas_claim_lapses_and_another_calls_the_model(
    make_settings: SettingsFactory,
    answered: respx.Route,
    board_of_peace: Article,
    redis_url: str,
) -> None:
    import redis.asyncio as redis  # noqa: PLC0415

    settings = make_settings(cache_url=redis_url, temperature=0.22)
    key = key_for(_request(board_of_peace), settings, prompts.load(settings.prompt_version))
    client = redis.Redis.from_url(redis_url)
    # What a replica that died mid-call leaves: its claim, never renewed, expiring in 1 s.
    await client.set(f"attache:lock:{key}", b"dead-replica", px=1000)
    await client.aclose()
    started = time.monotonic()
    async with Extractor.open(settings) as extractor:
        answer = await extractor.extract(_request(board_of_peace))
    waited = time.monotonic() - started
    assert answered.call_count == 1
    assert answer.cache is not None
    assert not answer.cache.hit
    assert 0.8 < waited < LOCK_TTL_S


async def test_an_unreachable_cache_costs_the_cache_not_the_answer(
    make_settings: SettingsFactory, answered: respx.Route, board_of_peace: Article
) -> None:
    settings = make_settings(cache_url=f"redis://127.0.0.1:{free_port()}/0")
    async with Extractor.open(settings) as extractor:
        answer = await extractor.extract(_request(board_of_peace))
    assert answered.call_count == 1
    assert answer.records


def test_an_unknown_cache_scheme_is_a_configuration_error(
    make_settings: SettingsFactory, board_of_peace: Article
) -> None:
    async def go() -> None:
        async with Extractor.open(make_settings(cache_url="ftp://x")):
            pass

    with pytest.raises(ValueError, match="ATTACHE_CACHE_URL"):
        asyncio.run(go())
