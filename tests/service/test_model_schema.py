"""The schema the model sees compiles under every engine's rules, and loses nothing pydantic checks.

- OpenAI strict mode: its published rules, checked node by node.
- guidance (llguidance, one of vLLM's structured-output backends): the schema compiled by it.
- llama.cpp's grammar converter ships only inside llama-cpp-python, which builds from source for
  many minutes: too heavy for the dev extra. Its failure was grammar repetitions, one per length,
  count or pattern limit; the rule it needs is checked instead: no keyword outside `KEYWORDS`,
  none of which becomes a repetition. (The live runs in the README's table of servers compile it
  for real.)
- xgrammar (vLLM's default backend) needs torch: not installed here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import llguidance
import pytest

from attache.evals.fixtures import Fixture, load_all
from attache.model_schema import KEYWORDS, model_facing, only
from attache.schemas import ExtractionDraft
from attache.schemas.records import RECORD_KINDS
from tests.evals.synthetic import gold_as_draft

FACING = model_facing(ExtractionDraft.model_json_schema())
# What a call sends: the whole draft's schema, or its types' in a pass (one type, or a pair).
SENT = (
    {"whole": FACING}
    | {kind.field: only(FACING, kind.field) for kind in RECORD_KINDS}
    | {
        "+".join(k.field for k in pair): only(FACING, *(k.field for k in pair))
        for pair in (RECORD_KINDS[:2], RECORD_KINDS[2:])
    }
)
each_schema = pytest.mark.parametrize("schema", list(SENT.values()), ids=list(SENT))


def nodes(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node under `node`, with its path."""
    if not isinstance(node, dict):
        return
    yield path, node
    for key in ("properties", "$defs"):
        for name, child in node.get(key, {}).items():
            yield from nodes(child, f"{path}/{key}/{name}")
    if "items" in node:
        yield from nodes(node["items"], f"{path}/items")
    for i, child in enumerate(node.get("anyOf", [])):
        yield from nodes(child, f"{path}/anyOf/{i}")


@each_schema
def test_every_object_is_closed_and_requires_every_property(schema: dict[str, Any]) -> None:
    objects = [(p, n) for p, n in nodes(schema) if "properties" in n]
    assert len(objects) >= 4  # the root, a record, an actor, a link: else this checks little
    for path, node in objects:
        assert node["additionalProperties"] is False, path
        assert sorted(node["required"]) == sorted(node["properties"]), path


@each_schema
def test_only_keywords_every_engine_compiles(schema: dict[str, Any]) -> None:
    for path, node in nodes(schema):
        extra = set(node) - KEYWORDS - ({"title"} if path == "#" else set())
        assert not extra, (path, extra)


@each_schema
def test_a_reference_stands_alone_and_resolves(schema: dict[str, Any]) -> None:
    for path, node in nodes(schema):
        if "$ref" in node:
            assert set(node) == {"$ref"}, path  # strict mode refuses siblings of a $ref
            assert node["$ref"].removeprefix("#/$defs/") in schema["$defs"], path


@pytest.mark.parametrize("kind", RECORD_KINDS, ids=lambda kind: kind.field)
def test_a_pass_schema_holds_its_list_and_the_definitions_it_uses_only(kind: Any) -> None:
    schema = SENT[kind.field]
    assert list(schema["properties"]) == schema["required"] == [kind.field]
    referred = {
        node["$ref"].removeprefix("#/$defs/") for _, node in nodes(schema) if "$ref" in node
    }
    assert set(schema["$defs"]) == referred
    assert kind.draft.__name__ in schema["$defs"]
    assert len(json.dumps(schema)) < len(json.dumps(FACING)) / 2


def test_the_limits_left_out_are_the_ones_pydantic_enforces() -> None:
    contract = json.dumps(ExtractionDraft.model_json_schema())
    sent = json.dumps(FACING)
    for keyword in ("maxLength", "minLength", "minItems", "pattern"):
        assert f'"{keyword}"' in contract  # else this test checks nothing
        assert f'"{keyword}"' not in sent


@each_schema
def test_guidance_compiles_it(schema: dict[str, Any]) -> None:
    failed, messages = llguidance.LLMatcher.validate_grammar_with_warnings(
        llguidance.grammar_from("json_schema", json.dumps(schema))
    )
    assert not failed, messages
    assert not messages


def test_guidance_would_catch_a_broken_schema() -> None:
    broken = {**FACING, "properties": {"x": {"$ref": "#/$defs/Missing"}}}
    failed, _ = llguidance.LLMatcher.validate_grammar_with_warnings(
        llguidance.grammar_from("json_schema", json.dumps(broken))
    )
    assert failed


FIXTURES = [fixture for _, fixture in load_all()]


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.article_id for f in FIXTURES])
def test_every_labelled_answer_in_full_fits_the_schema_the_model_sees(fixture: Fixture) -> None:
    # A perfect answer, every field written out (nulls and empty lists included, as strict mode
    # makes the model write them): the model-facing schema must admit it, or the engine could
    # never produce it.
    full = ExtractionDraft.model_validate(gold_as_draft(fixture)).model_dump(mode="json")
    errors = [e.message for e in jsonschema_rs.validator_for(FACING).iter_errors(full)]
    assert not errors
    for kind in RECORD_KINDS:
        part = {kind.field: full[kind.field]}
        errors = [
            e.message for e in jsonschema_rs.validator_for(SENT[kind.field]).iter_errors(part)
        ]
        assert not errors, kind.field
