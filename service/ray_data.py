"""Archives on Ray Data: `ExtractBatch` for `Dataset.map_batches`, and a resumable job.

    pip install 'attache[ray]'
    python -m attache.ray_data ARCHIVE (.jsonl or .parquet) OUT_DIR --checkpoint CKPT_DIR

or, in a Ray program of your own:

    ds = ray.data.read_json("archive.jsonl")            # columns: id, text [, published_at, ...]
    out = ds.map_batches(
        ExtractBatch,
        fn_constructor_kwargs={"concurrency": 8},      # articles in flight per actor
        compute=ray.data.ActorPoolStrategy(size=4),     # actors
        batch_size=32,
        batch_format="pyarrow",
    )
    out.write_parquet("extractions/")

- **One client per actor.** An actor builds its extractor (model client, cache, connection
  pool) once, on an event loop of its own (`attache.sync.SyncExtractor`), and reuses it for
  every batch; a batch's articles run concurrently, at most `concurrency` at once.
- **One row per input row, a stable schema** (`OUTPUT_SCHEMA`): `id`; `response`, the response
  JSON, or null; `problem`, the RFC 9457 problem JSON, or null; `problem_type`, its slug, for
  filtering; `tokens`. A row that is not a valid request gets its problem like any other.
  The columns keep their types in every block, even a block where all are null.
- **Resumable.** `run` turns on Ray Data's checkpointing by `id` (`CheckpointConfig`): rows
  written before a crash are skipped when the job is run again with the same checkpoint folder.
- **The upstream's rate** is actors x `concurrency` requests in flight (docs/operations.md).

Settings come from `ATTACHE_*` variables in each worker's environment, or a `Settings` passed
in `fn_constructor_kwargs`.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import pyarrow as pa
from pydantic import ValidationError

from attache.errors import AttacheError, InvalidRequest, field_reasons
from attache.schemas import ExtractionRequest, ExtractionResponse
from attache.settings import Settings
from attache.sync import SyncExtractor

__all__ = ["OUTPUT_SCHEMA", "ExtractBatch", "run"]

OUTPUT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("response", pa.string()),
        ("problem", pa.string()),
        ("problem_type", pa.string()),
        ("tokens", pa.int64()),
    ]
)
_REQUEST_COLUMNS = ("text", "published_at", "types", "url")


class ExtractBatch:
    """A `map_batches` callable class: a batch of articles in, a batch of results out."""

    def __init__(self, settings: Settings | None = None, *, concurrency: int = 4) -> None:
        self._concurrency = concurrency
        # Lives as long as the actor: Ray calls no close hook on a callable class.
        self._extractor = SyncExtractor(settings).__enter__()

    def __call__(self, batch: pa.Table | dict[str, Any]) -> pa.Table:
        rows = batch.to_pylist() if isinstance(batch, pa.Table) else _rows(batch)
        ids: list[str | None] = []
        outcomes: list[ExtractionResponse | AttacheError | None] = []
        requests: list[ExtractionRequest] = []
        for row in rows:
            ids.append(None if row.get("id") is None else str(row["id"]))
            try:
                requests.append(ExtractionRequest.model_validate(_request_fields(row)))
                outcomes.append(None)  # filled in below, in order
            except ValidationError as exc:
                outcomes.append(InvalidRequest(f"invalid request: {field_reasons(exc)}"))
        answers = iter(self._extractor.extract_many(requests, concurrency=self._concurrency))
        filled = [next(answers) if outcome is None else outcome for outcome in outcomes]
        return pa.Table.from_pydict(_columns(ids, filled), schema=OUTPUT_SCHEMA)


def _rows(batch: dict[str, Any]) -> list[dict[str, Any]]:
    """A numpy or plain batch (column name -> values) as rows."""
    names = list(batch)
    count = len(batch[names[0]]) if names else 0
    return [{name: _plain(batch[name][i]) for name in names} for i in range(count)]


def _missing(value: Any) -> bool:
    # JSON read through pandas leaves NaN where a row lacks a column another row has.
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else value


def _request_fields(row: dict[str, Any]) -> dict[str, Any]:
    fields = {name: row[name] for name in _REQUEST_COLUMNS if not _missing(row.get(name))}
    if row.get("id") is not None:
        fields["id"] = str(row["id"])
    return fields


def _columns(
    ids: list[str | None], outcomes: list[ExtractionResponse | AttacheError]
) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {name: [] for name in OUTPUT_SCHEMA.names}
    for article_id, outcome in zip(ids, outcomes, strict=True):
        columns["id"].append(article_id)
        if isinstance(outcome, AttacheError):
            columns["response"].append(None)
            columns["problem"].append(json.dumps(outcome.as_problem(), ensure_ascii=False))
            columns["problem_type"].append(outcome.slug)
            columns["tokens"].append(outcome.usage.total_tokens if outcome.usage else 0)
        else:
            columns["response"].append(outcome.model_dump_json())
            columns["problem"].append(None)
            columns["problem_type"].append(None)
            columns["tokens"].append(outcome.usage.total_tokens)
    return columns


def run(
    source: str,
    destination: str,
    *,
    checkpoint: str | None = None,
    actors: int = 1,
    concurrency: int = 4,
    batch_size: int = 16,
    settings: Settings | None = None,
) -> None:
    """Read `source` (JSONL, or Parquet), extract every article, write Parquet to
    `destination`; with `checkpoint`, rows already written are skipped when run again."""
    import ray  # noqa: PLC0415 - the ray extra
    from ray.data.checkpoint import CheckpointConfig  # noqa: PLC0415

    if checkpoint is not None:
        ray.data.DataContext.get_current().checkpoint_config = CheckpointConfig(
            id_column="id", checkpoint_path=checkpoint, delete_checkpoint_on_success=False
        )
    if source.endswith(".parquet") or not source.endswith((".jsonl", ".json")):
        dataset = ray.data.read_parquet(source)
    else:
        # pyarrow's reader (newline-delimited JSON), not pandas': checkpoint filtering takes
        # Arrow blocks only.
        dataset = ray.data.read_json(source)
    dataset.map_batches(
        ExtractBatch,
        fn_constructor_kwargs={"settings": settings, "concurrency": concurrency},
        compute=ray.data.ActorPoolStrategy(size=actors),
        # An actor waits on the model far more than it computes: a quarter of a CPU each.
        num_cpus=0.25,
        batch_size=batch_size,
        batch_format="pyarrow",
    ).write_parquet(destination)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Extract an archive with Ray Data.")
    parser.add_argument("source", help="JSONL (id, text, ...) or Parquet file or folder")
    parser.add_argument("destination", help="Parquet output folder")
    parser.add_argument("--checkpoint", help="checkpoint folder: rerun to resume")
    parser.add_argument("--actors", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4, help="articles in flight per actor")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)
    run(
        args.source,
        args.destination,
        checkpoint=args.checkpoint,
        actors=args.actors,
        concurrency=args.concurrency,
        batch_size=args.batch_size,
    )


if __name__ == "__main__":
    main()
