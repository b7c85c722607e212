"""Gold from decisions: reviewed articles exported as fixtures the project's validator passes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from click.testing import CliRunner

from attache.cli import main
from attache.evals.corpus import Article
from attache.evals.fixtures import load
from attache.evals.validate import validate
from attache.review.decisions import Accept, Add, Edit, Key, Reject
from attache.review.store import ReviewStore
from attache.schemas.common import RecordType
from tests.service.review.conftest import BOARD_OF_PEACE, PHILIPPINES, extraction, missed_meeting


async def review_board_of_peace(store: ReviewStore, articles: dict[str, Article]) -> None:
    """Every record decided: mtg-1 (mtg-3 links to it) and inv-2 rejected, dcl-1 edited, a
    meeting added."""
    await store.add_article(*extraction(articles[BOARD_OF_PEACE]))
    for record in (await store.article(BOARD_OF_PEACE)).records:
        await store.decide(BOARD_OF_PEACE, Accept(record_id=record.record_id), key=Key.A, who="k1")
    await store.decide(BOARD_OF_PEACE, Reject(record_id="mtg-1"), key=Key.X, who="k2")
    await store.decide(BOARD_OF_PEACE, Reject(record_id="inv-2"), key=Key.X, who="k2")
    edit = Edit(record_id="dcl-1", changes={"commitments": ["peace in Gaza"]})
    await store.decide(BOARD_OF_PEACE, edit, key=Key.E, who="k2")
    add = Add(record_type=RecordType.MEETING, fields=missed_meeting(articles[BOARD_OF_PEACE]))
    await store.decide(BOARD_OF_PEACE, add, key=Key.FORM, who="k2")


async def test_the_export_holds_the_records_kept_and_the_validator_passes_it(
    store: ReviewStore, articles: dict[str, Article], tmp_path: Path
) -> None:
    await review_board_of_peace(store, articles)
    await store.add_article(*extraction(articles[PHILIPPINES]))
    await store.decide(PHILIPPINES, Accept(record_id="mtg-1"), key=Key.A)  # in progress: not gold
    export = await store.export_gold(tmp_path / "gold")
    assert export.fixtures == [tmp_path / "gold" / "fixtures" / f"{BOARD_OF_PEACE}.json"]
    report = validate(export.fixtures, export.articles)
    assert report.failures == []
    fixture = load(export.fixtures[0])
    gold = fixture.gold
    assert [r.id for r in gold.records] == [
        "inv-1", "mtg-2", "mtg-3", "mtg-4", "mtg-5", "dcl-1", "fund-1"
    ]  # fmt: skip
    assert gold.declarations[0].commitments == ["peace in Gaza"]
    mtg_3 = next(m for m in gold.meetings if m.id == "mtg-3")
    assert mtg_3.links == []  # it followed mtg-1, rejected
    assert fixture.annotator == "attache review: k1, k2"
    # The model's normalized quote went in as the article's text at its span.
    text = articles[BOARD_OF_PEACE].text
    first = gold.invitations[0].evidence[0]
    assert (first.alignment, first.quote) == ("exact", text[first.start : first.end])


async def test_the_validator_command_passes_the_export(
    store: ReviewStore, articles: dict[str, Article], tmp_path: Path
) -> None:
    await review_board_of_peace(store, articles)
    export = await store.export_gold(tmp_path)
    result = CliRunner().invoke(
        main, ["eval", "validate", "--articles", str(export.articles), *map(str, export.fixtures)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 fixtures, 0 problems")


async def test_the_cast_is_rebuilt_from_the_records_kept(
    store: ReviewStore, articles: dict[str, Article], tmp_path: Path
) -> None:
    await review_board_of_peace(store, articles)
    kremlin = {"id": "act-15", "name": "the Kremlin", "canonical_name": "Kremlin",
               "kind": "organization", "country": "RU"}  # fmt: skip
    await store.decide(
        BOARD_OF_PEACE, Edit(record_id="mtg-2", changes={"host": kremlin}), key=Key.E
    )
    gold = load((await store.export_gold(tmp_path)).fixtures[0]).gold
    named = {actor_id for record in gold.records for actor_id in actor_ids(record.model_dump())}
    assert [actor.id for actor in gold.actors] == sorted(named, key=lambda a: int(a[4:]))
    cast = {actor.id: actor for actor in gold.actors}
    assert not {"act-3", "act-4", "act-5", "act-6"} & set(cast)  # only in inv-2, rejected
    assert cast["act-15"].canonical_name == "Kremlin"  # an editor's actor
    assert cast["act-8"].names == ["Witkoff"]  # "Steve Witkoff" was mtg-1's, rejected
    assert cast["act-1"].roles == ["US President"]


def actor_ids(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        if str(value.get("id", "")).startswith("act-"):
            yield value["id"]
        for item in value.values():
            yield from actor_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from actor_ids(item)


async def test_nothing_is_exported_before_an_article_is_reviewed(
    store: ReviewStore, articles: dict[str, Article], tmp_path: Path
) -> None:
    await store.add_article(*extraction(articles[BOARD_OF_PEACE]))
    export = await store.export_gold(tmp_path)
    assert export.fixtures == []
    assert export.articles.read_text(encoding="utf-8") == ""
