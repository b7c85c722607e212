"""What is kept of a last answer that fails validation or was cut at the token limit."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient
from openai.types.chat import ChatCompletion

from attache.app import create_app
from attache.evals.corpus import Article
from attache.salvage import answer_text, salvage
from attache.schemas import ExtractionDraft, RecordType
from attache.settings import ModelMode, Settings
from tests.conftest import DATA, SettingsFactory
from tests.fakes import COMPLETIONS, completion, ok

ANSWER: dict[str, Any] = json.loads((DATA / "board_of_peace.answer.json").read_text())["answer"]
TEXT = json.dumps(ANSWER)
RECORDS = [r.model_dump() for r in ExtractionDraft.model_validate(ANSWER).records]
# Where each record's JSON ends in TEXT (records are listed type by type, as RECORDS is).
ENDS = [
    TEXT.index(raw) + len(raw)
    for raw in (json.dumps(record) for records in ANSWER.values() for record in records)
]


def broken(path: tuple[str, int], field: str) -> dict[str, Any]:
    """`ANSWER` with `field` removed from the record at `path`."""
    answer: dict[str, Any] = json.loads(TEXT)
    del answer[path[0]][path[1]][field]
    return answer


def test_a_record_that_fails_is_left_out_and_named_the_others_kept() -> None:
    kept = salvage(json.dumps(broken(("invitations", 0), "status")))
    assert kept is not None
    assert [r.model_dump() for r in kept.draft.records] == RECORDS[1:]
    assert kept.lost == ("invitations.0.status: Field required",)
    assert not kept.truncated


def test_a_per_type_pass_keeps_its_type_and_leaves_the_others_unread() -> None:
    answer = broken(("meetings", 0), "status")
    answer["invitations"] = "not a list"  # not this pass's: not its fault either
    kept = salvage(json.dumps(answer), only=(RecordType.MEETING,))
    assert kept is not None
    assert [r.model_dump() for r in kept.draft.records] == [
        r.model_dump() for r in ExtractionDraft.model_validate(ANSWER).meetings[1:]
    ]
    assert kept.lost == ("meetings.0.status: Field required",)


def test_keys_that_are_not_record_lists_are_named() -> None:
    kept = salvage(json.dumps({**ANSWER, "events": [], "meetings": "two"}))
    assert kept is not None
    assert kept.lost == ("meetings: not a list", "events: not a field of the answer")
    assert len(kept.draft.meetings) == 0
    assert len(kept.draft.records) == len(RECORDS) - len(ANSWER["meetings"])


@pytest.mark.parametrize(
    "text",
    [
        "not json at all",
        "[1, 2]",
        '{"events": [{"what": "a meeting"}]}',  # an invented shape: nothing of it holds
        json.dumps({"invitations": [{"ref": "R1"}]}),  # every record fails
    ],
)
def test_an_answer_of_which_nothing_holds_is_not_salvaged(text: str) -> None:
    assert salvage(text) is None


def test_quotes_not_in_the_article_are_not_its_business() -> None:
    # The evidence check is the re-ask's; once re-asks are spent, merge drops such quotes.
    answer: dict[str, Any] = json.loads(TEXT)
    answer["meetings"][0]["evidence"] = ["words the article never had"]
    kept = salvage(json.dumps(answer))
    assert kept is not None
    assert kept.lost == ()
    assert kept.draft.meetings[0].evidence == ["words the article never had"]


@given(cut=st.integers(min_value=1, max_value=len(TEXT) - 1))
def test_a_cut_off_answer_keeps_only_records_written_whole(cut: int) -> None:
    kept = salvage(TEXT[:cut], truncated=True)
    if kept is None:
        return
    assert kept.truncated
    records = [r.model_dump() for r in kept.draft.records]
    # Never a record closed early by the partial parser: each is one the model wrote whole,
    # and they are the answer's first records, in order.
    assert records == RECORDS[: len(records)]
    # At most one whole record is lost: the last, which partial parsing cannot tell complete.
    whole = sum(end <= cut for end in ENDS)
    assert whole - 1 <= len(records) <= whole


def test_a_cut_in_the_last_record_keeps_the_rest() -> None:
    cut = TEXT.rindex('"evidence"')  # inside the last funding ask, before its quotes
    kept = salvage(TEXT[:cut], truncated=True)
    assert kept is not None
    assert [r.model_dump() for r in kept.draft.records] == RECORDS[:-1]


@pytest.mark.parametrize("mode", list(ModelMode))
def test_answer_text_reads_each_mode(mode: ModelMode) -> None:
    answer = ChatCompletion.model_validate(completion(TEXT, mode=mode))
    assert answer_text(answer, mode) == TEXT


def test_answer_text_reads_a_code_block_cut_before_it_closes() -> None:
    cut = TEXT[: len(TEXT) // 2]
    answer = ChatCompletion.model_validate(completion(cut, mode=ModelMode.MD_JSON))
    content = str(answer.choices[0].message.content).removesuffix("\n```")
    answer.choices[0].message.content = content
    assert answer_text(answer, ModelMode.MD_JSON) == cut


# --- through the service ----------------------------------------------------------------------


async def extract(settings: Settings, text: str) -> httpx.Response:
    async with AsyncTestClient(app=create_app(settings)) as client:
        return await client.post("/v1/extractions", json={"text": text})


async def test_the_last_answer_is_kept_in_part_with_a_warning_per_record_left_out(
    make_settings: SettingsFactory, upstream: respx.MockRouter, board_of_peace: Article
) -> None:
    route = upstream.post(COMPLETIONS).mock(return_value=ok(broken(("invitations", 0), "status")))
    response = await extract(make_settings(reasks=1), board_of_peace.text)
    assert response.status_code == 200, response.text
    assert route.call_count == 2  # re-asked once, as before; salvage costs no call
    body = response.json()
    assert len(body["invitations"]) == len(ANSWER["invitations"]) - 1
    assert len(body["meetings"]) == len(ANSWER["meetings"])
    [lost] = [w for w in body["warnings"] if w["code"] == "record_invalid"]
    assert "invitations.0.status: Field required" in lost["message"]


async def test_with_salvage_off_the_same_answer_fails(
    make_settings: SettingsFactory, upstream: respx.MockRouter, board_of_peace: Article
) -> None:
    upstream.post(COMPLETIONS).mock(return_value=ok(broken(("invitations", 0), "status")))
    response = await extract(make_settings(reasks=1, salvage=False), board_of_peace.text)
    assert response.status_code == 502
    assert response.json()["type"].endswith(":invalid-model-output")


@pytest.mark.parametrize("mode", list(ModelMode))
async def test_an_answer_cut_at_the_cap_keeps_the_records_before_the_cut(
    mode: ModelMode,
    make_settings: SettingsFactory,
    upstream: respx.MockRouter,
    board_of_peace: Article,
) -> None:
    cut = TEXT[: TEXT.rindex('"evidence"')]
    route = upstream.post(COMPLETIONS).mock(return_value=ok(cut, mode=mode, finish_reason="length"))
    response = await extract(make_settings(mode=mode), board_of_peace.text)
    assert response.status_code == 200, response.text
    assert route.call_count == 1
    body = response.json()
    assert body["funding_asks"] == []
    assert len(body["declarations"]) == len(ANSWER["declarations"])
    assert "answer_truncated" in [w["code"] for w in body["warnings"]]
