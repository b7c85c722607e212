"""API keys, per-key rate limits, and what the logs never hold."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx
from click.testing import CliRunner
from litestar.testing import AsyncTestClient
from pydantic import ValidationError

from attache.app import create_app
from attache.cli import main
from attache.errors import ExitCode
from attache.evals.corpus import Article
from attache.settings import ServerSettings
from tests.conftest import ServerFactory, SettingsFactory
from tests.fakes import COMPLETIONS, ok

KEYS = "old-key-4f1d-0c8e7a,new-key-9a2c-55b1f0"


@pytest.fixture
def guarded(make_settings: SettingsFactory, make_server: ServerFactory) -> Any:
    return create_app(make_settings(), make_server(api_keys=KEYS))


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"},
     {"Authorization": "Basic old-key-4f1d-0c8e7a"}, {"X-API-Key": ""}],
    ids=["none", "wrong header key", "wrong bearer", "not bearer", "empty"],
)  # fmt: skip
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/extractions"), ("GET", "/schema/openapi.json"), ("GET", "/metrics")],
)
async def test_with_keys_nothing_answers_without_one(
    guarded: Any, headers: dict[str, str], method: str, path: str
) -> None:
    async with AsyncTestClient(app=guarded) as client:
        response = await client.request(method, path, headers=headers, json={"text": "x"})
    assert response.status_code == 401
    assert response.json()["type"] == "urn:attache:problem:unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "headers",
    [{"X-API-Key": "old-key-4f1d-0c8e7a"}, {"Authorization": "Bearer new-key-9a2c-55b1f0"}],
    ids=["old key in X-API-Key", "new key as bearer"],
)
async def test_any_configured_key_opens_the_api(
    guarded: Any,
    headers: dict[str, str],
    board_of_peace: Article,
    answered: respx.Route,
) -> None:
    async with AsyncTestClient(app=guarded) as client:
        response = await client.post(
            "/v1/extractions", json={"text": board_of_peace.text}, headers=headers
        )
    assert response.status_code == 200, response.text


async def test_health_endpoints_need_no_key(guarded: Any) -> None:
    async with AsyncTestClient(app=guarded) as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/ready")).status_code == 200


async def test_rate_limit_is_per_key(
    make_settings: SettingsFactory, make_server: ServerFactory
) -> None:
    app = create_app(make_settings(), make_server(api_keys=KEYS, rate_limit_per_minute=2))
    old, new = {"X-API-Key": "old-key-4f1d-0c8e7a"}, {"X-API-Key": "new-key-9a2c-55b1f0"}
    async with AsyncTestClient(app=app) as client:
        statuses = [(await client.get("/schema/openapi.json", headers=old)).status_code
                    for _ in range(3)]  # fmt: skip
        limited = await client.get("/schema/openapi.json", headers=old)
        other = await client.get("/schema/openapi.json", headers=new)
        health = await client.get("/health", headers=old)
    assert statuses == [200, 200, 429]
    assert limited.status_code == 429
    assert limited.json()["type"] == "urn:attache:problem:rate-limited"
    assert int(limited.headers["retry-after"]) > 0
    assert other.status_code == 200
    assert health.status_code == 200


async def test_logs_hold_neither_article_text_nor_keys(
    make_settings: SettingsFactory,
    make_server: ServerFactory,
    upstream: respx.MockRouter,
    capsys: pytest.CaptureFixture[str],
    board_of_peace_answer: dict[str, Any],
    board_of_peace: Article,
) -> None:
    upstream.post(COMPLETIONS).mock(return_value=ok(board_of_peace_answer))
    app = create_app(make_settings(), make_server(api_keys=KEYS, log_level="DEBUG"))
    async with AsyncTestClient(app=app) as client:
        response = await client.post(
            "/v1/extractions",
            json={"text": board_of_peace.text, "id": "bop"},
            headers={"X-API-Key": "new-key-9a2c-55b1f0", "X-Request-ID": "req-123"},
        )
        await client.post("/v1/extractions", json={"text": "x"}, headers={"X-API-Key": "bad"})
    assert response.status_code == 200
    logs = capsys.readouterr().err
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    extraction = next(line for line in lines if line.get("event") == "extraction")
    assert extraction["request_id"] == "req-123"
    assert extraction["article_id"] == "bop"
    assert extraction["upstream_calls"] == 1
    leaked = [line[:300] for line in logs.splitlines() if "Putin" in line]
    assert not leaked, leaked
    assert "Board of Peace" not in logs
    for key in ("new-key-9a2c-55b1f0", "old-key-4f1d-0c8e7a", "bad"):
        assert f'"{key}"' not in logs
        assert f" {key}" not in logs


@pytest.mark.parametrize("value", ["", " ", ",", " , ,", "\t"])
def test_a_key_setting_that_holds_no_key_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ATTACHE_API_KEYS", value)
    with pytest.raises(ValidationError, match="holds no key"):
        ServerSettings(_env_file=None)


def test_short_keys_are_refused(make_server: ServerFactory) -> None:
    with pytest.raises(ValidationError, match="shorter than 16"):
        make_server(api_keys="long-enough-key-0001,short")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.org"])  # noqa: S104
def test_serving_beyond_loopback_without_keys_needs_an_explicit_opt_in(
    make_server: ServerFactory, host: str
) -> None:
    with pytest.raises(ValidationError, match="ATTACHE_ALLOW_UNAUTHENTICATED"):
        make_server(host=host)
    assert make_server(host=host, allow_unauthenticated=True).host == host
    assert make_server(host=host, api_keys=KEYS).host == host
    for loopback in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert make_server(host=loopback).host == loopback


def test_serve_with_a_public_host_flag_and_no_keys_exits_as_a_configuration_error() -> None:
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"])  # noqa: S104
    assert result.exit_code == ExitCode.CONFIG
    assert "ATTACHE_ALLOW_UNAUTHENTICATED" in result.stderr


async def test_wrong_keys_from_one_address_are_throttled_even_before_a_right_one(
    make_settings: SettingsFactory, make_server: ServerFactory
) -> None:
    app = create_app(make_settings(), make_server(api_keys=KEYS, failed_auth_per_minute=3))
    right = {"X-API-Key": "new-key-9a2c-55b1f0"}
    async with AsyncTestClient(app=app) as client:
        wrong = [
            (await client.get("/schema/openapi.json", headers={"X-API-Key": guess})).status_code
            for guess in ("new-key-9a2c-55b1f", "new-key-9a2c-55b1f00", "x")
        ]
        throttled = await client.get("/schema/openapi.json", headers=right)
    assert wrong == [401, 401, 401]  # a prefix and an extension of a key are no key
    assert throttled.status_code == 429
    assert throttled.json()["type"] == "urn:attache:problem:too-many-failed-authentications"
    assert 0 < int(throttled.headers["retry-after"]) <= 60


async def test_metrics_scrapes_spend_no_client_quota(
    make_settings: SettingsFactory, make_server: ServerFactory
) -> None:
    app = create_app(make_settings(), make_server(api_keys=KEYS, rate_limit_per_minute=2))
    key = {"Authorization": "Bearer old-key-4f1d-0c8e7a"}
    async with AsyncTestClient(app=app) as client:
        scrapes = [(await client.get("/metrics", headers=key)).status_code for _ in range(5)]
        api = [(await client.get("/schema/openapi.json", headers=key)).status_code
               for _ in range(3)]  # fmt: skip
    assert scrapes == [200] * 5
    assert api == [200, 200, 429]
