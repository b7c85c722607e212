"""Fixtures shared by the whole suite. Every upstream call goes to respx; none leaves the host."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import respx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from attache.app import create_app
from attache.evals.corpus import Article, read_articles
from attache.settings import ServerSettings, Settings
from tests.fakes import BASE_URL, COMPLETIONS, MODEL, ok

DATA = Path(__file__).parent / "data"

# No test asserts a timing: hypothesis's per-example deadline would fail a slow first example
# (cold caches, a busy CI machine) as "flaky", not a wrong one.
hypothesis.settings.register_profile("attache", deadline=None)
hypothesis.settings.load_profile("attache")

SettingsFactory = Callable[..., Settings]
ServerFactory = Callable[..., ServerSettings]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer's ATTACHE_* variables or .env file leak into a test."""
    for name in list(os.environ):
        if name.startswith(("ATTACHE_", "OPENAI_")):
            monkeypatch.delenv(name)
    # A cache shared between tests would answer one test's question with another's answer:
    # the cache's own tests turn it on.
    monkeypatch.setenv("ATTACHE_CACHE_URL", "off")
    # The review store of an app a test builds: the test's own, never the user's.
    monkeypatch.setenv("ATTACHE_DATABASE_URL", f"sqlite:///{tmp_path / 'review.db'}")
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def articles() -> dict[str, Article]:
    """The corpus articles (copied unedited into evals/corpus), by id."""
    return read_articles()


@pytest.fixture(scope="session")
def board_of_peace(articles: dict[str, Article]) -> Article:
    return articles["board-of-peace-2026-01-20"]


@pytest.fixture(scope="session")
def board_of_peace_answer() -> dict[str, Any]:
    """A synthetic model answer for the Board of Peace story (see its `note`)."""
    doc = json.loads((DATA / "board_of_peace.answer.json").read_text(encoding="utf-8"))
    assert doc["synthetic"] is True
    answer: dict[str, Any] = doc["answer"]
    return answer


@pytest.fixture
def make_settings() -> SettingsFactory:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "base_url": BASE_URL,
            "model": MODEL,
            "api_key": "test-key",
            "upstream_retries": 1,
            "reasks": 1,
            "deadline_s": 30.0,
            **overrides,
        }
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def make_server() -> ServerFactory:
    def make(**overrides: Any) -> ServerSettings:
        return ServerSettings(_env_file=None, **overrides)

    return make


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings()


@pytest.fixture
def upstream() -> Iterator[respx.MockRouter]:
    """The fake model endpoint. Unmatched requests fail; routes left uncalled fail the test."""
    with respx.mock(base_url=BASE_URL, assert_all_called=True, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def answered(upstream: respx.MockRouter, board_of_peace_answer: dict[str, Any]) -> respx.Route:
    """The fake model endpoint answering every call with the Board of Peace answer."""
    return upstream.post(COMPLETIONS).mock(return_value=ok(board_of_peace_answer))


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client
