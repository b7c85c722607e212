"""Archives on a local Ray instance: one output row per input row, a stable schema, and a rerun
that skips what a crashed run had written (Ray Data's checkpointing by id)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import ray

from attache.evals.corpus import Article
from attache.ray_data import OUTPUT_SCHEMA, run
from attache.settings import Settings
from tests.fake_upstream import fake_upstream
from tests.fakes import EMPTY_ANSWER, completion


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    # Logical CPUs, not cores: a rerun's checkpoint filter holds one of its own besides the
    # read and the actors, and 2 would deadlock it on this 2-core machine.
    ray.init(num_cpus=6, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


def _archive(path: Path, articles: list[Article]) -> Path:
    rows: list[dict[str, Any]] = [{"id": a.id, "text": a.text} for a in articles]
    rows.append({"id": "blank", "text": "   "})
    rows.append({"id": "not-a-request", "text": "Talks.", "types": ["gossip"]})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _rows(folder: Path) -> list[dict[str, Any]]:
    table = pq.read_table(folder)
    assert table.schema.equals(OUTPUT_SCHEMA)
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def test_each_row_once_with_its_answer_or_problem_and_a_rerun_skips_what_was_written(
    local_ray: None, articles: dict[str, Article], tmp_path: Path
) -> None:
    some = list(articles.values())[:7]
    first, rest = some[:3], some[3:]
    checkpoint, out = str(tmp_path / "checkpoint"), tmp_path / "out"
    with fake_upstream(lambda _body: completion(EMPTY_ANSWER)) as (base_url, received):
        settings = Settings(_env_file=None, base_url=base_url, model="m", api_key="k")
        # The first run saw only the first three articles (the job died after them) ...
        run(str(_archive(tmp_path / "a.jsonl", first)), str(out), checkpoint=checkpoint,
            settings=settings, concurrency=3, batch_size=4)  # fmt: skip
        asked_first = len(received)
        rows = {row["id"]: row for row in _rows(out)}
        # ... the rerun reads the whole archive, and asks only for the others.
        run(str(_archive(tmp_path / "b.jsonl", some)), str(out), checkpoint=checkpoint,
            settings=settings, concurrency=3, batch_size=4)  # fmt: skip
    assert sorted(rows) == sorted([a.id for a in first] + ["blank", "not-a-request"])
    for article in first:
        assert rows[article.id]["problem"] is None
        assert json.loads(rows[article.id]["response"])["id"] == article.id
    assert rows["blank"]["problem_type"] == "empty-article"
    assert rows["not-a-request"]["problem_type"] == "invalid-request"
    assert rows["not-a-request"]["response"] is None
    assert asked_first == len(first)
    assert len(received) == len(some)
    ids = [row["id"] for row in _rows(out)]
    assert sorted(ids) == sorted({a.id for a in some} | {"blank", "not-a-request"})
    assert {a.id for a in rest} <= set(ids)
