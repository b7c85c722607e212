"""Many articles, one JSON line each, through one extractor: bounded, resumable, never lost.

    attache batch INPUT.jsonl -o OUTPUT.jsonl [--concurrency N] [--allow-failures]

Input: one extraction request per line (`text`, and optionally `published_at`, `types`, `url`)
with its `id`, which is required; blank lines are ignored. Output: one line per input line, in
the order the articles finish: `{"id", "line", "response"}`, or `{"id", "line", "problem"}`
with the RFC 9457 problem the HTTP API would have answered (`line` is the input line number;
`id` is null only for a line with no readable id).

- **Resumable.** Rerun the same command: the ids the output already holds (for a line with no
  readable id, its line number) are skipped; with `--retry-failed`, its problem lines are
  removed first and their articles done again. Each output line is written by one write and
  flushed, so a run killed outright (kill -9) leaves at most a torn last line, which the next
  run cuts off before it appends anything.
- **Bounded.** At most `concurrency` articles are in flight; the input is read as they finish,
  so a file of millions of lines is never held in memory.
- **One answer per id.** A later line repeating an id is skipped and counted as a duplicate.
- **Stops cleanly.** Ctrl-C or SIGTERM: no article starts after it, those in flight are
  abandoned (nothing of theirs is written, so the rerun does them), and the summary is printed.

`extract_each` is the engine, shared with the HTTP batch route; `Output` owns the resumable
file; `run_batch` ties them to a source and the summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from attache.errors import AttacheError, InvalidRequest, MalformedJson, field_reasons
from attache.extractor import Extractor
from attache.schemas import ExtractionRequest

__all__ = ["Item", "Output", "Summary", "extract_each", "parse_line", "run_batch"]

logger = logging.getLogger("attache.batch")


@dataclass(frozen=True)
class Item:
    """One input line: its request, or why it is not one."""

    line: int
    id: str | None
    request: ExtractionRequest | None = None
    error: AttacheError | None = None

    @property
    def key(self) -> str:
        return done_key(self.id, self.line)


def done_key(article_id: str | None, line: int) -> str:
    """What marks an input line done in an output: its id, or its line number when it has none."""
    return article_id if article_id is not None else f"#{line}"


def _id_of(data: object) -> str | None:
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) and found.strip() else None


def line_key(number: int, raw: bytes | str) -> str:
    """`done_key` of input line `number`, read without validating the request."""
    try:
        return done_key(_id_of(json.loads(raw)), number)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return done_key(None, number)


def parse_line(number: int, raw: bytes | str) -> Item:
    """The request on input line `number` (1-based)."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return Item(number, None, error=MalformedJson(f"line {number} is not JSON: {exc}"))
    article_id = _id_of(data)
    if article_id is None:
        reason = "has no id" if isinstance(data, dict) else "is not a JSON object"
        return Item(number, None, error=InvalidRequest(f"line {number} {reason}: one is required"))
    try:
        return Item(number, article_id, request=ExtractionRequest.model_validate(data))
    except ValidationError as exc:
        detail = f"line {number}: invalid request: {field_reasons(exc)}"
        return Item(number, article_id, error=InvalidRequest(detail))


def _entry(item: Item, outcome: Any) -> dict[str, Any]:
    if isinstance(outcome, AttacheError):
        return {"id": item.id, "line": item.line, "problem": outcome.as_problem()}
    return {"id": item.id, "line": item.line, "response": outcome.model_dump(mode="json")}


async def extract_each(
    extractor: Extractor,
    items: AsyncIterable[Item],
    concurrency: int,
    *,
    observe: Callable[[Item, Any, float], None] | None = None,
    refresh: bool = False,
) -> AsyncGenerator[dict[str, Any], None]:
    """The output entry of every item, as each finishes, with at most `concurrency` in flight.

    `observe(item, response or error, seconds)` is called as each finishes (metrics, logs);
    `refresh` asks the model even where the result cache holds an answer.

    A consumer that falls behind holds the extractions up (the queue holds `concurrency`
    entries), and closing the iterator early cancels the extractions in flight.
    """
    finished: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=concurrency)
    slots = asyncio.Semaphore(concurrency)

    async def one(item: Item) -> None:
        try:
            outcome: Any = item.error
            started = time.perf_counter()
            if item.request is not None:
                try:
                    outcome = await extractor.extract(item.request, refresh=refresh)
                except AttacheError as exc:
                    outcome = exc
                except Exception:  # a bug must cost one article, not the batch
                    logger.exception("article %s (line %d) failed", item.id, item.line)
                    outcome = AttacheError("an unexpected internal error; see the logs")
            if observe is not None:
                observe(item, outcome, time.perf_counter() - started)
            await finished.put(_entry(item, outcome))
        finally:
            slots.release()

    async def feed() -> None:
        async with asyncio.TaskGroup() as group:
            async for item in items:
                await slots.acquire()
                group.create_task(one(item))

    feeder = asyncio.create_task(feed())
    try:
        # Done feeding means every article's entry is in the queue: drain it, then stop.
        while not (feeder.done() and finished.empty()):
            taken = asyncio.ensure_future(finished.get())
            await asyncio.wait({taken, feeder}, return_when=asyncio.FIRST_COMPLETED)
            if taken.done():
                yield taken.result()
            else:
                taken.cancel()
        feeder.result()  # the input's own failure, if any, reaches the caller
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder


