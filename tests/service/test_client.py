"""The model client does per model class what cannot change between calls, not per call."""

from __future__ import annotations

import json
from typing import Any

import instructor
import openai
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st
from instructor.v2.core import patch as instructor_patch
from instructor.v2.core.providers import Provider
from instructor.v2.core.registry import mode_registry
from instructor.v2.providers.openai import handlers as instructor_handlers
from instructor.v2.validation import async_validators
from pydantic.json_schema import GenerateJsonSchema

from attache.client import _answer_model
from attache.evals.corpus import Article
from attache.extractor import Extractor
from attache.model_schema import model_facing
from attache.prompts import load
from attache.schemas import ExtractionDraft, ExtractionRequest, RecordType
from attache.settings import ModelMode, Settings
from tests.conftest import SettingsFactory
from tests.fakes import BASE_URL, COMPLETIONS, ok


@pytest.mark.parametrize("mode", list(ModelMode))
async def test_no_schema_is_built_per_call(
    mode: ModelMode,
    make_settings: SettingsFactory,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[str] = []
    generate = GenerateJsonSchema.generate

    def counted(self: GenerateJsonSchema, *args: Any, **kwargs: Any) -> Any:
        built.append(mode.value)
        return generate(self, *args, **kwargs)

    settings: Settings = make_settings(mode=mode)
    with respx.mock(base_url=BASE_URL) as upstream:
        upstream.post(COMPLETIONS).mock(return_value=ok(board_of_peace_answer, mode=mode))
        async with Extractor.open(settings) as extractor:
            await extractor.extract(board_of_peace.request())  # warm: built here, if at all
            monkeypatch.setattr(GenerateJsonSchema, "generate", counted)
            for _ in range(3):
                response = await extractor.extract(board_of_peace.request())
    assert response.records
    assert built == []


def test_the_async_validator_walk_is_cached_where_instructor_calls_it() -> None:
    for module in (async_validators, instructor_patch):
        walk = getattr(module, "reject_async_validators")  # noqa: B009 - not re-exported
        assert getattr(walk, "attache_walks_once", False), module.__name__


@pytest.mark.parametrize("mode", [ModelMode.TOOLS, ModelMode.JSON_SCHEMA, ModelMode.JSON])
async def test_the_model_sees_the_model_facing_schema_and_the_caps_still_hold(
    mode: ModelMode,
    make_settings: SettingsFactory,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    too_long = json.loads(json.dumps(board_of_peace_answer))
    too_long["invitations"][0]["target"] = "x" * 1001  # past the 1,000-character cap
    with respx.mock(base_url=BASE_URL) as upstream:
        route = upstream.post(COMPLETIONS).mock(
            side_effect=[ok(too_long, mode=mode), ok(board_of_peace_answer, mode=mode)]
        )
        async with Extractor.open(make_settings(mode=mode, reasks=1)) as extractor:
            response = await extractor.extract(ExtractionRequest(text=board_of_peace.text))
    sent = json.loads(route.calls[0].request.content)
    facing = model_facing(ExtractionDraft.model_json_schema())
    assert "maxLength" not in json.dumps(sent)
    if mode is ModelMode.TOOLS:
        parameters = sent["tools"][0]["function"]["parameters"]
        assert sorted(parameters.pop("required")) == sorted(facing.pop("required"))
        assert parameters == {k: v for k, v in facing.items() if k != "title"}
    elif mode is ModelMode.JSON_SCHEMA:
        assert sent["response_format"]["json_schema"]["schema"] == facing
    assert route.call_count == 2  # the over-long answer was re-asked: pydantic enforced the cap
    assert response.usage.reasks == 1


@pytest.mark.parametrize("mode", list(ModelMode))
async def test_parameters_sent_as_built_make_the_same_request_body(
    mode: ModelMode,
    make_settings: SettingsFactory,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    """The request attache sends (the SDK's walk of the parameters skipped) is the JSON the SDK
    sends, walking them, for the same arguments."""
    sent: list[dict[str, Any]] = []
    with respx.mock(base_url=BASE_URL) as upstream:
        route = upstream.post(COMPLETIONS).mock(return_value=ok(board_of_peace_answer, mode=mode))
        async with Extractor.open(make_settings(mode=mode)) as extractor:
            await extractor.extract(board_of_peace.request())
        sent.append(json.loads(route.calls.last.request.content))
        plain = openai.AsyncOpenAI(base_url=BASE_URL, api_key="test-key", max_retries=0)
        arguments = {key: value for key, value in sent[0].items() if key != "stream"}
        await plain.chat.completions.create(**arguments)
        sent.append(json.loads(route.calls.last.request.content))
    as_built, walked = sent
    assert as_built["messages"]
    assert as_built == walked


@pytest.mark.parametrize("mode", [ModelMode.JSON, ModelMode.MD_JSON])
async def test_the_json_modes_give_the_model_facing_schema_as_compact_json_in_the_system_message(
    mode: ModelMode,
    make_settings: SettingsFactory,
    board_of_peace: Article,
    board_of_peace_answer: dict[str, Any],
) -> None:
    with respx.mock(base_url=BASE_URL) as upstream:
        route = upstream.post(COMPLETIONS).mock(return_value=ok(board_of_peace_answer, mode=mode))
        async with Extractor.open(make_settings(mode=mode)) as extractor:
            await extractor.extract(board_of_peace.request())
    system = json.loads(route.calls.last.request.content)["messages"][0]["content"]
    compact = json.dumps(
        model_facing(ExtractionDraft.model_json_schema()), separators=(",", ":"), ensure_ascii=False
    )
    assert system.count(compact) == 1


_PREPARED_ONCE: dict[instructor.Mode, type[Any]] = {
    instructor.Mode.JSON: instructor_handlers.OpenAIJSONHandler,
    instructor.Mode.MD_JSON: instructor_handlers.OpenAIMDJSONHandler,
    instructor.Mode.JSON_SCHEMA: instructor_handlers.OpenAIJSONSchemaHandler,
}
_ANSWER_MODELS = [
    _answer_model(None),
    _answer_model((RecordType.MEETING,)),
    _answer_model((RecordType.INVITATION, RecordType.MEETING)),
]
_PLAIN = st.text(st.characters(codec="utf-8"), max_size=200)
_CONVERSATIONS = st.one_of(
    # What attache sends: the prompt's system message and a user message.
    st.builds(
        lambda user: [
            {"role": "system", "content": load().system},
            {"role": "user", "content": user},
        ],
        _PLAIN,
    ),
    # Anything else goes to instructor's handler as it is.
    st.lists(
        st.builds(
            lambda role, content: {"role": role, "content": content},
            st.sampled_from(["system", "user", "assistant"]),
            _PLAIN,
        ),
        max_size=4,
    ),
)


@pytest.mark.parametrize("mode", list(_PREPARED_ONCE))
@given(
    model=st.sampled_from(_ANSWER_MODELS),
    messages=_CONVERSATIONS,
    stream=st.booleans(),
)
def test_the_json_modes_prepare_a_call_as_instructors_own_handler_does(
    mode: instructor.Mode,
    model: type[ExtractionDraft],
    messages: list[dict[str, Any]],
    stream: bool,
) -> None:
    registered = mode_registry.get_handlers(Provider.OPENAI, mode).request_handler
    own = _PREPARED_ONCE[mode]()
    kwargs = {"messages": messages, "max_tokens": 10, **({"stream": True} if stream else {})}
    assert registered(model, dict(kwargs)) == own.prepare_request(model, dict(kwargs))


@pytest.mark.parametrize("mode", list(_PREPARED_ONCE))
def test_the_json_modes_build_their_instructions_once(
    mode: instructor.Mode, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered = mode_registry.get_handlers(Provider.OPENAI, mode).request_handler
    model = _answer_model((RecordType.DECLARATION,))
    system = {"role": "system", "content": load().system}
    registered(model, {"messages": [system, {"role": "user", "content": "warm"}]})
    asked: list[type[ExtractionDraft]] = []
    schema = model.model_json_schema

    def counted() -> dict[str, Any]:
        asked.append(model)
        return schema()

    monkeypatch.setattr(model, "model_json_schema", counted)
    for text in ("one", "two"):
        _, prepared = registered(model, {"messages": [system, {"role": "user", "content": text}]})
        assert prepared["messages"][1]["content"].startswith(text)
    assert asked == []
    registered(model, {"messages": [{"role": "user", "content": "no system message"}]})
    assert asked == [model]
