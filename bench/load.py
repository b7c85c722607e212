"""Load: 200 concurrent extractions against a fake upstream that answers in 500 ms.

    .venv/bin/python -m bench.load [--requests 200] [--latency 0.5] [--limits 8,50,200]
        [--body-mb 1.9] [--baseline-cmd "OLD/.venv/bin/python -m service serve"]

For each concurrency limit (ATTACHE_MAX_CONCURRENT_EXTRACTIONS) it starts `attache serve` as
its own process on 127.0.0.1, sends all requests at once (the Board of Peace story, JSON) and
reports: how many completed (200) and how many were shed (503 with Retry-After) or failed
otherwise, latency percentiles, the slowest request against the deadline, and the server's
resident memory before, at its peak (sampled every 50 ms) and after. Every address is on the
loopback; the run is bounded by the request count and the deadline.

`--body-mb N` pads the article to about N MB a request (a wire archive dumped whole): it
measures what parsing many large bodies at once costs in memory. `--baseline-cmd` runs every
scenario against another build too (a checkout of an earlier revision, its own venv), in the
same run, each row labelled with the build.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shlex
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from attache.evals.corpus import Article, read_articles
from tests.fake_upstream import fake_upstream, free_port
from tests.fakes import completion

REPO = Path(__file__).resolve().parents[1]
BOARD_OF_PEACE = "board-of-peace-2026-01-20"
DEADLINE_S = 30.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def fire(url: str, article: Article, count: int) -> list[tuple[int, float, str]]:
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count)
    body = article.request_json()
    async with httpx.AsyncClient(timeout=DEADLINE_S + 30, limits=limits) as client:

        async def one() -> tuple[int, float, str]:
            started = time.perf_counter()
            response = await client.post(
                f"{url}/v1/extractions",
                json=body,
            )
            return (
                response.status_code,
                time.perf_counter() - started,
                response.headers.get("retry-after", ""),
            )

        return await asyncio.gather(*(one() for _ in range(count)))


async def sample_peak(pid: int, stop: asyncio.Event) -> float:
    peak = 0.0
    while not stop.is_set():
        peak = max(peak, rss_mb(pid))
        await asyncio.sleep(0.05)
    return peak


THIS_BUILD = [sys.executable, "-m", "attache", "serve"]


async def scenario(
    base_url: str, article: Article, limit: int, count: int, *, command: list[str], label: str
) -> str:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ATTACHE_")},
        "ATTACHE_BASE_URL": base_url,
        "ATTACHE_MODEL": "fake-model",
        "ATTACHE_PORT": str(port),
        "ATTACHE_MAX_CONCURRENT_EXTRACTIONS": str(limit),
        # The same story over and over: the result cache would answer all but the first.
        "ATTACHE_CACHE_URL": "off",
        "ATTACHE_DEADLINE_S": str(DEADLINE_S),
        "ATTACHE_LOG_LEVEL": "WARNING",
        # One process: the limits are per process, and its memory is what the table reports
        # (with more, the process measured would be uvicorn's supervisor).
        "ATTACHE_WORKERS": "1",
    }
    server = await asyncio.create_subprocess_exec(
        *command,
        env=env,
        cwd=Path(command[0]).parents[2] if command is not THIS_BUILD else REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(300):
                try:
                    await probe.get(f"{url}/health")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        before = rss_mb(server.pid)
        stop = asyncio.Event()
        peak_task = asyncio.create_task(sample_peak(server.pid, stop))
        started = time.perf_counter()
        results = await fire(url, article, count)
        wall = time.perf_counter() - started
        stop.set()
        peak = await peak_task
        after = rss_mb(server.pid)
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=10)
    statuses = Counter(status for status, _, _ in results)
    ok = sorted(t for status, t, _ in results if status == 200)
    shed = sorted(t for status, t, _ in results if status == 503)
    retry_after = {r for status, _, r in results if status == 503}
    slowest = max(t for _, t, _ in results)

    def pct(values: list[float], q: float) -> str:
        return f"{values[min(len(values) - 1, int(q * len(values)))] * 1000:.0f}" if values else "-"

    return (
        f"| {label} | {limit} | {count} | {statuses.get(200, 0)} | {statuses.get(503, 0)} "
        f"({', '.join(sorted(retry_after)) or '-'}) | "
        f"{sum(v for k, v in statuses.items() if k not in (200, 503))} | "
        f"{pct(ok, 0.5)} / {pct(ok, 0.95)} | {pct(shed, 0.5)} | {slowest:.2f} / {DEADLINE_S:.0f} | "
        f"{wall:.2f} | {before:.0f} / {peak:.0f} / {after:.0f} |"
    )


async def main_async(
    count: int, latency: float, limits: list[int], body_mb: float, baseline: list[str] | None
) -> None:
    article = read_articles()[BOARD_OF_PEACE]
    if body_mb:
        copies = int(body_mb * 1_000_000 / len(article.text.encode())) + 1
        article = article.model_copy(update={"text": "\n\n".join([article.text] * copies)})
    builds = [("this", THIS_BUILD), *([("baseline", baseline)] if baseline else [])]
    answer = json.loads((REPO / "tests" / "data" / "board_of_peace.answer.json").read_text())
    with fake_upstream(lambda _body: completion(answer["answer"]), latency_s=latency) as (
        base_url,
        _received,
    ):
        size = len(json.dumps(article.request_json()).encode()) / 1_000_000
        print(
            f"# Load: {count} concurrent requests of {size:.2f} MB, upstream latency "
            f"{latency * 1000:.0f} ms\n"
        )
        print(
            "| build | limit | sent | 200 | 503 (Retry-After) | other | 200 ms p50 / p95 | "
            "503 ms p50 | slowest s / deadline | wall s | RSS MB before / peak / after |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for limit in limits:
            for label, command in builds:
                row = await scenario(base_url, article, limit, count, command=command, label=label)
                print(row, flush=True)


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--limits", default="8,50,200")
    parser.add_argument("--body-mb", type=float, default=0.0)
    parser.add_argument("--baseline-cmd", help="Command that serves another build.")
    args = parser.parse_args()
    limits = [int(x) for x in args.limits.split(",")]
    baseline = shlex.split(args.baseline_cmd) if args.baseline_cmd else None
    asyncio.run(main_async(args.requests, args.latency, limits, args.body_mb, baseline))


if __name__ == "__main__":
    main()
