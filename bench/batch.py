"""`attache batch` killed half way and resumed: every id exactly once, and the throughput.

    .venv/bin/python -m bench.batch [--articles 1000] [--delay-ms 200] [--concurrency 32]

1,000 requests (the Board of Peace story, each with an id of its own) go through
`attache batch IN -o OUT` against the local fake upstream (`bench.baselines`, a process of its
own) answering each call `--delay-ms` late with the Board of Peace answer. When OUT holds half
the lines, the batch is killed with SIGKILL; a second run of the same command finishes it.
Reported: for each run, lines written, seconds and articles per second (wall time: the fake's
delay is the point), the CPU seconds of the batch process; whether the output holds every id
exactly once; how many upstream calls the two runs made in all (those in flight at the kill are
made twice), and a torn last line if the kill left one.

No timing is asserted by a test; `tests/service/test_batch.py` checks the same properties on 60
articles.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path

from attache.evals.corpus import read_articles
from bench.overhead import (
    PYTHON,
    REPO,
    Processes,
    clean_env,
    cpu_s,
    fake_calls,
    set_delay,
    start_fake,
)


def write_requests(path: Path, count: int) -> set[str]:
    """Write `count` requests to `path`; returns their ids."""
    # The story the fake's answer quotes: any other article's answer would be re-asked.
    article = read_articles()["board-of-peace-2026-01-20"]
    ids: set[str] = set()
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            request = {"id": f"{article.id}#{n}", "text": article.text}
            if article.published_at is not None:
                request["published_at"] = article.published_at.isoformat()
            out.write(json.dumps(request) + "\n")
            ids.add(request["id"])
    return ids


def lines_in(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def run_batch(
    procs: Processes, name: str, env: dict[str, str], argv: list[str], output: Path, *, kill_at: int
) -> tuple[int, float, float, int]:
    """Run the batch; SIGKILL it once `output` holds `kill_at` lines (0: let it finish).
    Returns its exit status, wall seconds, CPU seconds and the lines it added."""
    before = lines_in(output)
    started = time.monotonic()
    proc = procs.start(name, argv, env, REPO)
    cpu = 0.0
    while proc.poll() is None:
        cpu = cpu_s(proc.pid)
        if kill_at and lines_in(output) >= kill_at:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    status = proc.wait()
    return status, time.monotonic() - started, cpu, lines_in(output) - before


async def main_async(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="attache-bench-batch-"))
    procs = Processes(work)
    try:
        fake = await start_fake(procs)
        await set_delay(fake, args.delay_ms)
        source, output = work / "in.jsonl", work / "out.jsonl"
        expected = write_requests(source, args.articles)
        env = clean_env(
            ATTACHE_BASE_URL=f"{fake.url}/v1",
            ATTACHE_MODEL="fake-model",
            ATTACHE_API_KEY="k",
            ATTACHE_LOG_LEVEL="WARNING",
            # Every request is the same story: the result cache would answer all but one.
            ATTACHE_CACHE_URL="off",
        )
        argv = [PYTHON, "-m", "attache", "batch", str(source), "-o", str(output)]
        argv += ["--concurrency", str(args.concurrency), "--no-progress"]
        first = run_batch(procs, "batch-1", env, argv, output, kill_at=args.articles // 2)
        torn = not output.read_bytes().endswith(b"\n")
        second = run_batch(procs, "batch-2", env, argv, output, kill_at=0)
        ids = Counter(json.loads(line)["id"] for line in output.read_text().splitlines())
        calls = await fake_calls(fake)
    finally:
        procs.stop_all()
    print(f"# attache batch, killed and resumed ({platform.node()}, {args.articles} articles, "
          f"fake upstream {args.delay_ms:.0f} ms, --concurrency {args.concurrency})\n")  # fmt: skip
    print("| run | exit | lines added | wall s | articles/s | batch CPU s |")
    print("|---|---|---|---|---|---|")
    for label, (status, wall, cpu, added) in (("killed at half", first), ("resumed", second)):
        print(f"| {label} | {status} | {added} | {wall:.1f} | {added / wall:.1f} | {cpu:.1f} |")
    print()
    print(f"- torn last line left by the kill: {'yes' if torn else 'no'}")
    print(f"- every id exactly once: {set(ids) == expected and max(ids.values()) == 1} "
          f"({len(ids)} ids, {sum(ids.values())} lines)")  # fmt: skip
    print(
        f"- upstream calls in all: {calls} (extra: {calls - args.articles}, the articles in "
        "flight at the kill)"
    )
    print(f"\nCommand: .venv/bin/python -m bench.batch --articles {args.articles} "
          f"--delay-ms {args.delay_ms:.0f} --concurrency {args.concurrency}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--delay-ms", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=32)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
