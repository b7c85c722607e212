"""Upstream faults: each maps to its problem, and the number of HTTP calls stays in its bound.

The bound is `(reasks + 1) * (upstream_retries + 1)` per model call; the cases below pin the
number of calls each fault costs with instructor 1.17 and openai 2.x.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import respx
from litestar.testing import AsyncTestClient

from attache.app import create_app
from attache.evals.corpus import Article
from attache.settings import ModelMode, Settings
from tests.conftest import SettingsFactory
from tests.fakes import BASE_URL, COMPLETIONS, EMPTY_ANSWER, completion, error, ok


async def extract(settings: Settings, text: str) -> httpx.Response:
    async with AsyncTestClient(app=create_app(settings)) as client:
        return await client.post("/v1/extractions", json={"text": text})


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json")
    slug: str = response.json()["type"]
    return slug.removeprefix("urn:attache:problem:")


def invalid_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """The same answer with a required field missing from its first invitation."""
    broken: dict[str, Any] = json.loads(json.dumps(answer))
    del broken["invitations"][0]["status"]
    return broken


async def test_reask_after_invalid_answer_succeeds_and_sums_usage(
    settings: Settings,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    route = upstream.post(COMPLETIONS).mock(
        side_effect=[
            ok(invalid_answer(board_of_peace_answer), prompt_tokens=900, completion_tokens=150),
            ok(board_of_peace_answer, prompt_tokens=1300, completion_tokens=210),
        ]
    )
    response = await extract(settings, board_of_peace.text)

    assert response.status_code == 200, response.text
    assert route.call_count == 2
    assert response.json()["usage"] == {
        "prompt_tokens": 2200,
        "completion_tokens": 360,
        "total_tokens": 2560,
        "completions": 2,
        "upstream_calls": 2,
        "reasks": 1,
    }
    # The re-ask shows the model its own answer and what was wrong with it.
    reask = json.loads(route.calls.last.request.content)["messages"]
    assert len(reask) > len(json.loads(route.calls[0].request.content)["messages"])
    assert "status" in json.dumps(reask[-1])


@pytest.mark.parametrize("reasks", [0, 1, 2])
async def test_answer_invalid_after_all_reasks_is_502(
    reasks: int,
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    board_of_peace_answer: dict[str, Any],
) -> None:
    route = upstream.post(COMPLETIONS).mock(return_value=ok(invalid_answer(board_of_peace_answer)))
    response = await extract(make_settings(reasks=reasks, salvage=False), "An article.")
    assert response.status_code == 502
    assert problem_type(response) == "invalid-model-output"
    assert response.json()["attempts"] == reasks + 1
    assert route.call_count == reasks + 1


@pytest.mark.parametrize("mode", [ModelMode.TOOLS, ModelMode.JSON])
async def test_malformed_json_is_reasked_then_502(
    mode: ModelMode, make_settings: SettingsFactory, upstream: respx.MockRouter
) -> None:
    route = upstream.post(COMPLETIONS).mock(return_value=ok('{"invitations": [', mode=mode))
    response = await extract(make_settings(mode=mode, reasks=1), "An article.")
    assert response.status_code == 502
    assert problem_type(response) == "invalid-model-output"
    assert route.call_count == 2


async def test_truncated_answer_is_502_without_reask(
    settings: Settings, upstream: respx.MockRouter
) -> None:
    route = upstream.post(COMPLETIONS).mock(
        return_value=ok('{"invitations": [{"ref": "R1", "inv', finish_reason="length")
    )
    response = await extract(settings, "An article.")
    assert response.status_code == 502
    assert problem_type(response) == "truncated-model-output"
    assert "ATTACHE_MAX_OUTPUT_TOKENS" in response.json()["detail"]
    assert route.call_count == 1


@pytest.mark.parametrize("mode", list(ModelMode))
async def test_an_answer_that_used_the_whole_cap_is_truncated_whatever_the_server_says(
    mode: ModelMode, make_settings: SettingsFactory, upstream: respx.MockRouter
) -> None:
    # llama-cpp-python says a forced tool call cut off at the cap finished by the tool call.
    route = upstream.post(COMPLETIONS).mock(
        return_value=ok(
            '{"invitations": [{"ref": "R1", "inv',
            mode=mode,
            finish_reason="tool_calls",
            completion_tokens=512,
        )
    )
    response = await extract(make_settings(mode=mode, max_output_tokens=512), "An article.")
    assert problem_type(response) == "truncated-model-output"
    assert route.call_count == 1  # not re-asked: at the same cap the re-ask is cut off too


@pytest.mark.parametrize("retries", [0, 2])
async def test_rate_limit_after_sdk_retries_is_503_with_upstream_retry_after(
    retries: int, make_settings: SettingsFactory, upstream: respx.MockRouter
) -> None:
    route = upstream.post(COMPLETIONS).mock(
        return_value=error(429, "slow down", **{"retry-after-ms": "5", "retry-after": "7"})
    )
    response = await extract(make_settings(upstream_retries=retries), "An article.")
    assert response.status_code == 503
    assert problem_type(response) == "upstream-rate-limited"
    assert response.headers["retry-after"] == "7"
    assert route.call_count == retries + 1


@pytest.mark.parametrize(
    ("status", "retry_after", "deadline_s"),
    [(429, "100", 30.0), (429, "20", 10.0), (503, "45", 30.0), (503, "120", 300.0)],
)
async def test_an_upstream_asking_for_more_time_than_is_left_is_answered_at_once(
    status: int,
    retry_after: str,
    deadline_s: float,
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
) -> None:
    route = upstream.post(COMPLETIONS).mock(
        return_value=error(status, "later", **{"retry-after": retry_after})
    )
    started = time.monotonic()
    response = await extract(
        make_settings(upstream_retries=2, deadline_s=deadline_s), "An article."
    )
    # No wait and no retry: the caller hears when to come back, now, not a 504 at the deadline.
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert problem_type(response) == "upstream-rate-limited"
    assert response.headers["retry-after"] == retry_after
    assert route.call_count == 1


async def test_rate_limit_without_retry_after_uses_the_configured_one(
    make_settings: SettingsFactory, upstream: respx.MockRouter
) -> None:
    route = upstream.post(COMPLETIONS).mock(return_value=error(429))
    response = await extract(
        make_settings(upstream_retries=0, rate_limited_retry_after_s=42), "An article."
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "42"
    assert route.call_count == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_error_after_sdk_retries_is_502(
    status: int, settings: Settings, upstream: respx.MockRouter
) -> None:
    route = upstream.post(COMPLETIONS).mock(
        return_value=error(status, "boom", **{"retry-after-ms": "1"})
    )
    response = await extract(settings, "An article.")
    assert response.status_code == 502
    assert problem_type(response) == "upstream-unavailable"
    assert response.json()["upstream_status"] == status
    assert route.call_count == settings.upstream_retries + 1


async def test_server_error_then_success_is_retried_by_the_sdk_only(
    settings: Settings, upstream: respx.MockRouter
) -> None:
    route = upstream.post(COMPLETIONS).mock(
        side_effect=[error(503, **{"retry-after-ms": "1"}), ok(EMPTY_ANSWER)]
    )
    response = await extract(settings, "Markets were quiet today.")
    assert response.status_code == 200, response.text
    assert route.call_count == 2
    usage = response.json()["usage"]
    assert usage["upstream_calls"] == 2
    assert usage["completions"] == 1
    assert usage["total_tokens"] == 1200


@pytest.mark.parametrize(
    ("fault", "slug"),
    [
        (httpx.ReadTimeout("read timed out"), "upstream-timeout"),
        (httpx.ConnectError("connection refused"), "upstream-unavailable"),
        (httpx.RemoteProtocolError("connection reset"), "upstream-unavailable"),
    ],
)
async def test_transport_faults_after_sdk_retries_are_502(
    fault: Exception, slug: str, settings: Settings, upstream: respx.MockRouter
) -> None:
    route = upstream.post(COMPLETIONS).mock(side_effect=fault)
    response = await extract(settings, "An article.")
    assert response.status_code == 502
    assert problem_type(response) == slug
    assert route.call_count == settings.upstream_retries + 1


@pytest.mark.parametrize(
    ("base_url", "fault"),
    [
        (BASE_URL, httpx.ConnectError("connection refused")),
        ("http://user:secret@127.0.0.1:9/v1", httpx.RemoteProtocolError("connection reset")),
        ("http://127.0.0.1:9/v1?key=secret", httpx.ConnectError("connection refused")),
    ],
)
async def test_an_unreachable_endpoint_is_named_without_its_credentials(
    base_url: str, fault: Exception, make_settings: SettingsFactory
) -> None:
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as upstream:
        upstream.route(host="127.0.0.1", port=9).mock(side_effect=fault)
        response = await extract(make_settings(base_url=base_url), "An article.")
    assert response.status_code == 502
    assert problem_type(response) == "upstream-unavailable"
    tried = response.json()["url"]
    assert tried.startswith("http://127.0.0.1:9/v1")
    assert f"could not reach the model endpoint at {tried}" in response.json()["detail"]
    assert "secret" not in response.text


async def test_fault_bound_multiplies_reasks_by_sdk_retries(
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    board_of_peace_answer: dict[str, Any],
) -> None:
    """Worst case: every answer invalid, each one reached only after failed SDK retries."""
    fast = {"retry-after-ms": "1"}
    invalid = ok(invalid_answer(board_of_peace_answer))
    route = upstream.post(COMPLETIONS).mock(
        side_effect=[error(500, **fast), invalid, error(500, **fast), invalid]
    )
    response = await extract(
        make_settings(reasks=1, upstream_retries=1, salvage=False), "An article."
    )
    assert response.status_code == 502
    assert problem_type(response) == "invalid-model-output"
    # A short list of field paths and reasons on one line, not a library's dump.
    detail = response.json()["detail"]
    assert "invitations.0.status: Field required" in detail
    assert "\n" not in detail
    assert "<" not in detail
    assert len(detail) < 600
    assert route.call_count == (1 + 1) * (1 + 1)


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_client_errors_upstream_are_not_retried_and_their_words_stay_in_the_logs(
    status: int,
    settings: Settings,
    upstream: respx.MockRouter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    leak = "Incorrect API key provided: sk-proj-****Xq9Z for org-acme-finance"
    route = upstream.post(COMPLETIONS).mock(return_value=error(status, leak))
    response = await extract(settings, "An article.")
    assert response.status_code == 502
    assert problem_type(response) == "upstream-rejected"
    assert "sk-proj" not in response.text
    assert "org-acme" not in response.text
    assert f"HTTP {status}" in response.json()["detail"]
    assert "sk-proj-****Xq9Z" in capsys.readouterr().err  # the operator still learns why
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("mode", "status", "message"),
    [
        # llama-cpp-python's server answers 500 to response_format json_schema.
        (ModelMode.JSON_SCHEMA, 500, "Unsupported response_format type: json_schema"),
        (ModelMode.TOOLS, 400, "tool_choice is not supported by this model"),
        (ModelMode.JSON, 400, "response_format json_object is not supported"),
    ],
)
async def test_refused_mode_is_named_in_a_clear_error(
    mode: ModelMode,
    status: int,
    message: str,
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
) -> None:
    upstream.post(COMPLETIONS).mock(return_value=error(status, message, **{"retry-after-ms": "1"}))
    response = await extract(make_settings(mode=mode), "An article.")
    assert response.status_code == 502
    assert problem_type(response) == "upstream-mode-unsupported"
    assert "ATTACHE_MODE" in response.json()["detail"]
    assert mode.value in response.json()["detail"]


async def test_deadline_caps_the_whole_extraction(make_settings: SettingsFactory) -> None:
    entered: list[httpx.Request] = []

    async def hang(request: httpx.Request) -> httpx.Response:
        entered.append(request)
        await asyncio.sleep(30)
        return ok(EMPTY_ANSWER)

    loop = asyncio.get_running_loop()
    started = loop.time()
    # respx records a call only once its side effect returns, and this one is cancelled.
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as upstream:
        upstream.post(COMPLETIONS).mock(side_effect=hang)
        response = await extract(make_settings(deadline_s=0.3), "An article.")
    assert len(entered) == 1
    assert response.status_code == 504
    assert problem_type(response) == "deadline-exceeded"
    # Not a timing target: only proof that the 30 s upstream was not waited for.
    assert loop.time() - started < 10


def with_fabricated_quote(answer: dict[str, Any]) -> dict[str, Any]:
    """The same answer with the funding ask's evidence replaced by an invented sentence."""
    changed: dict[str, Any] = json.loads(json.dumps(answer))
    changed["funding_asks"][0]["evidence"] = [
        "The US president has reportedly requested a contribution of USD2 billion from any "
        "country seeking a permanent seat on the Board."
    ]
    return changed


