"""Synthetic model answers built from gold fixtures, to exercise the harness offline.

Every recording written from these is marked `synthetic`: no score made from it is a model's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from attache.evals.fixtures import Fixture
from attache.evals.recording import Answer, Manifest, append_answer, write_manifest

_KINDS = ("invitations", "meetings", "declarations", "funding_asks")


def gold_as_draft(fixture: Fixture) -> dict[str, Any]:
    """The ExtractionDraft a perfect model would answer for the fixture's article."""
    gold = fixture.gold.model_dump(mode="json")
    refs = {
        record["id"]: f"R{n}"
        for n, record in enumerate((r for kind in _KINDS for r in gold[kind]), start=1)
    }
    draft: dict[str, Any] = {}
    for kind in _KINDS:
        draft[kind] = [_draft(record, refs) for record in gold[kind]]
    return draft


def _draft(record: dict[str, Any], refs: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in record.items():
        if name == "id":
            out["ref"] = refs[value]
        elif name == "evidence":
            out["evidence"] = [e["quote"] for e in value]
        elif name == "date":
            out["date"] = value["text"] if value else None
        elif name == "links":
            out["links"] = [
                {"relation": link["relation"], "target_ref": refs[link["target"]]} for link in value
            ]
        else:
            out[name] = _without_actor_ids(value)
    return out


def _without_actor_ids(value: Any) -> Any:
    if isinstance(value, list):
        return [_without_actor_ids(v) for v in value]
    if isinstance(value, dict) and "canonical_name" in value:
        return {k: v for k, v in value.items() if k != "id"}
    return value


def completion(draft: dict[str, Any]) -> str:
    """A chat completion carrying `draft` as the forced tool call of `tools` mode."""
    call = {"id": "call_0", "type": "function",
            "function": {"name": "ExtractionDraft", "arguments": json.dumps(draft)}}  # fmt: skip
    return json.dumps(
        {
            "id": "synthetic",
            "object": "chat.completion",
            "created": 0,
            "model": "synthetic",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
        }
    )


def write_synthetic_recording(folder: Path, fixtures: list[Fixture]) -> None:
    write_manifest(
        folder,
        Manifest(
            model="synthetic-gold",
            mode="tools",
            base_url=None,
            prompt_version="v1",
            recorded_at="1970-01-01T00:00:00+00:00",
            git_revision=None,
            synthetic=True,
            note="gold fixtures replayed as model answers; tests the harness, measures nothing",
        ),
    )
    for fixture in fixtures:
        append_answer(
            folder,
            fixture.article_id,
            Answer(
                status=200,
                headers={"content-type": "application/json"},
                body=completion(gold_as_draft(fixture)),
                elapsed_ms=0.0,
                request_sha256=None,
            ),
        )
