"""`attache extract` runs the same pipeline as the API and exits with documented codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import respx
from click.testing import CliRunner

from attache.cli import main
from attache.evals.corpus import Article
from attache.schemas import ExtractionResponse
from tests.fakes import BASE_URL, COMPLETIONS, MODEL, error

ENV = {"ATTACHE_BASE_URL": BASE_URL, "ATTACHE_MODEL": MODEL, "ATTACHE_UPSTREAM_RETRIES": "0"}


def test_extract_file_prints_the_response(
    tmp_path: Path,
    board_of_peace: Article,
    answered: respx.Route,
) -> None:
    article = tmp_path / "article.txt"
    article.write_text(board_of_peace.text, encoding="utf-8")
    result = CliRunner().invoke(
        main,
        [
            "extract",
            str(article),
            "--id",
            "bop",
            "--published-at",
            "2026-01-20",
            "--type",
            "meeting",
        ],
        env=ENV,
    )
    assert result.exit_code == 0, result.output
    response = ExtractionResponse.model_validate_json(result.stdout)
    assert response.id == "bop"
    assert len(response.meetings) == 2
    assert response.invitations == []


def test_extract_reads_a_json_request_from_stdin(
    board_of_peace: Article,
    answered: respx.Route,
) -> None:
    request = json.dumps({"text": board_of_peace.text, "id": board_of_peace.id})
    result = CliRunner().invoke(main, ["extract", "-", "--request-json"], input=request, env=ENV)
    assert result.exit_code == 0, result.output
    assert ExtractionResponse.model_validate_json(result.stdout).id == board_of_peace.id


@pytest.mark.parametrize(
    ("stdin", "env", "exit_code", "slug"),
    [
        (b"   ", ENV, 3, "empty-article"),
        ("Café".encode("latin-1"), ENV, 3, "invalid-encoding"),
        (b"An article.", {**ENV, "ATTACHE_MODEL": ""}, 4, "model-not-configured"),
    ],
    ids=["empty", "not utf-8", "no model"],
)
def test_extract_failures_exit_with_their_code(
    stdin: bytes, env: dict[str, str], exit_code: int, slug: str
) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_mocked=True) as router:
        result = CliRunner().invoke(main, ["extract", "-"], input=stdin, env=env)
        assert not router.calls
    assert result.exit_code == exit_code, result.output
    assert result.stdout == ""
    assert json.loads(result.stderr)["type"] == f"urn:attache:problem:{slug}"


def test_extract_upstream_failure_exits_5(upstream: respx.MockRouter) -> None:
    upstream.post(COMPLETIONS).mock(return_value=error(401, "bad key"))
    result = CliRunner().invoke(main, ["extract", "-"], input=b"An article.", env=ENV)
    assert result.exit_code == 5
    assert json.loads(result.stderr)["type"] == "urn:attache:problem:upstream-rejected"


def test_invalid_setting_exits_4() -> None:
    result = CliRunner().invoke(
        main, ["extract", "-"], input=b"An article.", env={**ENV, "ATTACHE_MODE": "telepathy"}
    )
    assert result.exit_code == 4
    assert "ATTACHE_MODE" in result.stderr or "mode" in result.stderr
