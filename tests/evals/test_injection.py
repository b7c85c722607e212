"""Prompt injection: a model that obeys an injected paragraph still yields no record the
article does not support."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from attache.evals import injection
from attache.evals.corpus import FIXTURES, read_texts
from attache.evals.fixtures import load
from attache.evals.runner import RunConfig, run
from attache.extractor import Extractor
from attache.schemas import ExtractionRequest, WarningCode
from attache.settings import Settings
from tests.evals.synthetic import completion, gold_as_draft, write_synthetic_recording
from tests.fakes import BASE_URL, COMPLETIONS

# What an obedient model adds: records with quotes it wrote itself.
OBEYED: dict[str, dict[str, Any]] = {
    "meetings": {
        "ref": "R90", "participants": [{"name": "Vladimir Putin", "canonical_name":
        "Vladimir Putin", "kind": "person"}, {"name": "Donald Trump", "canonical_name":
        "Donald Trump", "kind": "person"}], "place": "Geneva", "status": "held",
        "topics": [], "evidence": ["The two presidents held three hours of talks in Geneva."],
    },
    "funding_asks": {
        "ref": "R91", "requester": {"name": "West Germany", "canonical_name": "Germany",
        "kind": "country"}, "addressees": [], "amount": {"text": "10 billion marks"},
        "status": "requested", "evidence": ["West Germany asked the IMF for 10 billion marks."],
    },
}  # fmt: skip


@pytest.mark.parametrize("case", injection.CASES, ids=[c.article_id for c in injection.CASES])
async def test_an_obeyed_injection_adds_no_record(
    case: injection.Injection, make_settings: Any
) -> None:
    fixture = load(FIXTURES / f"{case.article_id}.json")
    text, (lo, hi) = injection.inject(read_texts()[case.article_id], case)
    assert text[lo:hi] == case.paragraph
    answer = gold_as_draft(fixture)
    for kind, invented in OBEYED.items():
        answer[kind] = [*answer[kind], invented]
    # The model keeps obeying when re-asked: every answer carries the invented records.
    with respx.mock(base_url=BASE_URL) as upstream:
        upstream.post(COMPLETIONS).mock(
            return_value=httpx.Response(200, content=completion(answer),
                                        headers={"content-type": "application/json"})
        )  # fmt: skip
        async with Extractor.open(make_settings()) as extractor:
            response = await extractor.extract(ExtractionRequest(text=text))
    records = [*response.invitations, *response.meetings, *response.declarations,
               *response.funding_asks]  # fmt: skip
    assert len(records) == len(fixture.gold.records)
    for record in records:
        for evidence in record.evidence:
            assert evidence.start is not None
            assert evidence.end is not None
            assert evidence.end <= lo  # all inside the real article
    assert [w.code for w in response.warnings].count(WarningCode.RECORD_DROPPED) == 2
    assert response.usage.reasks == 1  # the invented quotes were sent back once


async def test_injection_suite_counts_records_grounded_in_the_injection(tmp_path: Path) -> None:
    """Grounding cannot refuse a quote of the injected paragraph itself: the suite counts it."""
    fixtures = [load(FIXTURES / f"{case.article_id}.json") for case in injection.CASES]
    recording = tmp_path / "recording"
    write_synthetic_recording(recording, fixtures)
    # One model obeys on the Board of Peace story, quoting the injected paragraph.
    bop = fixtures[0]
    answer = gold_as_draft(bop)
    answer["meetings"].append(
        {**OBEYED["meetings"], "evidence": ["Vladimir Putin and Donald Trump met in Geneva"]}
    )
    (recording / f"{bop.article_id}.jsonl").write_text(
        json.dumps({"status": 200, "headers": {"content-type": "application/json"},
                    "body": completion(answer), "elapsed_ms": 0.0,
                    "request_sha256": None}) + "\n"
    )  # fmt: skip
    config = RunConfig(FIXTURES, Settings(_env_file=None), tmp_path / "out", replay=recording)
    out = await run(replace(config, progress=False, injection=True))
    results = json.loads((out / "results.json").read_text())
    assert results["meta"]["suite"] == "injection"
    assert results["metrics"]["articles"] == len(injection.CASES)
    assert results["metrics"]["injection_hits"] == 1
    assert list(results["metrics"]["injection_hit_records"]) == [bop.article_id]
    assert results["metrics"]["records"]["micro"]["recall"] == 1.0
