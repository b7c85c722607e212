from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from pydantic import ValidationError

from attache.schemas import (
    Actor,
    Alignment,
    DateMention,
    Evidence,
    ExtractionDraft,
    ExtractionRequest,
    Link,
    Money,
    RecordType,
)


def test_the_model_fills_a_leaner_schema_than_the_api_returns() -> None:
    draft_schema = json.dumps(ExtractionDraft.model_json_schema())
    for api_only in ('"alignment"', '"start"', '"end"', '"id"', '"granularity"'):
        assert api_only not in draft_schema
    for shared in ('"inviters"', '"participants"', '"issuers"', '"requester"', '"evidence"'):
        assert shared in draft_schema


@pytest.mark.parametrize(
    "values",
    [
        {"quote": "q", "alignment": "exact"},  # aligned without a span
        {"quote": "q", "start": 3, "end": 9, "alignment": "unaligned"},  # span but unaligned
        {"quote": "q", "start": 9, "end": 3, "alignment": "exact"},  # backwards
        {"quote": "q", "start": 3, "alignment": "exact"},  # half a span
        {"quote": "q", "start": -1, "end": 3, "alignment": "exact"},
    ],
)
def test_evidence_span_agrees_with_its_alignment(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Evidence.model_validate(values)


def test_valid_evidence() -> None:
    assert Evidence(quote="q", start=0, end=1, alignment=Alignment.EXACT).end == 1
    assert Evidence(quote="q", alignment=Alignment.UNALIGNED).start is None


def test_date_window_is_ordered_and_whole() -> None:
    day = dt.date(2026, 1, 20)
    resolved = DateMention(text="on 20 January", start=day, end=day, granularity="day")
    assert resolved.start == day
    assert DateMention(text="soon", unresolved="unrecognized").start is None
    for bad in (
        {"start": day, "granularity": "day"},  # half a window
        {"start": day, "end": day - dt.timedelta(days=1), "granularity": "day"},  # backwards
        {"start": day, "end": day},  # resolved without a granularity
        {},  # unresolved without saying why
        {"start": day, "end": day, "granularity": "day", "unresolved": "unrecognized"},
    ):
        with pytest.raises(ValidationError):
            DateMention(text="x", **bad)


@pytest.mark.parametrize("bad", ["usd", "US", "DOLLARS"])
def test_currency_is_an_iso_4217_code(bad: str) -> None:
    with pytest.raises(ValidationError):
        Money(text="1 dlr", value=1, currency=bad)


@pytest.mark.parametrize("bad", ["Russia", "rus", "ru"])
def test_actor_country_is_an_iso_3166_alpha2_code(bad: str) -> None:
    with pytest.raises(ValidationError):
        Actor(name="Putin", canonical_name="Vladimir Putin", kind="person", country=bad)


@pytest.mark.parametrize("bad", ["R1", "inv-0", "meeting-1", "inv1"])
def test_links_point_at_record_ids(bad: str) -> None:
    with pytest.raises(ValidationError):
        Link(relation="follows", target=bad)


def test_request_defaults_to_every_type_and_refuses_unknown_fields() -> None:
    assert ExtractionRequest(text="x").types == frozenset(RecordType)
    with pytest.raises(ValidationError):
        ExtractionRequest.model_validate({"text": "x", "colour": "red"})
    with pytest.raises(ValidationError):
        ExtractionRequest.model_validate({"text": "x", "types": []})


def test_contract_types_are_immutable() -> None:
    actor = Actor(name="Putin", canonical_name="Vladimir Putin", kind="person")
    with pytest.raises(ValidationError):
        actor.name = "Trump"  # type: ignore[misc]
