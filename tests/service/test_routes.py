"""The HTTP API end to end, the upstream faked with respx."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import respx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from attache.app import create_app
from attache.evals.corpus import Article
from attache.schemas import ExtractionResponse
from attache.settings import ModelMode
from tests.conftest import SettingsFactory
from tests.fakes import COMPLETIONS, MODEL, ok

PROBLEM = "application/problem+json"


@pytest.mark.parametrize("mode", list(ModelMode))
async def test_board_of_peace_extracts_grounded_records_in_every_mode(
    mode: ModelMode,
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    route = upstream.post(COMPLETIONS).mock(return_value=ok(board_of_peace_answer, mode=mode))
    app = create_app(make_settings(mode=mode))
    async with AsyncTestClient(app=app) as client:
        response = await client.post(
            "/v1/extractions",
            json=board_of_peace.request_json(),
        )

    assert response.status_code == 200, response.text
    body = ExtractionResponse.model_validate(response.json())
    text = board_of_peace.text
    assert body.id == board_of_peace.id
    assert body.model == MODEL
    assert body.prompt_version == "extraction/v1"
    assert [len(body.invitations), len(body.meetings), len(body.declarations)] == [2, 2, 1]
    assert len(body.funding_asks) == 1
    for record in [*body.invitations, *body.meetings, *body.declarations, *body.funding_asks]:
        for evidence in record.evidence:
            assert evidence.start is not None
            assert evidence.end is not None
            span = text[evidence.start : evidence.end]
            assert (
                " ".join(span.split())
                == " ".join(evidence.quote.replace('"', "“", 1).replace('"', "”", 1).split())
                or span == evidence.quote
            )
    # The model's straight quotes around "Board of Peace" still land on the article's curly ones.
    first = body.invitations[0].evidence[0]
    assert first.alignment == "normalized"
    assert text[first.start : first.end].startswith("Russian President Vladimir Putin")
    # Ids follow article order; links point at ids, not the model's refs.
    assert [m.id for m in body.meetings] == ["mtg-1", "mtg-2"]
    assert body.meetings[0].place == "Davos"
    assert body.declarations[0].links[0].target == "mtg-2"
    assert body.funding_asks[0].links[0].target == "inv-2"
    assert body.usage.model_dump() == {
        "prompt_tokens": 1000,
        "completion_tokens": 200,
        "total_tokens": 1200,
        "completions": 1,
        "upstream_calls": 1,
        "reasks": 0,
    }
    assert body.warnings == []

    sent = json.loads(route.calls.last.request.content)
    assert sent["model"] == MODEL
    assert sent["temperature"] == 0
    user = sent["messages"][-1]["content"]
    assert text in user
    assert "Publication date of the article: 2026-01-20" in user
    if mode is ModelMode.TOOLS:
        assert sent["tool_choice"]["function"]["name"] == "ExtractionDraft"
    elif mode is ModelMode.JSON_SCHEMA:
        assert sent["response_format"]["type"] == "json_schema"
    elif mode is ModelMode.JSON:
        assert sent["response_format"] == {"type": "json_object"}
    else:
        assert "response_format" not in sent
        assert "tools" not in sent


async def test_board_of_peace_records_are_normalized(
    client: AsyncTestClient[Litestar],
    board_of_peace: Article,
    answered: respx.Route,
) -> None:
    response = await client.post(
        "/v1/extractions",
        json=board_of_peace.request_json(),
    )
    body = ExtractionResponse.model_validate(response.json())
    # One canonical actor per person, however the records name them.
    trump = next(a for a in body.actors if a.canonical_name == "Donald Trump")
    assert trump.names == ["Donald Trump", "Trump", "The US president"]
    assert body.funding_asks[0].requester.id == trump.id
    assert {a.country for a in body.actors if a.kind == "country"} == {"AR", "CA", "HU", "IT"}
    # Dates resolved against publication (2026-01-20), the year from the record's tense.
    davos, paris = body.meetings
    assert davos.date is not None
    assert (davos.date.start, davos.date.granularity) == (dt.date(2026, 1, 20), "day")
    assert paris.date is not None
    assert paris.date.start == dt.date(2026, 1, 6)
    amount = body.funding_asks[0].amount
    assert amount is not None
    assert (amount.text, amount.value, amount.currency) == ("USD1 billion", 1e9, "USD")


async def test_plain_text_body_takes_its_fields_from_the_query(
    client: AsyncTestClient[Litestar],
    board_of_peace: Article,
    answered: respx.Route,
) -> None:
    response = await client.post(
        "/v1/extractions?id=bop&published_at=2026-01-20&types=meeting&types=funding_ask",
        content=board_of_peace.text.encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    assert response.status_code == 200, response.text
    body = ExtractionResponse.model_validate(response.json())
    assert body.id == "bop"
    assert body.invitations == []
    assert body.declarations == []
    assert len(body.meetings) == 2
    assert len(body.funding_asks) == 1
    # The condition_of link pointed at an invitation that was not asked for.
    assert body.funding_asks[0].links == []
    assert [w.code for w in body.warnings] == ["link_dropped"]


async def test_health_and_ready_never_call_the_model(client: AsyncTestClient[Litestar]) -> None:
    health = await client.get("/health")
    ready = await client.get("/ready")
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "model": MODEL,
        "mode": "tools",
        "prompt_version": "extraction/v1",
    }


async def test_without_a_model_extraction_and_ready_answer_503(
    make_settings: SettingsFactory, board_of_peace: Article
) -> None:
    app = create_app(make_settings(model=None))
    async with AsyncTestClient(app=app) as client:
        ready = await client.get("/ready")
        extraction = await client.post("/v1/extractions", json={"text": board_of_peace.text})
        health = await client.get("/health")
    assert health.status_code == 200
    for response in (ready, extraction):
        assert response.status_code == 503
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["type"] == "urn:attache:problem:model-not-configured"


async def test_openapi_documents_both_body_types_and_problems(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    operation = response.json()["paths"]["/v1/extractions"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "text/plain"}
    for status in ("400", "413", "415", "502", "503", "504"):
        assert PROBLEM in operation["responses"][status]["content"]


async def test_a_bug_is_a_500_problem_without_internals(
    client: AsyncTestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("secret internal state")

    monkeypatch.setattr("attache.extractor.Extractor.extract", broken)
    response = await client.post("/v1/extractions", json={"text": "An article."})
    assert response.status_code == 500
    assert response.json()["type"] == "urn:attache:problem:internal-error"
    assert "secret" not in response.text
