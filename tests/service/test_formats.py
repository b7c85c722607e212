"""ninjs 3.1 and schema.org JSON-LD: what newsroom systems read, checked against the official
ninjs schema (tests/data/ninjs: IPTC's, vendored unedited, CC BY 4.0)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import respx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from attache.evals.corpus import Article
from attache.extractor import Extractor
from attache.formats import NINJS_EXTENSION, NINJS_SCHEMA, to_jsonld, to_ninjs
from attache.schemas import ExtractionRequest, ExtractionResponse
from tests.conftest import SettingsFactory

NINJS_DIR = Path(__file__).parents[1] / "data" / "ninjs"
OFFICIAL = json.loads((NINJS_DIR / "ninjs-schema_3.1.json").read_text())
GEOJSON = json.loads((NINJS_DIR / "GeoJSON-schema.json").read_text())


def _retrieve(uri: str) -> Any:
    # Offline: the two schemas the extension reaches, from the vendored copies.
    if uri.startswith("https://geojson.org/"):
        return GEOJSON
    if uri.startswith(NINJS_SCHEMA):
        return OFFICIAL
    raise ValueError(f"no vendored schema for {uri}")


official = jsonschema_rs.validator_for(OFFICIAL, retriever=_retrieve, validate_formats=True)
extended = jsonschema_rs.validator_for(NINJS_EXTENSION, retriever=_retrieve, validate_formats=True)


@pytest.fixture
async def response(
    make_settings: SettingsFactory, answered: respx.Route, board_of_peace: Article
) -> tuple[ExtractionRequest, ExtractionResponse]:
    request = ExtractionRequest(
        id="bop/2026 01 20", text=board_of_peace.text, published_at=board_of_peace.published_at
    )
    async with Extractor.open(make_settings()) as extractor:
        return request, await extractor.extract(request)


def _errors(validator: Any, item: dict[str, Any]) -> list[str]:
    return [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(item)]


def test_every_record_is_an_event_item_the_official_schema_accepts(
    response: tuple[ExtractionRequest, ExtractionResponse],
) -> None:
    request, answer = response
    items = to_ninjs(answer, request)
    assert len(items) == len(answer.records) == 6
    for item, record in zip(items, answer.records, strict=True):
        assert _errors(extended, item) == []
        # The extension property is the one thing the official schema does not know.
        assert _errors(official, {k: v for k, v in item.items() if k != "attache"}) == []
        assert not official.is_valid(item)
        assert item["type"] == "event"
        assert item["attache"]["recordId"] == record.id
        assert item["attache"]["evidence"] == [e.model_dump(mode="json") for e in record.evidence]
        [source] = item["associations"]
        assert source["rel"] == "source"
        assert source["uri"] == "urn:attache:article:bop%2F2026%2001%2020"
    assert len({item["uri"] for item in items}) == len(items)


def test_the_extension_schema_still_refuses_what_ninjs_refuses(
    response: tuple[ExtractionRequest, ExtractionResponse],
) -> None:
    request, answer = response
    item = to_ninjs(answer, request)[0]
    assert not extended.is_valid({**item, "type": "happening"})
    assert not extended.is_valid({**item, "unknownProperty": 1})
    assert not extended.is_valid({**item, "attache": {**item["attache"], "extra": 1}})


def test_dates_parties_and_places_land_in_their_ninjs_properties(
    response: tuple[ExtractionRequest, ExtractionResponse],
) -> None:
    request, answer = response
    by_id = {item["attache"]["recordId"]: item for item in to_ninjs(answer, request)}
    davos = next(r for r in answer.meetings if r.place == "Davos")
    item = by_id[davos.id]
    assert {"name": "Davos", "rel": "venue"} in item["places"]
    participants = {p["name"] for p in item.get("people", []) if p["rel"] == "participant"}
    assert participants <= {a.canonical_name for a in davos.participants}
    assert participants
    if davos.date is not None and davos.date.start is not None:
        assert item["eventDetails"]["dates"]["expectedStartDate"] == davos.date.start.isoformat()


def test_json_ld_is_a_news_article_about_one_event_per_record(
    response: tuple[ExtractionRequest, ExtractionResponse],
) -> None:
    request, answer = response
    doc = to_jsonld(answer, request)
    assert doc["@context"] == "https://schema.org"
    assert doc["@type"] == "NewsArticle"
    assert doc["identifier"] == request.id
    assert [e["identifier"] for e in doc["about"]] == [r.id for r in answer.records]
    assert all(e["@type"] == "Event" for e in doc["about"])
    assert all(e["name"] for e in doc["about"])
    json.dumps(doc)  # plain JSON all through


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/ninjs+json", "application/ninjs+json"),
        ("application/ld+json", "application/ld+json"),
        ("application/json", "application/json"),
        ("text/html, */*;q=0.1", "application/json"),
    ],
)
async def test_the_accept_header_picks_the_format(
    client: AsyncTestClient[Litestar],
    answered: respx.Route,
    board_of_peace: Article,
    accept: str,
    media_type: str,
) -> None:
    got = await client.post(
        "/v1/extractions", json={"text": board_of_peace.text}, headers={"accept": accept}
    )
    assert got.status_code == 200
    assert got.headers["content-type"].startswith(media_type)
    body = got.json()
    if media_type == "application/ninjs+json":
        assert all(_errors(extended, item) == [] for item in body)
    elif media_type == "application/ld+json":
        assert body["@type"] == "NewsArticle"
    else:
        assert "meetings" in body
