"""A price table turns usage into the cost of each response, and of a batch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import respx

from attache.batch import Output, run_batch
from attache.evals.corpus import Article
from attache.extractor import Extractor
from attache.schemas import ExtractionRequest
from tests.conftest import SettingsFactory
from tests.fakes import COMPLETIONS, MODEL, ok

PRICES = {MODEL: {"input_per_million": 2.5, "output_per_million": 10.0, "currency": "EUR"}}


async def test_each_response_and_the_batch_carry_their_cost(
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
    tmp_path: Path,
) -> None:
    upstream.post(COMPLETIONS).mock(return_value=ok(board_of_peace_answer))
    settings = make_settings(prices=PRICES, cache_url="memory:")
    async with Extractor.open(settings) as extractor:
        paid = await extractor.extract(ExtractionRequest(text=board_of_peace.text))
        cached = await extractor.extract(ExtractionRequest(text=board_of_peace.text))
        source = tmp_path / "in.jsonl"
        source.write_text(json.dumps({"id": "a", "text": board_of_peace.text}) + "\n")
        with source.open("rb") as inp, Output.resume(tmp_path / "out.jsonl") as out:
            summary = await run_batch(extractor, inp, out, concurrency=1, refresh=True)
    usage = paid.usage
    assert paid.cost is not None
    assert paid.cost.currency == "EUR"
    assert paid.cost.amount == pytest.approx(
        (usage.prompt_tokens * 2.5 + usage.completion_tokens * 10.0) / 1_000_000
    )
    assert paid.cost.amount > 0
    assert cached.cost is not None
    assert cached.cost.amount == 0
    assert summary.cost == {"EUR": pytest.approx(paid.cost.amount)}
    assert "cost" in summary.describe()


async def test_a_model_not_in_the_table_has_no_cost(
    make_settings: SettingsFactory, answered: respx.Route, board_of_peace: Article
) -> None:
    settings = make_settings(prices={"another-model": PRICES[MODEL]})
    async with Extractor.open(settings) as extractor:
        response = await extractor.extract(ExtractionRequest(text=board_of_peace.text))
    assert response.cost is None
