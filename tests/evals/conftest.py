from __future__ import annotations

import pytest

from evals.fixtures import FIXTURES, Fixture, load


@pytest.fixture(scope="session")
def bop_fixture() -> Fixture:
    return load(FIXTURES / "board-of-peace-2026-01-20.json")
