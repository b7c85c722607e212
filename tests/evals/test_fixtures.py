"""The labelled fixtures: valid, grounded verbatim, and covering what the suite promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from attache.evals.corpus import FIXTURES, read_texts
from attache.evals.fixtures import Fixture, load, load_all
from attache.evals.validate import main, problems

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
    assert main([]) == 0


def test_validator_catches_a_quote_off_its_offsets(tmp_path: Path) -> None:
    broken = tmp_path / "board-of-peace-2026-01-20.json"
    text = (FIXTURES / broken.name).read_text().replace('"start": 47,', '"start": 48,', 1)
    assert '"start": 48,' in text
    broken.write_text(text)
    assert main([str(broken)]) == 1
