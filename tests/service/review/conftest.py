"""Fixtures of the review store's tests: the store on both databases, and articles to review.

Every store test runs twice, on SQLite (a file in the test's folder) and on a real PostgreSQL
server (Debian's `postgresql`, which `.ci/run` installs), started once per session on a free
port with its data and socket in a temporary folder; each test gets a database of its own.
PostgreSQL refuses to run as root: as root (CI), its programs run as the `postgres` user, in a
folder that user owns.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from attache.evals.corpus import Article
from attache.evals.fixtures import load
from attache.review.store import ReviewStore
from attache.schemas import ExtractionRequest, ExtractionResponse
from attache.schemas.api import Timings, TokenUsage
from attache.schemas.common import Alignment
from tests.fake_upstream import free_port

FIXTURES = Path(__file__).parents[3] / "evals" / "fixtures"
BOARD_OF_PEACE = "board-of-peace-2026-01-20"
PHILIPPINES = "reuters-8049"
"""Two meetings and a funding ask; mtg-2 follows mtg-1."""
NOTHING = "reuters-2364"
"""An article with no records."""
DATABASES = ["sqlite", "postgresql"]

_databases = itertools.count(1)


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    assert found, "PostgreSQL is not installed: .ci/run installs it (apt-get install postgresql)"
    return found[-1].parent  # the newest version installed


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server of its own for the session: the URL of its `postgres` database."""
    bin_dir = _postgres_bin()
    # Not under pytest's tmp folder: as root, that is private to root, and the server's user
    # could not reach its data.
    folder = Path(tempfile.mkdtemp(prefix="attache-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()

    def run(*argv: str) -> None:
        subprocess.run([*as_user, *argv], check=True, capture_output=True)  # noqa: S603

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "attache", "--auth=trust", "--no-sync")
    # Durability off: a test database is thrown away, and fsync is the slow part of a commit.
    options = f"-p {port} -h 127.0.0.1 -k {folder} -c fsync=off -c synchronous_commit=off"
    pg_ctl = str(bin_dir / "pg_ctl")
    run(pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-o", options, "-w", "start")
    try:
        yield f"postgresql://attache@127.0.0.1:{port}/postgres"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder)


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'review.db'}"
    server: str = request.getfixturevalue("postgres_server")
    name = f"review_{next(_databases)}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")  # a name of ours, not input
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[ReviewStore]:
    async with ReviewStore.open(database_url) as opened:
        yield opened


def extraction(
    article: Article, *, as_id: str | None = None
) -> tuple[ExtractionRequest, ExtractionResponse]:
    """The request for `article` and a response whose records are its fixture's gold.

    An invitation's first quote is given as a model may give it, `normalized`: its span is
    right, its text is not the article's (typographic quotes folded to ASCII).
    """
    gold = load(FIXTURES / f"{article.id}.json").gold
    article_id = as_id or article.id
    records = gold.model_dump(mode="json")
    for invitation in records["invitations"][:1]:
        first = invitation["evidence"][0]
        folded = first["quote"].replace("\u201c", '"').replace("\u201d", '"')
        first.update(quote=folded, alignment=Alignment.NORMALIZED)
    response = ExtractionResponse.model_validate(
        {
            **records,
            "id": article_id,
            "model": "test-model",
            "prompt_version": "v1",
            "usage": TokenUsage(),
            "timings": Timings(total_ms=1.0, model_ms=1.0),
        }
    )
    request = ExtractionRequest(text=article.text, id=article_id, published_at=article.published_at)
    return request, response


MEETING_EVIDENCE = (
    "Dmitriev previously visited the United States in December, holding two days of talks with "
    "Witkoff and Kushner before briefing Putin on the outcomes."
)
MEETING_START = 1384


def missed_meeting(article: Article) -> dict[str, Any]:
    """A meeting's fields, evidence placed exactly: what an editor adds."""
    assert article.text[MEETING_START:].startswith(MEETING_EVIDENCE)
    return {
        "participants": [
            {"id": "act-7", "name": "Dmitriev", "canonical_name": "Kirill Dmitriev",
             "kind": "person", "country": "RU"},
            {"id": "act-8", "name": "Witkoff", "canonical_name": "Steve Witkoff",
             "kind": "person", "country": "US"},
        ],
        "status": "held",
        "evidence": [
            {"quote": MEETING_EVIDENCE, "start": MEETING_START,
             "end": MEETING_START + len(MEETING_EVIDENCE), "alignment": "exact"}
        ],
    }  # fmt: skip


@pytest.fixture
async def board_of_peace_id(store: ReviewStore, articles: dict[str, Article]) -> str:
    """The Board of Peace story in review: eight records, of all four types."""
    return await store.add_article(*extraction(articles[BOARD_OF_PEACE]))