async def test_quote_not_in_the_article_is_reasked_through_validation_context(
    settings: Settings,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    route = upstream.post(COMPLETIONS).mock(
        side_effect=[ok(with_fabricated_quote(board_of_peace_answer)), ok(board_of_peace_answer)]
    )
    response = await extract(settings, board_of_peace.text)
    assert response.status_code == 200, response.text
    assert route.call_count == 2
    reask = json.dumps(json.loads(route.calls.last.request.content)["messages"][-1])
    assert "not in the article" in reask
    assert "USD2 billion" in reask
    assert len(response.json()["funding_asks"]) == 1
    assert response.json()["warnings"] == []


async def test_quote_still_not_in_the_article_after_reasks_drops_the_record(
    settings: Settings,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    route = upstream.post(COMPLETIONS).mock(
        return_value=ok(with_fabricated_quote(board_of_peace_answer))
    )
    response = await extract(settings, board_of_peace.text)
    assert response.status_code == 200, response.text
    assert route.call_count == settings.reasks + 1
    body = response.json()
    assert body["funding_asks"] == []
    assert [w["code"] for w in body["warnings"]] == ["record_dropped"]


async def test_an_answer_with_no_choices_is_502_without_reask(
    settings: Settings, upstream: respx.MockRouter
) -> None:
    body = completion(EMPTY_ANSWER)
    body["choices"] = []
    route = upstream.post(COMPLETIONS).mock(return_value=httpx.Response(200, json=body))
    response = await extract(settings, "An article.")
    assert response.status_code == 502
    assert problem_type(response) == "empty-model-answer"
    assert route.call_count == 1


@pytest.mark.parametrize(("mode", "calls"), [(ModelMode.TOOLS, 1), (ModelMode.JSON, 2)])
async def test_a_refusal_is_502_model_refused(
    mode: ModelMode, calls: int, make_settings: SettingsFactory, upstream: respx.MockRouter
) -> None:
    """JSON mode re-asks a refusal once (it reads as an empty answer); tools mode does not."""
    body = completion("", mode=mode)
    body["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "refusal": "I can't help with that.",
    }
    route = upstream.post(COMPLETIONS).mock(return_value=httpx.Response(200, json=body))
    response = await extract(make_settings(mode=mode, reasks=1), "An article.")
    assert response.status_code == 502
    assert problem_type(response) == "model-refused"
    assert "can't help" in response.json()["detail"]
    assert route.call_count == calls
