"""Labelled fixtures: one article's gold records, in the API's record format.

A fixture is `evals/fixtures/<article id>.json` (its format, `Fixture`, is in
`attache.schemas.fixtures`). Its article text is not copied: it is the corpus article of that
id, and every evidence offset indexes that text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from attache.evals.corpus import FIXTURES
from attache.schemas.fixtures import Fixture, Gold

__all__ = ["Fixture", "Gold", "load", "load_all"]


def load(path: Path) -> Fixture:
    return Fixture.model_validate_json(path.read_text(encoding="utf-8"))


def load_all(folder: Path = FIXTURES) -> Iterator[tuple[Path, Fixture]]:
    for path in sorted(folder.glob("*.json")):
        yield path, load(path)
