from __future__ import annotations

import pytest

from attache.evals.corpus import FIXTURES, Article
from attache.evals.fixtures import Fixture, load


@pytest.fixture(scope="session")
def bop_fixture() -> Fixture:
    return load(FIXTURES / "board-of-peace-2026-01-20.json")


@pytest.fixture
def text(articles: dict[str, Article], bop_fixture: Fixture) -> str:
    """The Board of Peace article's text."""
    value: str = articles[bop_fixture.article_id].text
    return value
