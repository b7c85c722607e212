"""The edit form: each field's input, dates and amounts resolved as the pipeline resolves them,
unreadable JSON and the schema's errors shown at their field."""

from __future__ import annotations

import datetime as dt

from attache.review.decisions import FieldError
from attache.review.forms import form_fields, parsed, shown, with_errors
from attache.schemas.common import RecordType


def test_every_field_but_the_id_has_an_input_of_its_kind() -> None:
    fields = {f.name: f for f in form_fields(RecordType.FUNDING_ASK)}
    assert "id" not in fields
    assert fields["status"].kind == "choice"
    assert fields["status"].options == ("requested", "under_negotiation", "granted", "refused")
    assert (fields["amount"].kind, fields["date"].kind) == ("money", "date")
    assert (fields["purpose"].kind, fields["requester"].kind) == ("text", "json")
    assert fields["conditions"].empty == []  # an emptied list is an empty list, not None


def test_dates_and_amounts_are_typed_as_written_and_resolved_on_submit() -> None:
    values, errors = parsed(
        RecordType.FUNDING_ASK,
        {"date": "on 23 January", "amount": "USD1.5 billion", "purpose": "  reconstruction "},
        published=dt.date(2026, 1, 20),
    )
    assert errors == []
    assert values["date"]["start"] == "2026-01-23"
    assert values["date"]["granularity"] == "day"
    assert (values["amount"]["value"], values["amount"]["currency"]) == (1_500_000_000, "USD")
    assert values["purpose"] == "reconstruction"
    assert "status" not in values  # not in the form: the record keeps its value


def test_the_inputs_hold_the_record_and_show_it_back_unchanged() -> None:
    record = {"status": "granted", "amount": {"text": "USD1 billion", "value": 1e9,
              "currency": "USD"}, "conditions": ["a seat"], "purpose": None}  # fmt: skip
    by_name = {v.field.name: v.value for v in shown(RecordType.FUNDING_ASK, record)}
    assert (by_name["status"], by_name["amount"], by_name["purpose"]) == (
        "granted",
        "USD1 billion",
        "",
    )
    values, _ = parsed(RecordType.FUNDING_ASK, by_name, published=None)
    assert values["conditions"] == ["a seat"]
    assert values["status"] == "granted"


def test_unreadable_json_and_schema_errors_land_at_their_field() -> None:
    form = {"participants": "[{not json", "status": "held"}
    _, errors = parsed(RecordType.MEETING, form, published=None)
    assert [e.path for e in errors] == ["participants"]
    fields, stray = with_errors(
        RecordType.MEETING,
        form,
        [
            *errors,
            FieldError("participants.0.country", "not a country code"),
            FieldError("record", "x"),
        ],
    )
    participants = next(f for f in fields if f.field.name == "participants")
    assert participants.value == "[{not json"  # what the editor typed, kept to fix
    assert participants.errors[0].startswith("not JSON")
    assert participants.errors[1] == "0.country: not a country code"
    assert [e.path for e in stray] == ["record"]
