"""Bad input gets a precise problem+json answer, and never reaches the model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from litestar.testing import AsyncTestClient

from attache.app import create_app
from tests.conftest import ServerFactory, SettingsFactory
from tests.fakes import BASE_URL

CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("empty json text", {"json": {"text": ""}}, 400, "empty-article"),
    ("whitespace json text", {"json": {"text": " \n\t\u3000 "}}, 400, "empty-article"),
    (
        "empty body",
        {"content": b"", "headers": {"Content-Type": "application/json"}},
        400,
        "empty-article",
    ),
    (
        "empty plain text",
        {"content": b"  \n", "headers": {"Content-Type": "text/plain"}},
        400,
        "empty-article",
    ),
    (
        "malformed json",
        {"content": b'{"text": "a', "headers": {"Content-Type": "application/json"}},
        400,
        "malformed-json",
    ),
    ("json array", {"json": ["text"]}, 400, "invalid-request"),
    ("missing text", {"json": {"id": "x"}}, 400, "invalid-request"),
    ("extra field", {"json": {"text": "An article.", "colour": "red"}}, 400, "invalid-request"),
    (
        "bad published_at",
        {"json": {"text": "An article.", "published_at": "yesterday"}},
        400,
        "invalid-request",
    ),
    (
        "unknown type",
        {"json": {"text": "An article.", "types": ["rumour"]}},
        400,
        "invalid-request",
    ),
    (
        "non-utf8 plain text",
        {
            "content": "Café".encode("latin-1"),
            "headers": {"Content-Type": "text/plain; charset=utf-8"},
        },
        400,
        "invalid-encoding",
    ),
    (
        "non-utf8 json",
        {
            "content": '{"text": "Café"}'.encode("utf-16"),
            "headers": {"Content-Type": "application/json"},
        },
        400,
        "invalid-encoding",
    ),
    (
        "unknown charset",
        {"content": b"An article.", "headers": {"Content-Type": "text/plain; charset=klingon"}},
        415,
        "unsupported-media-type",
    ),
    ("no content type", {"content": b"An article."}, 415, "unsupported-media-type"),
    ("form body", {"data": {"text": "An article."}}, 415, "unsupported-media-type"),
    (
        "unknown query parameter",
        {
            "content": b"An article.",
            "params": {"colour": "red"},
            "headers": {"Content-Type": "text/plain"},
        },
        400,
        "invalid-request",
    ),
    ("article too long", {"json": {"text": "x" * 5001}}, 413, "article-too-long"),
    ("zero-width only", {"json": {"text": "\u200b\u2060 \ufeff"}}, 400, "empty-article"),
    ("NUL byte", {"json": {"text": "An article.\x00\x00"}}, 400, "invalid-characters"),
    ("C1 control", {"json": {"text": "Caf\u0083 talks"}}, 400, "invalid-characters"),
    (
        "year 1",
        {"json": {"text": "An article.", "published_at": "0001-01-01"}},
        400,
        "invalid-request",
    ),
    (
        "year 9999",
        {"json": {"text": "An article.", "published_at": "9999-12-31T00:00:00"}},
        400,
        "invalid-request",
    ),
    (
        "timestamp number",
        {"json": {"text": "An article.", "published_at": 20260120}},
        400,
        "invalid-request",
    ),
    (
        "month 13",
        {"json": {"text": "An article.", "published_at": "2026-13-01"}},
        400,
        "invalid-request",
    ),
    (
        "json nested 1000 deep",
        {
            "content": b'{"text": "a", "id": ' + b"[" * 1000 + b"]" * 1000 + b"}",
            "headers": {"Content-Type": "application/json"},
        },
        400,
        "malformed-json",
    ),
    ("token budget", {"json": {"text": "word " * 900}}, 413, "token-budget-exceeded"),
    (
        "body too large",
        {"content": b"x" * 20_001, "headers": {"Content-Type": "text/plain"}},
        413,
        "body-too-large",
    ),
]


@pytest.fixture
def no_upstream() -> Iterator[respx.MockRouter]:
    """Any request to the model endpoint fails the test."""
    with respx.mock(base_url=BASE_URL, assert_all_mocked=True) as router:
        yield router


@pytest.mark.parametrize(
    ("request_kwargs", "status", "slug"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_bad_input_is_a_precise_problem(
    request_kwargs: dict[str, Any],
    status: int,
    slug: str,
    make_settings: SettingsFactory,
    make_server: ServerFactory,
    no_upstream: respx.MockRouter,
) -> None:
    app = create_app(
        make_settings(
            max_article_chars=5000, token_budget=6000, chunk_chars=1000,
            chunk_overlap_chars=100, max_output_tokens=1000,
        ),
        make_server(max_body_bytes=20_000),
    )  # fmt: skip
    async with AsyncTestClient(app=app) as client:
        response = await client.post("/v1/extractions", **request_kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == f"urn:attache:problem:{slug}"
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert not no_upstream.calls


PLAIN = {"Content-Type": "text/plain"}


@pytest.mark.parametrize(
    ("query", "kwargs", "reason"),
    [
        ("?id=a", {"json": {"text": "An article."}}, "query parameters are for text/plain"),
        ("?id=a&id=b", {"content": b"Talks.", "headers": PLAIN}, "given 2 times"),
        ("?published_at=2026-01-01&published_at=2026-01-02", {"content": b"Talks.",
         "headers": PLAIN}, "given 2 times"),
        ("?id=%zz", {"content": b"Talks.", "headers": PLAIN}, "malformed percent-escape"),
        ("?id=100%", {"content": b"Talks.", "headers": PLAIN}, "malformed percent-escape"),
        ("?id=%ff%fe", {"content": b"Talks.", "headers": PLAIN}, "not UTF-8"),
    ],
    ids=["json with query", "repeated id", "repeated date", "bad escape", "bare percent",
         "not utf-8"],
)  # fmt: skip
async def test_a_query_string_that_cannot_mean_one_thing_is_refused(
    query: str,
    kwargs: dict[str, Any],
    reason: str,
    make_settings: SettingsFactory,
    no_upstream: respx.MockRouter,
) -> None:
    async with AsyncTestClient(app=create_app(make_settings())) as client:
        response = await client.post(f"/v1/extractions{query}", **kwargs)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "urn:attache:problem:invalid-request"
    assert reason in response.json()["detail"]


async def test_validation_titles_are_stable_and_never_echo_the_url(
    make_settings: SettingsFactory, no_upstream: respx.MockRouter
) -> None:
    async with AsyncTestClient(app=create_app(make_settings())) as client:
        response = await client.post(
            "/v1/extractions?published_at=soon&id=secret-looking-value",
            content=b"Talks.",
            headers=PLAIN,
        )
    problem = response.json()
    assert response.status_code == 400
    assert problem["title"] == "Invalid request"
    assert "secret-looking-value" not in problem["title"] + problem["detail"]
    assert {e["key"].split(".")[0] for e in problem["errors"]} == {"published_at"}


async def test_plain_text_in_a_declared_charset_is_decoded(
    make_settings: SettingsFactory, no_upstream: respx.MockRouter
) -> None:
    # No model configured, so a decoded article gets as far as the 503 and no further.
    app = create_app(make_settings(model=None))
    async with AsyncTestClient(app=app) as client:
        response = await client.post(
            "/v1/extractions",
            content="Café talks in Zürich.".encode("latin-1"),
            headers={"Content-Type": "text/plain; charset=latin-1"},
        )
    assert response.status_code == 503
    assert response.json()["type"] == "urn:attache:problem:model-not-configured"


async def test_validation_problems_list_each_error(
    make_settings: SettingsFactory, no_upstream: respx.MockRouter
) -> None:
    app = create_app(make_settings())
    async with AsyncTestClient(app=app) as client:
        response = await client.post(
            "/v1/extractions", json={"text": "An article.", "published_at": "soon", "x": 1}
        )
    errors = response.json()["errors"]
    keys = {e["key"].split(".")[0] for e in errors}
    assert keys == {"published_at", "x"}


async def test_unknown_route_and_method_are_problems(
    make_settings: SettingsFactory,
) -> None:
    async with AsyncTestClient(app=create_app(make_settings())) as client:
        missing = await client.get("/v2/nothing")
        wrong = await client.get("/v1/extractions")
    assert missing.status_code == 404
    assert missing.json()["type"] == "urn:attache:problem:not-found"
    assert wrong.status_code == 405
    assert wrong.json()["type"] == "urn:attache:problem:method-not-allowed"


def test_no_case_reaches_the_network() -> None:
    """The discard port refuses at once: a request that escaped respx could not hang."""
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{BASE_URL}/chat/completions", json={}, timeout=2)
