"""A re-ask tells the model each fault in a line it can act on, and asks above temperature 0."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from pydantic import ValidationError

from attache.errors import InvalidModelOutput
from attache.evals.corpus import Article
from attache.extractor import Extractor
from attache.reask import MAX_LINES, feedback
from attache.schemas import ExtractionDraft, ExtractionRequest
from attache.settings import ModelMode
from tests.conftest import SettingsFactory
from tests.fakes import BASE_URL, COMPLETIONS, ok

FAULTS = ("invitations[0].status: Input should be", "You wrote 'sort of'")


def _faulty(answer: dict[str, Any]) -> dict[str, Any]:
    wrong: dict[str, Any] = json.loads(json.dumps(answer))
    wrong["invitations"][0]["status"] = "sort of"
    return wrong


def _told(request: httpx.Request) -> str:
    """What the last message of a request says (instructor's re-ask turn)."""
    last = json.loads(request.content)["messages"][-1]
    return str(last["content"])


@pytest.mark.parametrize("mode", list(ModelMode))
async def test_a_model_that_fixes_what_it_is_told_is_accepted_on_the_reask(
    mode: ModelMode,
    make_settings: SettingsFactory,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    # The fake model repeats its mistake unless the re-ask names the field, the fault and what
    # it wrote, and is sent above temperature 0 (at 0 a model asked the same answers the same).
    def model(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        told = _told(request)
        if body["temperature"] > 0 and all(fault in told for fault in FAULTS):
            return ok(board_of_peace_answer, mode=mode)
        return ok(_faulty(board_of_peace_answer), mode=mode)

    # Without salvage, which would keep the other records of a second faulty answer.
    settings = make_settings(
        mode=mode, reasks=1, temperature=0.0, reask_temperature=0.4, salvage=False
    )
    with respx.mock(base_url=BASE_URL) as upstream:
        route = upstream.post(COMPLETIONS).mock(side_effect=model)
        async with Extractor.open(settings) as extractor:
            response = await extractor.extract(ExtractionRequest(text=board_of_peace.text))
    assert route.call_count == 2
    assert response.usage.reasks == 1
    first, second = (json.loads(call.request.content) for call in route.calls)
    assert first["temperature"] == 0.0
    assert second["temperature"] == 0.4
    # The first request went as built: the re-ask's turns were added to a copy.
    assert len(second["messages"]) == len(first["messages"]) + 2
    told = _told(route.calls[1].request)
    assert "validation error for" not in told
    assert "errors.pydantic.dev" not in told


async def test_without_the_reask_temperature_the_same_model_is_not_rescued(
    make_settings: SettingsFactory, board_of_peace: Article, board_of_peace_answer: dict[str, Any]
) -> None:
    def model(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["temperature"] > 0:
            return ok(board_of_peace_answer)
        return ok(_faulty(board_of_peace_answer))

    # Without salvage: what is measured is whether the re-ask itself rescued the answer.
    settings = make_settings(reasks=1, temperature=0.0, reask_temperature=0.0, salvage=False)
    with respx.mock(base_url=BASE_URL) as upstream:
        upstream.post(COMPLETIONS).mock(side_effect=model)
        async with Extractor.open(settings) as extractor:
            with pytest.raises(InvalidModelOutput) as raised:
                await extractor.extract(ExtractionRequest(text=board_of_peace.text))
    assert "invitations.0.status" in raised.value.detail


def _error(answer: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        ExtractionDraft.model_validate(answer)
    return raised.value


def test_each_fault_is_a_line_with_the_fields_description_and_what_was_written(
    board_of_peace_answer: dict[str, Any],
) -> None:
    wrong = _faulty(board_of_peace_answer)
    wrong["invitations"][0]["target"] = "x" * 1001
    del wrong["invitations"][0]["inviters"]
    lines = feedback(_error(wrong), ExtractionDraft).splitlines()
    assert lines[0] == "Your answer was not accepted:"
    assert lines[-1].startswith("Send the whole answer again")
    faults = {line.split(":", 1)[0]: line for line in lines[1:-1]}
    assert set(faults) == {
        "- invitations[0].status", "- invitations[0].target", "- invitations[0].inviters",
    }  # fmt: skip
    assert "The field holds: What the invitation is to" in faults["- invitations[0].target"]
    assert "You wrote 'xxxx" in faults["- invitations[0].target"]
    assert "..." in faults["- invitations[0].target"]  # 1,001 characters are not echoed back
    assert "Field required" in faults["- invitations[0].inviters"]
    assert "You wrote" not in faults["- invitations[0].inviters"]


def test_many_faults_are_cut_to_a_count(board_of_peace_answer: dict[str, Any]) -> None:
    wrong = json.loads(json.dumps(board_of_peace_answer))
    wrong["meetings"] = [{"ref": f"bad {n}"} for n in range(MAX_LINES)]
    lines = feedback(_error(wrong), ExtractionDraft).splitlines()
    assert len(lines) == MAX_LINES + 3
    assert lines[-2].startswith("- and ")
    assert lines[-2].endswith(" more")


def test_an_answer_that_is_not_json_is_told_so_in_one_line() -> None:
    told = feedback(json.JSONDecodeError("Expecting value", "{oops", 1), ExtractionDraft)
    assert told.startswith("Your answer could not be read (Expecting value")
    assert "\n" not in told
