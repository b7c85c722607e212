"""The pipeline through the Python API: chunked articles, concurrency, failure of one chunk."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
import respx

import attache
from attache.errors import (
    AttacheError,
    EmptyArticle,
    InvalidRequest,
    ModelNotConfigured,
    UpstreamRejected,
)
from attache.evals.corpus import Article
from attache.extractor import Extractor
from attache.schemas import ExtractionRequest, ExtractionResponse, RecordType
from attache.schemas.records import RECORD_KINDS
from attache.settings import Settings
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


async def test_extract_many_keeps_input_order_and_one_failure_loses_nothing(
    settings: Settings,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        article = json.loads(request.content)["messages"][1]["content"]
        if "Reject me" in article:
            return error(400, "no")
        return ok(board_of_peace_answer if "Kremlin" in article else EMPTY_ANSWER)

    upstream.post(COMPLETIONS).mock(side_effect=answer)
    requests = [
        ExtractionRequest(id="empty", text="  "),
        ExtractionRequest(id="bop", text=board_of_peace.text),
        ExtractionRequest(id="rejected", text="Reject me, please."),
        ExtractionRequest(id="quiet", text="Nothing happened today."),
    ]
    async with Extractor.open(settings) as extractor:
        results = await extractor.extract_many(requests, concurrency=2)
    assert [type(r).__name__ for r in results] == [
        "EmptyArticle", "ExtractionResponse", "UpstreamRejected", "ExtractionResponse",
    ]  # fmt: skip
    assert isinstance(results[1], ExtractionResponse)
    assert results[1].id == "bop"
    assert len(results[1].records) > 0
    assert isinstance(results[3], ExtractionResponse)
    assert results[3].records == []


async def test_extract_many_returns_a_bug_as_that_articles_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Extractor, request: ExtractionRequest) -> ExtractionResponse:
        raise KeyError(request.id)

    monkeypatch.setattr(Extractor, "extract", broken)
    async with Extractor.open(settings) as extractor:
        [result] = await extractor.extract_many([ExtractionRequest(id="x", text="a")])
    assert isinstance(result, AttacheError)
    assert result.problem_type == "urn:attache:problem:internal-error"
    assert isinstance(result.__cause__, KeyError)


async def test_the_one_call_form_validates_its_arguments_as_the_api_does(
    settings: Settings,
) -> None:
    with pytest.raises(InvalidRequest, match="published_at"):
        await attache.extract("An article.", published_at="yesterday", settings=settings)
    with pytest.raises(InvalidRequest, match="types"):
        await attache.extract("An article.", types=["rumour"], settings=settings)


async def test_the_sync_wrapper_works_inside_a_running_loop_as_in_a_notebook(
    settings: Settings,
    board_of_peace: Article,
    answered: respx.Route,
) -> None:
    # A notebook cell runs inside an event loop: asyncio.run would fail here, the wrapper not.
    response = attache.extract_sync(board_of_peace.text, types=["meeting"], settings=settings)
    assert [r.id for r in response.records] == [m.id for m in response.meetings]
    assert response.meetings
    with attache.SyncExtractor(settings) as extractor:
        [one, two] = extractor.extract_many(
            [ExtractionRequest(text=board_of_peace.text), ExtractionRequest(text=" ")]
        )
    assert isinstance(one, ExtractionResponse)
    assert isinstance(two, EmptyArticle)
    with pytest.raises(RuntimeError, match="with"):
        extractor.extract(ExtractionRequest(text="closed"))


async def test_a_long_article_is_assembled_off_the_event_loop_with_the_same_records(
    settings: Settings,
    board_of_peace: Article,
    answered: respx.Route,
) -> None:
    long_text = "\n\n".join([board_of_peace.text] * 5)
    assert len(long_text) > 10_000  # past the size assembled on the loop
    async with Extractor.open(settings) as extractor:
        short = await extractor.extract(ExtractionRequest(text=board_of_peace.text))
        long = await extractor.extract(ExtractionRequest(text=long_text))
    assert [r.id for r in long.records] == [r.id for r in short.records]
    assert all(e.start is not None for r in long.records for e in r.evidence)


# Each way of passing: its calls' tool names, and the types each call reads.
PASSES = {
    "per-type": (
        ["Invitations", "Meetings", "Declarations", "FundingAsks"],
        [[kind] for kind in RECORD_KINDS],
    ),
    "pairs": (
        ["InvitationsMeetings", "DeclarationsFundingAsks"],
        [list(RECORD_KINDS[:2]), list(RECORD_KINDS[2:])],
    ),
}


@pytest.mark.parametrize("passes", list(PASSES))
async def test_passes_ask_each_group_of_types_with_its_schema_alone_and_merge_the_answers(
    passes: str,
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    # The fake answers every pass with every type's records, as a small model without a
    # grammar might: each pass must keep its own types' only. One more link, from the second
    # meeting to the first invitation, lies within a pair.
    answer = copy.deepcopy(board_of_peace_answer)
    answer["meetings"][1]["links"] = [{"relation": "follows", "target_ref": "R1"}]
    sent: list[dict[str, Any]] = []

    def respond(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return ok(answer)

    upstream.post(COMPLETIONS).mock(side_effect=respond)
    async with Extractor.open(make_settings()) as extractor:
        whole = await extractor.extract(board_of_peace.request())
    # One call at a time: the passes then go in RECORD_KINDS order.
    async with Extractor.open(make_settings(passes=passes, chunk_concurrency=1)) as extractor:
        passed = await extractor.extract(board_of_peace.request())

    names, groups = PASSES[passes]
    asked = sent[1:]
    tools = [body["tools"][0]["function"] for body in asked]
    assert [tool["name"] for tool in tools] == names
    for tool, group in zip(tools, groups, strict=True):
        assert list(tool["parameters"]["properties"]) == [kind.field for kind in group]
    users = [body["messages"][-1]["content"] for body in asked]
    assert [u.splitlines()[0] for u in users] == [
        f"Extract these record types: {', '.join(kind.type.value for kind in group)}."
        for group in groups
    ]
    assert passed.usage.upstream_calls == passed.usage.completions == len(groups)

    def unlinked(response: ExtractionResponse) -> list[dict[str, Any]]:
        return [r.model_dump(exclude={"links"}) for r in response.records]

    def linked(response: ExtractionResponse) -> set[str]:
        return {r.id for r in response.records if r.links}

    # The same records, ids and evidence; only the links across passes are gone.
    assert unlinked(passed) == unlinked(whole)
    assert linked(whole) == {"mtg-2", "dcl-1", "fund-1"}
    assert linked(passed) == ({"mtg-2"} if passes == "pairs" else set())
    dropped = {w.record_id for w in passed.warnings if w.code == "link_dropped"}
    assert dropped == linked(whole) - linked(passed)
    assert not [w for w in passed.warnings if w.code == "duplicate_merged"]


@pytest.mark.parametrize(
    ("passes", "types", "calls"),
    [
        ("per-type", {RecordType.MEETING, RecordType.FUNDING_ASK}, 2),
        ("pairs", {RecordType.MEETING, RecordType.FUNDING_ASK}, 2),
        ("pairs", {RecordType.INVITATION, RecordType.MEETING}, 1),
        ("pairs", {RecordType.INVITATION, RecordType.MEETING, RecordType.DECLARATION}, 2),
    ],
)
async def test_passes_call_only_for_the_types_asked(
    passes: str,
    types: set[RecordType],
    calls: int,
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    route = upstream.post(COMPLETIONS).mock(return_value=ok(board_of_peace_answer))
    request = board_of_peace.request().model_copy(update={"types": frozenset(types)})
    async with Extractor.open(make_settings(passes=passes)) as extractor:
        response = await extractor.extract(request)
    assert route.call_count == calls
    assert {r.record_type for r in response.records} == types
