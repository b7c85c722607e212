"""Request ids, metrics and load shedding."""

from __future__ import annotations

from typing import Any

import pytest
import respx
from litestar.testing import AsyncTestClient

from attache.admission import Admission
from attache.app import create_app
from attache.errors import Overloaded
from attache.evals.corpus import Article
from tests.conftest import ServerFactory, SettingsFactory
from tests.fakes import COMPLETIONS, EMPTY_ANSWER, error, ok


async def test_request_id_is_echoed_or_made_and_names_the_problem(
    make_settings: SettingsFactory,
) -> None:
    async with AsyncTestClient(app=create_app(make_settings(model=None))) as client:
        given = await client.post("/v1/extractions", json={"text": "x"},
                                  headers={"X-Request-ID": "abc-123"})  # fmt: skip
        made = await client.get("/health")
        unsafe = await client.get("/health", headers={"X-Request-ID": "<script>"})
    assert given.headers["x-request-id"] == "abc-123"
    assert given.json()["instance"] == "urn:attache:request:abc-123"
    assert len(made.headers["x-request-id"]) == 32
    assert unsafe.headers["x-request-id"] != "<script>"


def metric(text: str, name: str) -> float:
    """The sum of every sample of `name` (a metric, or a metric and the start of its labels)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith((name + " ", name + "{")) or (
            name.endswith(",") and line.startswith(name)
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_metrics_count_requests_records_tokens_and_upstream_errors(
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    upstream.post(COMPLETIONS).mock(side_effect=[ok(board_of_peace_answer), error(401, "bad key")])
    async with AsyncTestClient(app=create_app(make_settings(upstream_retries=0))) as client:
        before = (await client.get("/metrics")).text
        assert (
            await client.post("/v1/extractions", json={"text": board_of_peace.text})
        ).status_code == 200
        assert (await client.post("/v1/extractions", json={"text": "x y z"})).status_code == 502
        after = (await client.get("/metrics")).text
    for name, grew in [
        ("attache_requests_total", 3),
        ('attache_records_extracted_total{type="meeting"}', 2),
        ('attache_records_extracted_total{type="invitation"}', 2),
        ("attache_upstream_calls_total", 2),
        ('attache_tokens_total{kind="prompt"}', 1000),
        ('attache_upstream_errors_total{kind="upstream-rejected"}', 1),
    ]:
        assert metric(after, name) - metric(before, name) >= grew, name
    assert "attache_request_duration_seconds_bucket" in after
    assert "attache_ungrounded_dropped_total" in after or "attache_ungrounded_dropped" in after


async def test_excess_load_is_shed_with_503_not_queued(
    make_settings: SettingsFactory, make_server: ServerFactory
) -> None:
    settings = make_settings()
    server = make_server(max_concurrent_extractions=2, overloaded_retry_after_s=7)
    with respx.mock(base_url=str(settings.base_url), assert_all_mocked=True) as upstream:
        async with AsyncTestClient(app=create_app(settings, server)) as client:
            admission = client.app.state.admission
            admission.in_flight = 2  # two extractions under way
            shed = await client.post("/v1/extractions", json={"text": "a b"})
            admission.in_flight = 1
            upstream.post(COMPLETIONS).mock(return_value=ok(EMPTY_ANSWER))
            admitted = await client.post("/v1/extractions", json={"text": "a b"})
    assert shed.status_code == 503
    assert shed.json()["type"] == "urn:attache:problem:overloaded"
    assert shed.headers["retry-after"] == "7"
    assert admitted.status_code == 200
    assert admission.in_flight == 1  # the admitted one gave its slot back


def test_admission_sheds_past_its_limit_and_frees_slots_on_error() -> None:
    admission = Admission(limit=1, retry_after_s=3)
    with admission.slot(), pytest.raises(Overloaded) as shed, admission.slot():
        pass
    assert shed.value.headers == {"Retry-After": "3"}
    with pytest.raises(RuntimeError), admission.slot():
        raise RuntimeError
    assert admission.in_flight == 0


async def test_every_refusal_carries_its_request_id_and_counts_by_its_real_status(
    make_settings: SettingsFactory, make_server: ServerFactory
) -> None:
    keys = "metrics-key-000000001"
    app = create_app(make_settings(), make_server(api_keys=keys, rate_limit_per_minute=1))
    key = {"X-API-Key": keys}
    async with AsyncTestClient(app=app) as client:
        before = (await client.get("/metrics", headers=key)).text
        refusals = {
            401: await client.get("/schema/openapi.json"),
            404: await client.get("/no/such/route", headers=key),
            405: await client.delete("/v1/extractions", headers=key),
        }
        await client.get("/schema/openapi.json", headers=key)
        refusals[429] = await client.get("/schema/openapi.json", headers=key)
        after = (await client.get("/metrics", headers=key)).text
    for status, response in refusals.items():
        assert response.status_code == status
        request_id = response.headers["x-request-id"]
        assert response.json()["instance"] == f"urn:attache:request:{request_id}"
        counted = f'attache_requests_total{{method="{response.request.method}",'
        grew = metric(after, counted) - metric(before, counted)
        assert grew >= 1, status
    for status in (401, 404, 405, 429):
        assert f'status_code="{status}"' in after, status
    assert 'path="unmatched",status_code="404"' in after
