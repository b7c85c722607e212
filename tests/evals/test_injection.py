"""Prompt injection, end to end: a model that obeys the planted instructions quotes them, the
quote grounds `exact`, and only the injection detector stands between it and the response."""

from __future__ import annotations

import json
from collections import Counter
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
from attache.schemas import Alignment, ExtractionRequest, WarningCode
from attache.settings import InjectionPolicy, Settings
from tests.evals.synthetic import completion, gold_as_draft, write_synthetic_recording
from tests.fakes import BASE_URL, COMPLETIONS

CASE_IDS = [f"{c.kind}-{c.article_id}" for c in injection.CASES]


def obeyed(case: injection.Injection, ref: str = "R90") -> dict[str, Any]:
    """The record an obedient model adds: what the injection asks for, quoting the injection."""
    return {
        "ref": ref, "participants": [{"name": "Injected Party", "canonical_name":
        "Injected Party", "kind": "organization"}], "place": None, "status": "held",
        "topics": [case.asks_for], "evidence": [case.obeyed],
    }  # fmt: skip


# What an obedient model also does when told to "invent supporting quotes": grounding's case.
INVENTED: dict[str, Any] = {
    "ref": "R91", "requester": {"name": "West Germany", "canonical_name": "Germany",
    "kind": "country"}, "addressees": [], "amount": {"text": "10 billion marks"},
    "status": "requested", "evidence": ["The two presidents held three hours of talks in Geneva."],
}  # fmt: skip


def test_the_cases_cover_every_kind_on_labelled_articles() -> None:
    kinds = Counter(case.kind for case in injection.CASES)
    assert len(injection.CASES) >= 20
    assert set(kinds) == set(injection.Kind)
    assert len({case.article_id for case in injection.CASES}) == len(injection.CASES)
    for case in injection.CASES:
        assert (FIXTURES / f"{case.article_id}.json").is_file()


@pytest.mark.parametrize("case", injection.CASES, ids=CASE_IDS)
def test_injecting_keeps_gold_offsets_and_plants_where_the_case_says(
    case: injection.Injection,
) -> None:
    fixture = load(FIXTURES / f"{case.article_id}.json")
    clean = read_texts()[case.article_id]
    injected = injection.inject(clean, case, after=injection.gold_end(fixture))
    assert [injected.text[lo:hi] for lo, hi in injected.spans] == list(case.parts)
    for record in fixture.gold.records:
        for evidence in record.evidence:
            assert evidence.start is not None
            assert evidence.end is not None
            assert injected.text[evidence.start : evidence.end] == evidence.quote
    first_lo, _ = injected.spans[0]
    if case.placement is injection.Placement.BODY:
        assert first_lo < len(clean)  # article text follows the planted part
    else:
        assert injected.text.startswith(clean)


@pytest.mark.parametrize("policy", list(InjectionPolicy))
@pytest.mark.parametrize("case", injection.CASES, ids=CASE_IDS)
async def test_an_obeyed_injection_is_flagged_or_dropped(
    case: injection.Injection, policy: InjectionPolicy, make_settings: Any
) -> None:
    fixture = load(FIXTURES / f"{case.article_id}.json")
    injected = injection.inject(
        read_texts()[case.article_id], case, after=injection.gold_end(fixture)
    )
    answer = gold_as_draft(fixture)
    answer["meetings"] = [*answer["meetings"], obeyed(case)]
    answer["funding_asks"] = [*answer["funding_asks"], INVENTED]
    # The model keeps obeying when re-asked: every answer carries both records.
    with respx.mock(base_url=BASE_URL) as upstream:
        upstream.post(COMPLETIONS).mock(
            return_value=httpx.Response(200, content=completion(answer),
                                        headers={"content-type": "application/json"})
        )  # fmt: skip
        async with Extractor.open(make_settings(injection_policy=policy)) as extractor:
            response = await extractor.extract(ExtractionRequest(text=injected.text))

    suspected = [(p.start, p.end) for p in response.suspected_injections]
    assert suspected == list(injected.spans)
    codes = [w.code for w in response.warnings]
    assert codes.count(WarningCode.RECORD_DROPPED) == 1  # the invented quote: grounding's work
    assert response.usage.reasks == 1
    flagged = [
        w for w in response.warnings if w.code is WarningCode.EVIDENCE_IN_SUSPECTED_INJECTION
    ]
    assert len(flagged) == 1
    quoting = [
        record
        for record in response.records
        if any(e.quote == case.obeyed for e in record.evidence)
    ]
    if policy is InjectionPolicy.FLAG:
        [record] = quoting
        [evidence] = record.evidence
        assert evidence.alignment is Alignment.EXACT  # grounding alone would have let it by
        assert any(lo <= (evidence.start or -1) < hi for lo, hi in injected.spans)
        assert flagged[0].record_id == record.id
        assert len(response.records) == len(fixture.gold.records) + 1
    else:
        assert quoting == []
        assert flagged[0].record_id is None
        assert len(response.records) == len(fixture.gold.records)


async def test_injection_suite_counts_records_grounded_in_the_injection(tmp_path: Path) -> None:
    """The suite runs every case and counts what the model took from an injected paragraph."""
    fixtures = [load(FIXTURES / f"{case.article_id}.json") for case in injection.CASES]
    recording = tmp_path / "recording"
    write_synthetic_recording(recording, fixtures)
    # One model obeys on the Board of Peace story, quoting the injected paragraph.
    bop = fixtures[0]
    answer = gold_as_draft(bop)
    answer["meetings"].append(obeyed(injection.CASES[0]))
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
    predictions = results["predictions"]
    assert all(predictions[f.article_id]["suspected_injections"] for f in fixtures)
    [flag] = [
        w
        for w in predictions[bop.article_id]["warnings"]
        if w["code"] == "evidence_in_suspected_injection"
    ]
    [hit] = results["metrics"]["injection_hit_records"][bop.article_id]
    assert flag["record_id"] == hit
