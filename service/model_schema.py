"""The JSON schema the model sees: one that every structured-output engine compiles.

pydantic's schema of the draft model is the contract; what goes to the model is derived from it
by `model_facing`, under the rules the engines attache talks to enforce:

- OpenAI strict mode (`strict: true`): every object lists every property in `required` and sets
  `additionalProperties: false`; an optional field is required and nullable instead (`null` among
  its types); only the keywords in `KEYWORDS`.
- llama.cpp's grammar converter (llama-server, llama-cpp-python, Ollama): each length, count or
  pattern limit becomes nested grammar repetitions. A thousand-character cap on some forty
  strings made its grammar fail to build, and llama-cpp-python 0.3.36 then crashed. None are
  sent.
- vLLM's structured output (xgrammar, guidance): the same subset compiles.

Nothing is lost: pydantic validates the answer against the draft model itself, caps and
patterns included, and an answer that breaks one is re-asked like any invalid answer.

Every token of the schema is paid in every request, before the article: on a CPU-served model,
seconds each. So titles (but the root's), defaults and descriptions are left out (the prompt
says what each field holds: `prompts/`), a nullable plain type is written as a list of types,
and the value sets (enums), each used in one place, are written in place rather than
referenced. What is left is the structure the answer must have.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# The keywords of OpenAI's strict subset that llama.cpp, xgrammar and guidance compile as well
# (`description` would be one; it is left out on purpose, above).
KEYWORDS = frozenset({
    "$defs", "$ref", "additionalProperties", "anyOf", "enum", "items", "properties", "required",
    "type",
})  # fmt: skip

JsonSchema = dict[str, Any]
_NULL = {"type": "null"}


def model_facing(schema: JsonSchema) -> JsonSchema:
    """`schema` (pydantic's, with `$defs`) as the model should see it; see the module doc."""
    defs: dict[str, JsonSchema] = schema.get("$defs", {})
    value_sets = {f"#/$defs/{name}": d for name, d in defs.items() if "enum" in d}
    out = _node(schema, value_sets)
    if "title" in schema:
        # The one title kept: instructor names the tool after it, and OpenAI accepts it.
        out["title"] = schema["title"]
    if "$defs" in out:
        out["$defs"] = {n: d for n, d in out["$defs"].items() if f"#/$defs/{n}" not in value_sets}
    return out


def only(schema: JsonSchema, *fields: str) -> JsonSchema:
    """A model-facing `schema` cut to the root's properties `fields`, without the definitions
    nothing then refers to: the schema of a pass over some types (one type's is a third of the
    tokens of the whole)."""
    properties = {field: schema["properties"][field] for field in fields}
    out = {**schema, "properties": properties, "required": list(fields)}
    defs: dict[str, JsonSchema] = schema.get("$defs", {})
    used: set[str] = set()
    pending = list(_refs(out["properties"]))
    while pending:
        name = pending.pop()
        if name not in used:
            used.add(name)
            pending.extend(_refs(defs[name]))
    if defs:
        out["$defs"] = {name: d for name, d in defs.items() if name in used}
    return out


def _refs(node: Any) -> Iterator[str]:
    """The names of the definitions `node` refers to, directly."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _node(node: JsonSchema, value_sets: dict[str, JsonSchema]) -> JsonSchema:
    if node.get("$ref") in value_sets:
        node = value_sets[node["$ref"]]
    out: JsonSchema = {}
    for key, value in node.items():
        if key not in KEYWORDS:
            continue
        if key in ("properties", "$defs"):
            out[key] = {name: _node(child, value_sets) for name, child in value.items()}
        elif key == "items":
            out[key] = _node(value, value_sets)
        elif key == "anyOf":
            out[key] = [_node(child, value_sets) for child in value]
        else:
            out[key] = value
    # {"anyOf": [{"type": "string"}, {"type": "null"}]} says {"type": ["string", "null"]}.
    options = out.get("anyOf", [])
    if len(options) == 2 and _NULL in options:
        other = options[1 - options.index(_NULL)]
        if set(other) == {"type"} and isinstance(other["type"], str):
            del out["anyOf"]
            out["type"] = [other["type"], "null"]
    if "properties" in out:
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out
