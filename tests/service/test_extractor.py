"""The pipeline through the Python API: chunked articles, concurrency, failure of one chunk."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from attache.errors import EmptyArticle, ModelNotConfigured, UpstreamRejected
from attache.evals.corpus import Article
from attache.extractor import Extractor
from attache.schemas import ExtractionRequest, RecordType
from tests.conftest import SettingsFactory
from tests.fakes import COMPLETIONS, EMPTY_ANSWER, error, ok

VENICE = "reuters-17953"


def venice_meeting(quote: str) -> dict[str, Any]:
    return {
        **EMPTY_ANSWER,
        "meetings": [
            {
                "ref": "R1",
                "participants": [
                    {"name": "summit countries", "canonical_name": "Group of Seven",
                     "kind": "organization"},
                ],
                "place": "Venice",
                "status": "planned",
                "topics": ["world growth"],
                "format": "multilateral",
                "date": "June 8-10",
                "evidence": [quote],
            }
        ],
    }  # fmt: skip


async def test_long_article_is_read_in_chunks_and_merged(
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    articles: dict[str, Article],
) -> None:
    article = articles[VENICE]
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["messages"][-1]["content"])
        # Every chunk reports the summit; the quote is reflowed the way models quote.
        return ok(venice_meeting("The Venice summit on June 8-10 is likely to disappoint"))

    route = upstream.post(COMPLETIONS).mock(side_effect=answer)
    settings = make_settings(chunk_chars=2500, chunk_overlap_chars=200)
    async with Extractor.open(settings) as extractor:
        response = await extractor.extract(article.request())

    assert route.call_count == len(seen) == 3
    assert all(len(prompt) < 2500 + 300 for prompt in seen)
    assert len(response.meetings) == 1
    evidence = response.meetings[0].evidence[0]
    assert evidence.alignment == "normalized"
    assert evidence.start == 0
    assert [w.code for w in response.warnings] == [
        "article_chunked", "duplicate_merged", "duplicate_merged",
    ]  # fmt: skip
    assert response.usage.completions == 3
    assert response.usage.upstream_calls == 3
    assert response.usage.total_tokens == 3 * 1200


async def test_one_failing_chunk_fails_the_extraction(
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    articles: dict[str, Article],
) -> None:
    upstream.post(COMPLETIONS).mock(
        side_effect=[ok(EMPTY_ANSWER), error(401, "bad key"), ok(EMPTY_ANSWER)]
    )
    settings = make_settings(chunk_chars=2500, chunk_overlap_chars=200, chunk_concurrency=1)
    async with Extractor.open(settings) as extractor:
        with pytest.raises(UpstreamRejected):
            await extractor.extract(ExtractionRequest(text=articles[VENICE].text))


async def test_python_api_checks_input_before_any_call(make_settings: SettingsFactory) -> None:
    async with Extractor.open(make_settings()) as extractor:
        with pytest.raises(EmptyArticle):
            await extractor.extract(ExtractionRequest(text="\n \t"))
    async with Extractor.open(make_settings(model=None)) as extractor:
        with pytest.raises(ModelNotConfigured):
            await extractor.extract(
                ExtractionRequest(text="Talks.", types=frozenset({RecordType.MEETING}))
            )
