"""The review page's server time: an article of 5,000 characters with 20 records.

    .venv/bin/python -m bench.review_render

The article is the corpus's first articles joined and cut at 5,000 characters; its 20 records
(five of each type) are labelled records of the fixtures (actors, dates, amounts as labelled),
each quoting a sentence of the article, a third of them overlapping another record's quote.
It is put in review on a SQLite store in a temporary folder; then `GET /review/article` is
asked 300 times, one at a time, through the whole ASGI application in this process (the store's
queries, highlighting, the templates, Litestar), with no socket: what the server spends, not the
network. The target is under 100 ms. Reported: median, p90, p99 and max of wall time, and the
CPU time per request (`time.process_time`), which counts this process only.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from attache.app import create_app
from attache.evals.corpus import read_articles
from attache.evals.fixtures import load_all
from attache.review.page import StoreHolder
from attache.schemas import ExtractionRequest, ExtractionResponse
from attache.schemas.api import Timings, TokenUsage
from attache.schemas.common import RecordType
from attache.settings import ServerSettings, Settings

CHARS = 5_000
RECORDS = 20
REQUESTS = 300


def article() -> str:
    text = ""
    for candidate in read_articles().values():
        text += candidate.text + "\n\n"
        if len(text) >= CHARS:
            break
    return text[:CHARS]


def records(text: str) -> dict[str, list[dict[str, Any]]]:
    """Records from the labelled fixtures (five of each type at most), each quoting a sentence
    of `text` instead of its own article's."""
    sentences = [(m.start(), m.end()) for m in re.finditer(r"[^.\n]{40,}?[.]", text)]
    by_field: dict[str, list[dict[str, Any]]] = {t.field: [] for t in RecordType}
    taken: Counter[RecordType] = Counter()
    for _, fixture in load_all():
        for record in fixture.gold.records:
            if sum(taken.values()) == RECORDS or taken[record.record_type] == RECORDS // 4:
                continue
            n = sum(taken.values())
            taken[record.record_type] += 1
            start, end = sentences[(n * 3) % len(sentences)]
            if n % 3 == 2:  # overlaps the previous record's quote
                start = max(0, start - 30)
            quote = {"quote": text[start:end], "start": start, "end": end, "alignment": "exact"}
            by_field[record.record_type.field].append(
                {
                    **record.model_dump(mode="json", exclude={"links"}),
                    "id": f"{record.record_type.id_prefix}-{taken[record.record_type]}",
                    "evidence": [quote],
                }
            )
    return by_field


async def measure() -> tuple[list[float], list[float], int, str]:
    text = article()
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            Settings(_env_file=None),
            ServerSettings(
                _env_file=None, database_url=f"sqlite:///{Path(folder) / 'review.db'}",
                log_level="ERROR",
            ),
        )  # fmt: skip
        async with AsyncTestClient(app=app) as client:
            holder: StoreHolder = app.state.review
            store = await holder.get()
            chosen = records(text)
            counts = ", ".join(f"{len(v)} {k}" for k, v in chosen.items())
            response = ExtractionResponse.model_validate(
                {**chosen, "id": "bench", "model": "m", "prompt_version": "v1",
                 "usage": TokenUsage(), "timings": Timings(total_ms=1, model_ms=1)}
            )  # fmt: skip
            await store.add_article(ExtractionRequest(text=text, id="bench"), response)
            walls: list[float] = []
            cpus: list[float] = []
            size = 0
            for _ in range(REQUESTS):
                wall, cpu = time.perf_counter(), time.process_time()
                page = await client.get("/review/article", params={"id": "bench"})
                walls.append((time.perf_counter() - wall) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
                if page.status_code != 200:
                    raise SystemExit(f"the page failed: {page.status_code} {page.text[:300]}")
                size = len(page.content)
    return walls, cpus, size, counts


def main() -> None:
    walls, cpus, size, counts = asyncio.run(measure())
    walls.sort()

    def at(share: float) -> float:
        return walls[min(len(walls) - 1, int(share * len(walls)))]

    python = sys.version.split()[0]
    print(f"GET /review/article, {CHARS:,} characters, {RECORDS} records ({counts}), "
          f"{REQUESTS} requests, {size:,} bytes of HTML (Python {python})")  # fmt: skip
    print("| wall ms: median | p90 | p99 | max | CPU ms: median |")
    print("|---|---|---|---|---|")
    print(
        f"| {statistics.median(walls):.1f} | {at(0.9):.1f} | {at(0.99):.1f} | {walls[-1]:.1f} "
        f"| {statistics.median(cpus):.1f} |"
    )


if __name__ == "__main__":
    main()
