from __future__ import annotations

import pytest

from attache.evals.corpus import FIXTURES
from attache.evals.fixtures import Fixture, load


@pytest.fixture(scope="session")
def bop_fixture() -> Fixture:
    return load(FIXTURES / "board-of-peace-2026-01-20.json")
