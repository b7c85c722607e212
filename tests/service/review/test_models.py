"""The review store's schema: its migrations build exactly the ORM's tables, on both databases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from attache.evals.corpus import Article
from attache.review.models import Base
from attache.review.store import ReviewStore, engine_url, open_engine
from attache.settings import ServerSettings
from tests.service.review.conftest import BOARD_OF_PEACE, extraction

REPO = Path(__file__).parents[3]


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_the_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    async with ReviewStore.open(database_url):
        pass
    engine = open_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


async def test_reopening_keeps_the_reviews(database_url: str, articles: dict[str, Article]) -> None:
    async with ReviewStore.open(database_url) as store:
        await store.add_article(*extraction(articles[BOARD_OF_PEACE]))
    async with ReviewStore.open(database_url) as store:
        assert (await store.queue()).total == 1


def test_the_alembic_command_migrates_and_finds_the_models_in_step(database_url: str) -> None:
    # The command's way in (env.py without a connection handed over), used to write revisions.
    alembic = [sys.executable, "-m", "alembic"]
    environment = {**os.environ, "ATTACHE_DATABASE_URL": database_url}
    for command in (["upgrade", "head"], ["check"]):
        done = subprocess.run(  # noqa: S603 - our own interpreter
            [*alembic, *command],
            check=False,
            cwd=REPO,
            env=environment,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
    assert "No new upgrade operations detected" in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u:p@db.example:5432/review", "postgresql+psycopg"),
        ("postgres://u@db/review", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db/review", "postgresql+psycopg"),
        ("sqlite:///review.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///review.db", "sqlite+aiosqlite"),
    ],
)
def test_urls_get_the_async_driver(url: str, driver: str) -> None:
    mapped = engine_url(url)
    assert mapped.drivername == driver
    assert mapped.database in {"review", str(Path("review.db"))}


def test_the_default_sqlite_file_is_under_home_and_its_folder_is_made(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("ATTACHE_DATABASE_URL")  # set for every test by tests/conftest.py
    url = ServerSettings().database_url
    assert url.startswith("sqlite:///~/")
    mapped = engine_url(url)
    assert mapped.database == str(tmp_path / ".local/share/attache/review.db")
    assert (tmp_path / ".local/share/attache").is_dir()


@pytest.mark.parametrize("url", ["mysql://u@db/review", "sqlite://", "sqlite:///:memory:"])
def test_other_databases_are_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(ValueError, match="ATTACHE_DATABASE_URL"):
        engine_url(url)


def test_the_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTACHE_DATABASE_URL", "postgresql://review@db/review")
    assert ServerSettings().database_url == "postgresql://review@db/review"
