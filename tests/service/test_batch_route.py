"""POST /v1/extractions/batch: NDJSON in, one NDJSON line out per request, under the same
admission, limits and keys as one extraction."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from attache.app import create_app
from attache.evals.corpus import Article
from tests.conftest import ServerFactory, SettingsFactory
from tests.fake_upstream import fake_upstream, serve
from tests.fakes import EMPTY_ANSWER, completion

NDJSON = {"content-type": "application/x-ndjson"}
KEY = "k" * 32


def ndjson(*lines: dict[str, Any] | str) -> str:
    return "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"


async def test_one_line_per_request_problems_and_repeated_ids_included(
    client: AsyncTestClient[Litestar], answered: respx.Route, board_of_peace: Article
) -> None:
    body = ndjson(
        {"id": "a", "text": board_of_peace.text},
        {"id": "b", "text": board_of_peace.text, "types": ["meeting"]},
        "",
        "{broken",
        {"id": "a", "text": "the same id again"},
        {"id": "c", "text": "   "},
    )
    response = await client.post("/v1/extractions/batch", content=body, headers=NDJSON)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    by_line = {entry["line"]: entry for entry in lines}
    assert sorted(by_line) == [1, 2, 4, 5, 6]
    assert by_line[1]["id"] == "a"
    assert by_line[1]["response"]["meetings"]
    assert set(by_line[2]["response"]) >= {"meetings", "invitations"}
    assert by_line[2]["response"]["invitations"] == []  # only meetings were asked for
    assert by_line[4]["problem"]["type"].endswith(":malformed-json")
    assert by_line[5]["problem"]["type"].endswith(":invalid-request")
    assert "repeats the id of line 1" in by_line[5]["problem"]["detail"]
    assert by_line[6]["problem"]["type"].endswith(":empty-article")
    assert answered.call_count == 2


@pytest.mark.parametrize(
    ("body", "headers", "status", "slug"),
    [
        (ndjson({"id": "a", "text": "x"}), {"content-type": "application/json"}, 415,
         "unsupported-media-type"),
        ("\n\n", NDJSON, 400, "empty-article"),
        (ndjson(*({"id": str(n), "text": "x"} for n in range(4))), NDJSON, 413,
         "batch-too-large"),
        (b"\xff\xfe".decode("latin-1"), {"content-type": "application/jsonl"}, 400,
         "invalid-encoding"),
    ],
)  # fmt: skip
async def test_a_batch_that_cannot_run_is_one_problem(
    make_settings: SettingsFactory,
    make_server: ServerFactory,
    body: str,
    headers: dict[str, str],
    status: int,
    slug: str,
) -> None:
    app = create_app(make_settings(), make_server(max_batch_articles=3))
    async with AsyncTestClient(app=app) as client:
        response = await client.post(
            "/v1/extractions/batch", content=body.encode("latin-1"), headers=headers
        )
    assert response.status_code == status
    assert response.json()["type"] == f"urn:attache:problem:{slug}"


async def test_the_keys_guard_the_batch_too(
    make_settings: SettingsFactory, make_server: ServerFactory
) -> None:
    app = create_app(make_settings(), make_server(api_keys=KEY))
    async with AsyncTestClient(app=app) as client:
        response = await client.post(
            "/v1/extractions/batch", content=ndjson({"id": "a", "text": "x"}), headers=NDJSON
        )
    assert response.status_code == 401


async def test_a_process_with_fewer_slots_than_the_batch_concurrency_still_runs_batches(
    make_settings: SettingsFactory, make_server: ServerFactory, answered: respx.Route
) -> None:
    app = create_app(
        make_settings(), make_server(batch_concurrency=4, max_concurrent_extractions=1)
    )
    async with AsyncTestClient(app=app) as client:
        response = await client.post(
            "/v1/extractions/batch", content=ndjson({"id": "a", "text": "x"}), headers=NDJSON
        )
    assert response.status_code == 200
    assert "response" in json.loads(response.text)


@pytest.fixture
def two_slots(
    make_settings: SettingsFactory, make_server: ServerFactory
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """attache with two extraction slots and batches of two, before an upstream taking 0.5 s."""
    with fake_upstream(lambda _body: completion(EMPTY_ANSWER), latency_s=0.5) as (base, got):
        app = create_app(
            make_settings(base_url=base, deadline_s=60),
            make_server(max_concurrent_extractions=2, batch_concurrency=2),
        )
        with serve(app) as url:
            yield url, got


def _talks(count: int) -> str:
    return ndjson(*({"id": f"a{n}", "text": f"Talks {n}."} for n in range(count)))


async def test_a_running_batch_holds_its_slots_and_streams_each_answer_as_it_comes(
    two_slots: tuple[str, list[dict[str, Any]]],
) -> None:
    # Two slots, both the batch's: a single extraction meanwhile is shed. The first answer line
    # arrives while later articles are still with the model.
    url, got = two_slots
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        started = time.monotonic()
        async with client.stream(
            "POST", "/v1/extractions/batch", content=_talks(6), headers=NDJSON
        ) as stream:
            lines = stream.aiter_lines()
            first = json.loads(await anext(lines))
            first_after = time.monotonic() - started
            shed = await client.post("/v1/extractions", json={"text": "Talks."})
            rest = [json.loads(line) async for line in lines if line]
        after = await client.post("/v1/extractions", json={"text": "Talks."})
    assert "response" in first
    assert first_after < 1.4  # six articles two at a time take 1.5 s; the first, 0.5 s
    assert shed.status_code == 503
    assert sorted(e["id"] for e in [first, *rest]) == [f"a{n}" for n in range(6)]
    assert after.status_code == 200  # the batch gave its slots back
    assert len(got) == 7


async def test_a_client_that_leaves_a_batch_stops_its_calls(
    two_slots: tuple[str, list[dict[str, Any]]],
) -> None:
    url, got = two_slots
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        async with client.stream(
            "POST", "/v1/extractions/batch", content=_talks(20), headers=NDJSON
        ) as stream:
            await anext(stream.aiter_lines())
        await asyncio.sleep(1.5)  # the server notices, and what was asked comes back
        asked = len(got)
        after = await client.post("/v1/extractions", json={"text": "Talks."})
    assert asked < 8  # of 20: the rest was never asked
    assert after.status_code == 200  # its slots are free
