"""The four record types are listed once: `RecordType` and `RECORD_KINDS`, nowhere else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import ValidationError

from attache.evals.fixtures import Gold
from attache.schemas import ExtractionDraft, ExtractionResponse, RecordType
from attache.schemas.records import RECORD_KINDS, ByType, draft_of

REPO = Path(__file__).parents[2]
SOURCES = ("service", "schemas", "prompts", "evals", "bench")

# What names a record type in code: its value, list field and id prefix as strings; its classes.
_WORDS = {t: {t.value, t.field, t.id_prefix} for t in RecordType}
_CLASSES = {
    kind.type: {kind.record.__name__, kind.draft.__name__, f"RecordType.{kind.type.name}"}
    for kind in RECORD_KINDS
}


def _type_named(node: ast.expr) -> RecordType | None:
    for record_type in RecordType:
        if isinstance(node, ast.Constant) and node.value in _WORDS[record_type]:
            return record_type
        if (
            isinstance(node, ast.Name | ast.Attribute)
            and ast.unparse(node) in _CLASSES[record_type]
        ):
            return record_type
    return None


def lists_of_record_types(tree: ast.AST) -> list[str]:
    """Collection literals naming two or more record types, but type arguments (`X[A, B]`)."""
    type_arguments = {id(node.slice) for node in ast.walk(tree) if isinstance(node, ast.Subscript)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and id(node) not in type_arguments:
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [key for key in node.keys if key is not None]
        else:
            continue
        named = {_type_named(item) for item in items} - {None}
        if len(named) >= 2:
            found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_the_table_covers_every_type_in_order_with_matching_classes() -> None:
    assert [kind.type for kind in RECORD_KINDS] == list(RecordType)
    assert list(ByType.model_fields) == [t.field for t in RecordType]
    for kind in RECORD_KINDS:
        assert kind.draft.record_type is kind.record.record_type is kind.type
        for name in (*kind.record.key_actors, *kind.record.compared_fields):
            assert name in kind.record.model_fields or name == "date", (kind.type, name)
    for container in (ExtractionDraft, ExtractionResponse, Gold):
        assert issubclass(container, ByType)


def test_records_iterates_every_list_in_table_order(
    board_of_peace_answer: dict[str, object],
) -> None:
    draft = ExtractionDraft.model_validate(board_of_peace_answer)
    expected = [*draft.invitations, *draft.meetings, *draft.declarations, *draft.funding_asks]
    assert draft.records == expected
    assert {r.record_type for r in draft.records} == set(RecordType)


def test_a_pass_answer_is_named_after_its_list_and_drops_the_other_lists() -> None:
    names = [draft_of(kind).__name__ for kind in RECORD_KINDS]
    assert names == ["Invitations", "Meetings", "Declarations", "FundingAsks"]
    assert draft_of(*RECORD_KINDS[2:]).__name__ == "DeclarationsFundingAsks"
    assert (
        draft_of(*RECORD_KINDS[2:]).__doc__
        == "Every declaration and funding ask the article reports."
    )
    meetings = next(kind for kind in RECORD_KINDS if kind.type is RecordType.MEETING)
    # Another type's list, even one that would fail validation, is not read.
    answer = draft_of(meetings).model_validate({"meetings": [], "invitations": [{"ref": "R1"}]})
    assert isinstance(answer, ExtractionDraft)
    assert answer.records == []
    pair = draft_of(*RECORD_KINDS[:2]).model_validate(
        {"meetings": [], "invitations": [], "declarations": [{"ref": "R1"}]}
    )
    assert pair.records == []
    with pytest.raises(ValidationError):
        draft_of(*RECORD_KINDS[:2]).model_validate({"meetings": [{"ref": "R1"}]})


def test_the_detector_finds_a_list_of_types() -> None:
    planted = 'FIELDS = ("invitations", "meetings")\nX = {RecordType.MEETING: 1, Invitation: 2}\n'
    assert len(lists_of_record_types(ast.parse(planted))) == 2
    assert lists_of_record_types(ast.parse("Y = ByType[Invitation, Meeting]\n")) == []


def test_no_other_list_of_the_record_types_exists() -> None:
    offenders = []
    for folder in SOURCES:
        for path in sorted((REPO / folder).rglob("*.py")):
            for where in lists_of_record_types(ast.parse(path.read_text(encoding="utf-8"))):
                offenders.append(f"{path.relative_to(REPO)} {where}")
    assert offenders == []
