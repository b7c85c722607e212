"""Gold from decisions: reviewed articles as eval fixtures, so a model can be scored on them.

    export = await store.export_gold(Path("gold"))
    # attache eval validate --articles gold/articles.jsonl gold/fixtures/*.json
    # attache eval run --articles gold/articles.jsonl --fixtures gold/fixtures ...

An article is exported once every record has a decision. Its fixture
(`attache.evals.fixtures.Fixture`, the format of `evals/fixtures/`) holds the records kept
(accepted, edited, added), not the rejected ones, with what a fixture needs that a response may
lack:

- evidence exact: each quote becomes the article's text at its span (what the editor saw
  highlighted and confirmed); a quote with no span is left out (a kept record has one at least);
- links only between records kept;
- the cast rebuilt from the records kept, since an edit may rename or add an actor: each actor
  id once, in id order, its canonical name, kind and country from its first mention, every
  name and role the records give it.

The articles go beside the fixtures in `articles.jsonl`, since a fixture holds no text.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import BaseModel

from attache.review.decisions import ArticleView, ReviewState
from attache.schemas import Record
from attache.schemas.api import Cast
from attache.schemas.common import ActorMention, Alignment, CanonicalActor, Evidence
from attache.schemas.fixtures import Article, Fixture, Gold
from attache.schemas.records import RECORD_KINDS

if TYPE_CHECKING:
    from attache.review.store import ReviewStore

KEPT = (ReviewState.ACCEPTED, ReviewState.EDITED, ReviewState.ADDED)
ANNOTATOR = "attache review"


@dataclass(frozen=True)
class Export:
    fixtures: list[Path]
    """One file per reviewed article, `<folder>/fixtures/<article id>.json`."""
    articles: Path
    """`<folder>/articles.jsonl`: the exported articles' text, for `--articles`."""


async def export(store: ReviewStore, folder: Path) -> Export:
    """Write every reviewed article of `store` under `folder`, replacing what was there."""
    fixtures = folder / "fixtures"
    fixtures.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    articles: list[str] = []
    async for view in store.reviewed():
        whos = {entry.who for entry in await store.history(view.article_id) if entry.who}
        path = fixtures / f"{quote(view.article_id, safe='')}.json"
        path.write_text(_pretty(fixture(view, whos)), encoding="utf-8")
        written.append(path)
        request = view.request
        line = Article(id=view.article_id, text=request.text, published_at=request.published_at)
        articles.append(line.model_dump_json(exclude_none=True))
    articles_file = folder / "articles.jsonl"
    articles_file.write_text("".join(f"{line}\n" for line in articles), encoding="utf-8")
    return Export(fixtures=written, articles=articles_file)


def fixture(view: ArticleView, whos: set[str]) -> Fixture:
    """The fixture of a reviewed article: its records kept, as gold (see the module docstring)."""
    text = view.request.text
    kept = [r.record for r in view.records if r.state in KEPT and r.record is not None]
    ids = {record.id for record in kept}
    gold_records = [
        record.model_copy(
            update={
                "evidence": [exact for e in record.evidence if (exact := _exact(e, text))],
                "links": [link for link in record.links if link.target in ids],
            }
        )
        for record in kept
    ]
    states = Counter(record.state for record in view.records)
    tally = ", ".join(f"{states[state]} {state.value}" for state in ReviewState if states[state])
    return Fixture(
        article_id=view.article_id,
        annotator=f"{ANNOTATOR}: {', '.join(sorted(whos))}" if whos else ANNOTATOR,
        notes=[f"Exported from editors' decisions on {view.response.model}'s records: {tally}."],
        gold=Gold(
            actors=_cast(gold_records).actors,
            **{
                kind.field: [r for r in gold_records if r.record_type is kind.type]
                for kind in RECORD_KINDS
            },
        ),
    )


def _exact(evidence: Evidence, text: str) -> Evidence | None:
    if evidence.start is None or evidence.end is None:
        return None
    return Evidence(
        quote=text[evidence.start : evidence.end],
        start=evidence.start,
        end=evidence.end,
        alignment=Alignment.EXACT,
    )


def _cast(records: list[Record]) -> Cast:
    first: dict[str, ActorMention] = {}
    names: dict[str, list[str]] = {}
    roles: dict[str, list[str]] = {}
    for mention in (m for record in records for m in _mentions(record)):
        first.setdefault(mention.id, mention)
        if mention.name not in names.setdefault(mention.id, []):
            names[mention.id].append(mention.name)
        if mention.role and mention.role not in roles.setdefault(mention.id, []):
            roles[mention.id].append(mention.role)
    return Cast(
        actors=[
            CanonicalActor(
                id=actor_id,
                canonical_name=mention.canonical_name,
                kind=mention.kind,
                country=mention.country,
                names=names[actor_id],
                roles=roles.get(actor_id, []),
            )
            for actor_id, mention in sorted(first.items(), key=lambda item: _number(item[0]))
        ]
    )


def _number(actor_id: str) -> int:
    return int(actor_id.removeprefix("act-"))


def _mentions(record: BaseModel) -> Iterator[ActorMention]:
    for name in type(record).model_fields:
        value = getattr(record, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, ActorMention):
                yield item


def _pretty(fixture: Fixture) -> str:
    # The layout of the repository's fixtures, so an exported one can join them as it is.
    return json.dumps(fixture.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