@dataclass
class Summary:
    lines: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    """Already in the output: done by an earlier run."""
    duplicates: int = 0
    tokens: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    problems_in_output: int = 0
    """Problem lines the output holds when the run ends, earlier runs' included."""
    cost: dict[str, float] = field(default_factory=dict)
    """What this run's answers cost by currency (`ATTACHE_PRICES`), when it prices the model."""

    def describe(self) -> str:
        rate = self.done_now / self.seconds if self.seconds > 0 else 0.0
        return (
            f"{self.done_now} line(s) answered in {self.seconds:.1f} s ({rate:.1f}/s): "
            f"{self.done} succeeded, {self.failed} failed; {self.skipped} skipped (already in "
            f"the output), {self.duplicates} duplicate id(s) skipped; {self.tokens} tokens"
            + "".join(f"; cost {amount:.4f} {currency}" for currency, amount in self.cost.items())
            + f"; the output holds {self.problems_in_output} problem line(s)"
            + ("; INTERRUPTED: rerun the command to finish" if self.interrupted else "")
        )

    @property
    def done_now(self) -> int:
        return self.done + self.failed


@dataclass
class Output:
    """A JSONL output that a rerun resumes: `done` holds the keys of the lines it already has,
    `failed` those of its problem lines."""

    stream: IO[bytes]
    done: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)

    @classmethod
    @contextlib.contextmanager
    def resume(cls, path: Path, *, retry_failed: bool = False) -> Iterator[Output]:
        """Open `path` to append, its torn last line (if any) cut off and its keys read.

        `retry_failed`: first rewrite it without its problem lines (a new file renamed over
        the old one: a crash leaves one or the other whole), so their articles are done again.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+b") as stream:
            done, failed = _repair_and_read(stream, path)
            if not (retry_failed and failed):
                yield cls(stream, done, failed)
                return
        _drop_problems(path)
        with path.open("a+b") as stream:
            done, failed = _repair_and_read(stream, path)
            yield cls(stream, done, failed)

    def write(self, entry: dict[str, Any]) -> None:
        data = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        self.stream.write(data)
        self.stream.flush()
        key = done_key(entry["id"], entry["line"])
        self.done.add(key)
        if "problem" in entry:
            self.failed.add(key)


def _repair_and_read(stream: IO[bytes], path: Path) -> tuple[set[str], set[str]]:
    stream.seek(0)
    content = stream.read()
    whole = content.rfind(b"\n") + 1
    if whole < len(content):
        logger.warning("cutting off a torn last line of %s (%d bytes)", path, len(content) - whole)
        stream.truncate(whole)
        stream.seek(0, os.SEEK_END)
    done: set[str] = set()
    failed: set[str] = set()
    for number, raw in enumerate(content[:whole].splitlines(), start=1):
        try:
            entry = json.loads(raw)
            key = done_key(entry["id"], entry["line"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidRequest(
                f"{path} line {number} is not an output line of attache batch; refusing to "
                "append to it"
            ) from exc
        done.add(key)
        if "problem" in entry:
            failed.add(key)
    return done, failed


def _drop_problems(path: Path) -> None:
    kept = path.with_name(path.name + ".tmp")
    with path.open("rb") as old, kept.open("wb") as new:
        for raw in old:
            if "problem" not in json.loads(raw):
                new.write(raw)
        new.flush()
        os.fsync(new.fileno())
    kept.replace(path)


async def _lines(source: IO[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    """The non-blank lines of `source`, numbered from 1, read off the event loop (a pipe may
    keep a reader waiting)."""
    number = 0
    while raw := await asyncio.to_thread(source.readline):
        number += 1
        if raw.strip():
            yield number, raw


async def run_batch(
    extractor: Extractor,
    source: IO[bytes],
    output: Output,
    *,
    concurrency: int,
    on_entry: Callable[[dict[str, Any]], None] = lambda _: None,
    stop: asyncio.Event | None = None,
    refresh: bool = False,
) -> Summary:
    """Extract every request of `source` not already in `output`, writing each as it finishes."""
    summary = Summary()
    earlier = frozenset(output.done)
    seen: set[str] = set()
    started = time.monotonic()

    async def items() -> AsyncIterator[Item]:
        async for number, raw in _lines(source):
            summary.lines += 1
            # A resumed run skips what is done before validating it.
            if earlier and line_key(number, raw) in earlier:
                summary.skipped += 1
                continue
            item = parse_line(number, raw)
            if item.key in seen:
                summary.duplicates += 1
                logger.warning("line %d repeats id %r: skipped", number, item.id)
            else:
                seen.add(item.key)
                yield item

    async def consume() -> None:
        async for entry in extract_each(extractor, items(), concurrency, refresh=refresh):
            output.write(entry)
            if "response" in entry:
                summary.done += 1
                summary.tokens += entry["response"]["usage"]["total_tokens"]
                if cost := entry["response"].get("cost"):
                    currency = cost["currency"]
                    summary.cost[currency] = summary.cost.get(currency, 0.0) + cost["amount"]
            else:
                summary.failed += 1
            on_entry(entry)

    await _until(consume(), stop)
    summary.interrupted = stop is not None and stop.is_set()
    summary.problems_in_output = len(output.failed)
    summary.seconds = time.monotonic() - started
    return summary


async def _until(work: Awaitable[None], stop: asyncio.Event | None) -> None:
    """Run `work` to its end, or cancel it once `stop` is set."""
    task = asyncio.ensure_future(work)
    if stop is None:
        await task
        return
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Any:
    """Set `stop` on SIGINT or SIGTERM instead of raising KeyboardInterrupt mid-write."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
