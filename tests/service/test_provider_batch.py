"""Provider batch APIs: the prepared lines are the requests attache sends online, and every
returned answer is validated, grounded and normalized as an online answer is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import respx

from attache.batch import Item, parse_line
from attache.cache import key_for
from attache.evals.corpus import Article
from attache.extractor import Extractor
from attache.prompts import load
from attache.provider_batch import collect, meta_path, prepare, results_of, submit, wait
from attache.schemas import ExtractionRequest
from attache.schemas.records import RECORD_KINDS, draft_of
from attache.settings import Settings
from tests.conftest import SettingsFactory
from tests.fakes import BASE_URL, COMPLETIONS, completion


def _items(board_of_peace: Article, long: Article) -> list[Item]:
    lines = [
        {"id": "bop", "text": board_of_peace.text},
        {"id": "long", "text": long.text},
        {"id": "blank", "text": "  "},
    ]
    return [parse_line(n, json.dumps(line)) for n, line in enumerate(lines, start=1)]


def _long(articles: dict[str, Article]) -> Article:
    return max(articles.values(), key=lambda a: len(a.text))


async def _prepared(
    settings: Settings, board_of_peace: Article, articles: dict[str, Article], batch: Path
) -> tuple[int, list[dict[str, Any]]]:
    """Prepare the Board of Peace, the longest article (in chunks) and a blank one."""
    count = await prepare(_items(board_of_peace, _long(articles)), settings, batch)
    return count, _lines(batch)


def _lines(batch: Path) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in batch.read_text().splitlines()]


async def test_prepared_lines_are_the_requests_sent_online_keyed_by_the_cache_key(
    make_settings: SettingsFactory,
    board_of_peace: Article,
    articles: dict[str, Article],
    board_of_peace_answer: dict[str, Any],
    tmp_path: Path,
) -> None:
    settings = make_settings(chunk_chars=3000, chunk_overlap_chars=200)
    batch = tmp_path / "batch.jsonl"
    count, lines = await _prepared(settings, board_of_peace, articles, batch)
    assert len(lines) == count
    bop_key = key_for(ExtractionRequest(id="bop", text=board_of_peace.text), settings, load("v1"))
    ids = [line["custom_id"] for line in lines]
    assert ids[0] == bop_key
    assert len(ids) > 2  # the long article is read in several chunks: one line each
    assert all(i.endswith(("-1", "-2", "-3", "-4", "-5", "-6")) for i in ids[1:])
    assert all(line["url"] == "/v1/chat/completions" for line in lines)
    # Byte for byte what the online call sends.
    with respx.mock(base_url=BASE_URL) as upstream:
        route = upstream.post(COMPLETIONS).mock(
            return_value=httpx.Response(200, json=completion(board_of_peace_answer))
        )
        async with Extractor.open(settings) as extractor:
            await extractor.extract(ExtractionRequest(id="bop", text=board_of_peace.text))
    assert json.loads(route.calls[0].request.content) == lines[0]["body"]
    meta = [json.loads(raw) for raw in meta_path(batch).read_text().splitlines()]
    assert [m["id"] for m in meta] == ["bop", "long", "blank"]
    assert meta[2]["problem"]["type"].endswith(":empty-article")


async def test_submit_poll_and_collect_through_the_sdk(
    make_settings: SettingsFactory,
    board_of_peace: Article,
    articles: dict[str, Article],
    board_of_peace_answer: dict[str, Any],
    tmp_path: Path,
) -> None:
    settings = make_settings(chunk_chars=3000, chunk_overlap_chars=200)
    batch = tmp_path / "batch.jsonl"
    _count, lines = await _prepared(settings, board_of_peace, articles, batch)
    empty: dict[str, list[Any]] = {
        "invitations": [], "meetings": [], "declarations": [], "funding_asks": [],
    }  # fmt: skip
    output = [
        {"id": "r0", "custom_id": lines[0]["custom_id"], "error": None,
         "response": {"status_code": 200, "body": completion(board_of_peace_answer)}},
        *({"id": f"r{n}", "custom_id": line["custom_id"], "error": None,
           "response": {"status_code": 200, "body": completion(empty)}}
          for n, line in enumerate(lines[1:-1], start=1)),
    ]  # fmt: skip
    # The provider gave up on the long article's last call.
    errors = [{"id": "e1", "custom_id": lines[-1]["custom_id"], "response": None,
               "error": {"code": "batch_expired", "message": "not done in 24h"}}]  # fmt: skip

    def jsonl(rows: list[dict[str, Any]]) -> str:
        return "\n".join(json.dumps(r) for r in rows) + "\n"

    batch_json = {
        "id": "batch_1", "object": "batch", "endpoint": "/v1/chat/completions",
        "input_file_id": "file_in", "completion_window": "24h", "status": "completed",
        "created_at": 0, "output_file_id": "file_out", "error_file_id": "file_err",
        "request_counts": {"total": len(lines), "completed": len(lines) - 1, "failed": 1},
    }  # fmt: skip
    with respx.mock(base_url=BASE_URL, assert_all_called=True) as api:
        uploaded = api.post("/files").mock(
            return_value=httpx.Response(200, json={
                "id": "file_in", "object": "file", "bytes": 1, "created_at": 0,
                "filename": "batch.jsonl", "purpose": "batch", "status": "processed"})
        )  # fmt: skip
        created = api.post("/batches").mock(
            return_value=httpx.Response(200, json={**batch_json, "status": "validating"})
        )
        api.get("/batches/batch_1").mock(
            side_effect=[
                httpx.Response(200, json={**batch_json, "status": "in_progress"}),
                httpx.Response(200, json=batch_json),
            ]
        )
        api.get("/files/file_out/content").mock(
            return_value=httpx.Response(200, text=jsonl(output))
        )
        api.get("/files/file_err/content").mock(
            return_value=httpx.Response(200, text=jsonl(errors))
        )
        async with openai.AsyncOpenAI(base_url=BASE_URL, api_key="k") as client:
            batch_id = await submit(client, batch)
            finished = await wait(client, batch_id, every_s=0.01)
            results = await results_of(client, finished)
    assert b"batch.jsonl" in uploaded.calls[0].request.content
    assert json.loads(created.calls[0].request.content)["input_file_id"] == "file_in"
    assert finished.status == "completed"
    entries = await collect(batch, results, settings)
    by_id = {e["id"]: e for e in entries}
    assert [e["line"] for e in entries] == [1, 2, 3]
    # The BoP answer, grounded and normalized as online: evidence spans index the article.
    bop = by_id["bop"]["response"]
    assert bop["meetings"]
    for record in bop["meetings"]:
        for evidence in record["evidence"]:
            assert board_of_peace.text[evidence["start"] : evidence["end"]] == evidence["quote"]
    assert by_id["long"]["problem"]["type"].endswith(":upstream-unavailable")
    assert by_id["blank"]["problem"]["type"].endswith(":empty-article")


async def test_an_answer_that_fails_validation_is_the_articles_problem_not_a_reask(
    make_settings: SettingsFactory, board_of_peace: Article, tmp_path: Path
) -> None:
    settings = make_settings(reasks=2)
    batch = tmp_path / "batch.jsonl"
    item = parse_line(1, json.dumps({"id": "bop", "text": board_of_peace.text}))
    await prepare([item], settings, batch)
    [line] = [json.loads(raw) for raw in batch.read_text().splitlines()]
    wrong = completion({"meetings": "not a list"})
    results = [{"custom_id": line["custom_id"], "response": {"status_code": 200, "body": wrong}}]
    [entry] = await collect(batch, results, settings)
    assert entry["problem"]["type"].endswith(":invalid-model-output")


async def test_per_type_passes_are_a_line_each_and_collect_to_the_online_records(
    make_settings: SettingsFactory,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
    tmp_path: Path,
) -> None:
    settings = make_settings(passes="per-type")
    batch = tmp_path / "batch.jsonl"
    item = parse_line(1, json.dumps({"id": "bop", "text": board_of_peace.text}))
    assert await prepare([item], settings, batch) == len(RECORD_KINDS)
    lines = _lines(batch)
    # In the order the calls reached the network: the passes run concurrently.
    assert sorted(line["body"]["tools"][0]["function"]["name"] for line in lines) == sorted(
        draft_of(kind).__name__ for kind in RECORD_KINDS
    )
    # Every line answered with every type's records: each pass keeps its own.
    results = [
        {"custom_id": line["custom_id"],
         "response": {"status_code": 200, "body": completion(board_of_peace_answer)}}
        for line in lines
    ]  # fmt: skip
    [entry] = await collect(batch, results, settings)
    with respx.mock(base_url=BASE_URL) as upstream:
        upstream.post(COMPLETIONS).mock(
            return_value=httpx.Response(200, json=completion(board_of_peace_answer))
        )
        async with Extractor.open(settings) as extractor:
            online = await extractor.extract(ExtractionRequest(id="bop", text=board_of_peace.text))
    collected = entry["response"]
    for kind in RECORD_KINDS:
        assert collected[kind.field] == online.model_dump(mode="json")[kind.field]
        assert collected[kind.field]
