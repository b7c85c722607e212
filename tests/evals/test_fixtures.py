"""The labelled fixtures: valid, grounded verbatim, and covering what the suite promises."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from attache.cli import main
from attache.errors import ExitCode
from attache.evals.corpus import FIXTURES, read_articles, read_texts
from attache.evals.fixtures import Fixture, load, load_all
from attache.evals.validate import problems

PATHS = sorted(FIXTURES.glob("*.json"))


@pytest.fixture(scope="module")
def fixtures() -> list[Fixture]:
    return [fixture for _, fixture in load_all()]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_fixture_is_valid_and_its_evidence_verbatim(path: Path) -> None:
    fixture = load(path)
    assert fixture.article_id == path.stem
    assert problems(fixture, read_texts()) == []


def test_fixtures_cover_what_the_suite_promises(fixtures: list[Fixture]) -> None:
    assert len(fixtures) >= 40
    assert "board-of-peace-2026-01-20" in {f.article_id for f in fixtures}
    assert sum(len(f.gold.invitations) for f in fixtures) >= 8
    assert sum(len(f.gold.funding_asks) for f in fixtures) >= 10
    assert sum(len(f.gold.meetings) for f in fixtures) >= 1
    assert sum(len(f.gold.declarations) for f in fixtures) >= 1
    assert sum(not f.gold.records for f in fixtures) >= 6


def test_validator_command_passes() -> None:
    result = CliRunner().invoke(main, ["eval", "validate"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{len(PATHS)} fixtures, 0 problems")


def test_validator_catches_a_quote_off_its_offsets(tmp_path: Path) -> None:
    broken = tmp_path / "board-of-peace-2026-01-20.json"
    text = (FIXTURES / broken.name).read_text().replace('"start": 47,', '"start": 48,', 1)
    assert '"start": 48,' in text
    broken.write_text(text)
    result = CliRunner().invoke(main, ["eval", "validate", str(broken)])
    assert result.exit_code == ExitCode.INVALID_FIXTURES
    assert "is not at 48" in result.stderr


def test_validator_takes_the_articles_from_a_named_file(tmp_path: Path) -> None:
    bop = read_articles()["board-of-peace-2026-01-20"]
    articles = tmp_path / "mine.jsonl"
    articles.write_text(bop.model_dump_json() + "\n", encoding="utf-8")
    fixture = str(FIXTURES / "board-of-peace-2026-01-20.json")
    other = str(FIXTURES / "reuters-288.json")
    ok = CliRunner().invoke(main, ["eval", "validate", fixture, "--articles", str(articles)])
    assert ok.exit_code == 0, ok.output
    missing = CliRunner().invoke(main, ["eval", "validate", other, "--articles", str(articles)])
    assert missing.exit_code == ExitCode.INVALID_FIXTURES
    assert "'reuters-288' is not in the corpus" in missing.stderr
