"""Per-request overhead: attache against a bare handler and instructor alone, side by side.

    .venv/bin/python -m bench.overhead [--quick] [--rounds 3] [--modes tools,json_schema,json]
        [--requests-serial 200] [--requests-concurrent 200] [--markdown PATH]

Every server is a process of its own on 127.0.0.1 (uvicorn, one worker), so its CPU time can be
read from /proc; the model is a local fake OpenAI-compatible server, a process too
(`bench.baselines`). For each instructor mode it starts three servers that answer
`POST /v1/extractions` with the Board of Peace story:

- bare: the raw openai SDK call and `ExtractionDraft.model_validate_json` (`bench.baselines`);
- instructor: the same handler through `instructor.from_openai(...).create`;
- attache: `python -m attache serve`.

and sends each the same load, upstream at 0 ms one at a time, at 0 ms 64 at once and at 200 ms
64 at once, `--rounds` times in turn (so that noise from other jobs on the machine falls on all
three alike; one at a time, the servers take turns every 25 requests), each round with the
three started afresh (two processes of the same code differ by a few per cent, by where their
memory lies: the median is over as many processes as rounds). A row reports the server's
CPU ms per request (utime + stime of the server process, and its children), requests per
second, p50/p99 latency, any status but 200 (never hidden; the first bodies are listed under
the tables), how many upstream calls each request cost, and the CPU the load generator and the
fake took meanwhile (on 2 cores, what the server could not have); the CPU ratio is to the
bare handler's in the same mode and scenario, and the table gives the median of the rounds.
CPU time, not wall time, because the cores are shared with other jobs; it still rises when
they are busy, so compare within one run.

Then, on attache alone: `/health` latency, probed every 20 ms by a separate process while 200
extractions are in flight (fake at 500 ms, the concurrency limit raised); and CPU per 1,000
characters for a ~5,000 and a ~100,000-character article (the story repeated, so every quote
of the answer is still in it), with the number of chunks and upstream calls. Throughput with
1 and 2 workers is `bench.workers`: it needs a load generator and a fake that take next to
none of the two cores.

The load generator writes each request as bytes prepared once, on keep-alive connections, and
reads the answers with a minimal HTTP/1.1 reader (`_Connection`): on 2 shared cores every
millisecond it spends is one the server under test does not get (httpx took 2 to 3 ms a
request).

The run is bounded (request counts and timeouts) and every process it starts is killed on the
way out, Ctrl-C and errors included. No timing here is asserted by a test.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import datetime as dt
import json
import logging
import math
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from attache.evals.corpus import Article, read_articles
from attache.pipeline.chunk import split
from attache.settings import Settings
from tests.fake_upstream import free_port

REPO = Path(__file__).resolve().parents[1]
BOARD_OF_PEACE = "board-of-peace-2026-01-20"
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVERS = ("bare", "instructor", "attache")
MODES = ("tools", "json_schema", "json")
REQUEST_TIMEOUT_S = 60.0
START_TIMEOUT_S = 60.0
PROBE_INTERVAL_S = 0.02
# The first failed requests of every load (status and body), listed under the tables.
ERRORS_SEEN: list[str] = []
# Requests each server answers before a measurement: imports, schema builds, pools, caches.
WARMUP = 20
# Requests one at a time go to each server in slices of this many, the servers taking turns.
SLICE = 25

log = logging.getLogger("bench.overhead")


# --- processes --------------------------------------------------------------------------------


class Processes:
    """Every process the benchmark starts, each in a session of its own so that it goes with
    its children (uvicorn's workers) when killed."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[subprocess.Popen[bytes]] = []

    def start(
        self, name: str, argv: Sequence[str], env: dict[str, str], cwd: Path, *, pipes: bool = False
    ) -> subprocess.Popen[bytes]:
        """Start `argv`; its output goes to a log file, or with `pipes` to pipes on stdin and
        stdout (the log keeps stderr)."""
        log_file = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(  # noqa: S603 - argv built here, no shell
            list(argv),
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else log_file,
            stderr=log_file if pipes else subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.running)):
            self.stop(proc)

    def tail(self, name: str, lines: int = 20) -> str:
        path = self.logs / f"{name}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )


def cpu_s(pid: int) -> float:
    """utime + stime of `pid` and every live descendant, in seconds."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    family = {pid}
    grew = True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in family and child not in family:
                family.add(child)
                grew = True
    return sum(ticks.get(p, 0) for p in family) / CLK_TCK


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATTACHE_", "BENCH_"))}
    env.update(extra)
    return env


@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen[bytes]


async def wait_healthy(
    procs: Processes, name: str, url: str, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{procs.tail(name)}")
            try:
                if (await client.get(f"{url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{name} did not answer /health in {START_TIMEOUT_S:.0f} s")


async def start_fake(procs: Processes) -> Server:
    port = free_port()
    argv = [PYTHON, "-m", "uvicorn", "bench.baselines:fake_upstream_app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    proc = procs.start("fake-upstream", argv, clean_env(), REPO)
    fake = Server("fake-upstream", f"http://127.0.0.1:{port}", proc)
    await wait_healthy(procs, fake.name, fake.url, proc)
    return fake


async def start_server(
    procs: Processes,
    kind: str,
    mode: str,
    fake: Server,
    *,
    workers: int | None = None,
    pythonpath: Path | None = None,
    name: str | None = None,
    without: Sequence[str] = (),
) -> Server:
    """`pythonpath`: import attache from there instead of this checkout (`bench.versus`);
    `without`: attache's stages to switch off (`bench.without`, for `bench.stages`)."""
    port = free_port()
    name = name or f"{kind}-{mode}" + (f"-w{workers}" if workers else "")
    if kind == "attache":
        serve = ["bench.without", ",".join(without)] if without else ["attache", "serve"]
        argv = [PYTHON, "-m", *serve]
        if workers is not None:
            argv += ["--workers", str(workers)]
        env = clean_env(
            ATTACHE_BASE_URL=f"{fake.url}/v1",
            ATTACHE_MODEL="fake-model",
            ATTACHE_MODE=mode,
            ATTACHE_PORT=str(port),
            ATTACHE_API_KEY="bench-dummy-key",
            ATTACHE_MAX_CONCURRENT_EXTRACTIONS="1000",
            ATTACHE_LOG_LEVEL="WARNING",
            # The same story over and over: the result cache would answer all but the first.
            ATTACHE_CACHE_URL="off",
        )
        # Out of the checkout, so no stray .env there changes what is measured.
        cwd = Path(tempfile.gettempdir())
    else:
        argv = [PYTHON, "-m", "uvicorn", "--factory", f"bench.baselines:{kind}_app"]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        argv += ["--log-level", "warning", "--no-access-log"]
        env = clean_env(BENCH_UPSTREAM=f"{fake.url}/v1", BENCH_MODE=mode)
        cwd = REPO
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    elif without:
        env["PYTHONPATH"] = str(REPO)  # bench is a package of the checkout, not installed
    proc = procs.start(name, argv, env, cwd)
    server = Server(name, f"http://127.0.0.1:{port}", proc)
    await wait_healthy(procs, name, server.url, proc)
    return server


def attache_has_workers_flag() -> bool:
    result = subprocess.run(  # noqa: S603 - fixed argv
        [PYTHON, "-m", "attache", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tempfile.gettempdir(),
        env=clean_env(),
    )
    return "--workers" in result.stdout


# --- load ------------------------------------------------------------------------------------


@dataclass
class Run:
    """One load against one server."""

    requests: int
    wall_s: float
    cpu_s: float
    upstream_calls: int
    latencies_ms: list[float]
    statuses: Counter[int]
    others_cpu_s: float
    """CPU of the load generator and the fake upstream: what the server did not get of the
    shared cores."""
    last_body: dict[str, Any] = field(default_factory=dict)
    parts: list[Run] = field(default_factory=list)
    """The slices it was sent in (`in_turn`), if it was."""

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_s * 1000 / self.requests

    @property
    def others_cpu_ms_per_request(self) -> float:
        return self.others_cpu_s * 1000 / self.requests

    @property
    def per_second(self) -> float:
        return self.requests / self.wall_s

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200)

    @classmethod
    def joined(cls, runs: Sequence[Run]) -> Run:
        """The loads of `runs` as one."""
        return cls(
            requests=sum(r.requests for r in runs),
            wall_s=sum(r.wall_s for r in runs),
            cpu_s=sum(r.cpu_s for r in runs),
            upstream_calls=sum(r.upstream_calls for r in runs),
            latencies_ms=[ms for r in runs for ms in r.latencies_ms],
            statuses=sum((r.statuses for r in runs), Counter()),
            others_cpu_s=sum(r.others_cpu_s for r in runs),
            last_body=runs[-1].last_body,
            parts=list(runs),
        )


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank: p99 of 100 values is the 99th, not an interpolation."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def set_delay(fake: Server, ms: float) -> None:
    async with httpx.AsyncClient() as client:
        (await client.post(f"{fake.url}/delay", params={"ms": ms})).raise_for_status()


async def fake_calls(fake: Server) -> int:
    async with httpx.AsyncClient() as client:
        return int((await client.get(f"{fake.url}/calls")).text)


class _Connection:
    """One keep-alive HTTP/1.1 connection that POSTs a prepared request and reads the answer.

    The load generator shares the 2 cores with the server it measures: httpx took 2 to 3 ms of
    CPU a request, as much as a fifth of what it measured, and capped the throughput any
    server could show. This writes bytes prepared once and reads a status line, headers and a
    Content-Length (or chunked) body: a few hundredths of a millisecond.
    """

    def __init__(self, host: str, port: int, request: bytes) -> None:
        self._host, self._port, self._request = host, port, request
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self) -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._streams
        try:
            writer.write(self._request)
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *lines = head.decode("latin-1").split("\r\n")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines if line)
            }
            if "content-length" in headers:
                body = await reader.readexactly(int(headers["content-length"]))
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                body = await _chunked(reader)
            else:
                body = await reader.read()
            if headers.get("connection", "").lower() == "close":
                await self.close()
            return int(status_line.split()[1]), body
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while size := int((await reader.readline()).split(b";")[0], 16):
        parts.append(await reader.readexactly(size))
        await reader.readline()
    await reader.readline()
    return b"".join(parts)


def _post_request(url: str, payload: bytes) -> tuple[str, int, bytes]:
    """The host, the port and the bytes of `POST {url}/v1/extractions` carrying `payload`."""
    address = httpx.URL(url)
    host, port = address.host, address.port or 80
    head = (
        f"POST /v1/extractions HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return host, port, head.encode("ascii") + payload


async def load(
    server: Server,
    fake: Server,
    body: dict[str, Any],
    count: int,
    concurrency: int,
) -> Run:
    """`count` requests, `concurrency` at a time, each recorded; any status is kept."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    last = b""
    errors: list[str] = []
    todo = iter(range(count))
    payload = json.dumps(body).encode()
    host, port, request = _post_request(server.url, payload)

    async def worker() -> None:
        nonlocal last
        connection = _Connection(host, port, request)
        try:
            for _ in todo:
                started = time.perf_counter()
                try:
                    status, answer = await asyncio.wait_for(connection.post(), REQUEST_TIMEOUT_S)
                    detail = answer[:300].decode("utf-8", "replace")
                except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                    status = 0  # a transport failure or timeout: an error row, not a crash
                    detail = f"{type(exc).__name__}: {exc}"
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[status] += 1
                if status == 200:
                    last = answer
                elif len(errors) < 3:
                    errors.append(f"{server.name}: {status or 'transport'}: {detail}")
        finally:
            await connection.close()

    calls_before = await fake_calls(fake)
    cpu_before = cpu_s(server.proc.pid)
    others_before = cpu_s(fake.proc.pid) + time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    cpu_after = cpu_s(server.proc.pid)
    others = cpu_s(fake.proc.pid) + time.process_time() - others_before
    calls = await fake_calls(fake) - calls_before
    parsed: dict[str, Any] = json.loads(last) if last else {}
    run = Run(count, wall, cpu_after - cpu_before, calls, latencies, statuses, others, parsed)
    ERRORS_SEEN.extend(errors)
    return run


async def in_turn(
    servers: Sequence[Server],
    fake: Server,
    body: dict[str, Any],
    count: int,
    concurrency: int,
    *,
    reverse: bool = False,
) -> list[Run]:
    """Each server's run of `count` requests, `concurrency` at a time, in the order of `servers`.

    One at a time, the requests go in slices of `SLICE`, the servers taking turns, so that each
    one's requests fall in the same seconds as the others' (the machine's speed moves by a third
    within seconds); the order turns every slice, and starts reversed with `reverse`.
    """
    order = list(servers)[::-1] if reverse else list(servers)
    sizes = [min(SLICE, count - done) for done in range(0, count, SLICE)]
    runs: dict[str, list[Run]] = {server.name: [] for server in servers}
    for n, size in enumerate(sizes if concurrency == 1 else [count]):
        for server in order if n % 2 == 0 else order[::-1]:
            runs[server.name].append(await load(server, fake, body, size, concurrency))
    return [Run.joined(runs[server.name]) for server in servers]


# --- the side-by-side table ------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    delay_ms: int
    concurrency: int
    requests: int

    @property
    def label(self) -> str:
        return f"{self.delay_ms} ms x {self.concurrency}"


@dataclass
class Cell:
    runs: list[Run] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        values: list[float] = [getattr(run, attribute) for run in self.runs]
        return statistics.median(values)

    @property
    def cpu(self) -> float:
        return self.median("cpu_ms_per_request")

    def paired(self, other: Cell) -> list[float]:
        """Its CPU a request over `other`'s, slice by slice (`in_turn`): each pair of slices was
        sent within a second, so the ratio holds where the machine's speed moved between
        slices. Empty where the runs were not sent in slices."""
        return [
            mine.cpu_ms_per_request / theirs.cpu_ms_per_request
            for run, other_run in zip(self.runs, other.runs, strict=True)
            for mine, theirs in zip(run.parts, other_run.parts, strict=True)
            if theirs.cpu_s > 0
        ]

    def ratio(self, other: Cell) -> float:
        """Its CPU a request over `other`'s: the median of the slice pairs where the runs
        were sent in slices, else the ratio of the medians of the rounds."""
        pairs = self.paired(other)
        return statistics.median(pairs) if pairs else self.cpu / other.cpu

    @property
    def errors(self) -> Counter[int]:
        total: Counter[int] = Counter()
        for run in self.runs:
            total.update({s: n for s, n in run.statuses.items() if s != 200})
        return total


async def rounds_in_turn(
    start: Callable[[Processes, Server], Awaitable[dict[str, Server]]],
    *,
    rounds: int,
    requests: int,
    concurrency: int,
) -> dict[str, Cell]:
    """Each server's runs, by name, against one fake upstream at 0 ms answering the Board of
    Peace story: every round the servers `start` gives, started afresh (the median is over as
    many processes as rounds, not over where one process's memory happens to lie), warmed up,
    then sent `requests` requests each, `concurrency` at a time, in turn (`in_turn`), the order
    reversed every other round. A failed request ends the run; every process goes with it."""
    body = read_articles()[BOARD_OF_PEACE].request_json()
    cells: dict[str, Cell] = {}
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as logs:
        procs = Processes(Path(logs))
        try:
            fake = await start_fake(procs)
            await set_delay(fake, 0)
            for round_ in range(rounds):
                servers = await start(procs, fake)
                for server in servers.values():
                    await load(server, fake, body, WARMUP, 4)
                runs = await in_turn(
                    list(servers.values()),
                    fake,
                    body,
                    requests,
                    concurrency,
                    reverse=round_ % 2 == 1,
                )
                for name, done in zip(servers, runs, strict=True):
                    if done.errors:
                        raise RuntimeError(f"{name}: {done.errors} failed requests")
                    cells.setdefault(name, Cell()).runs.append(done)
                for server in servers.values():
                    procs.stop(server.proc)
        finally:
            procs.stop_all()
    return cells


async def side_by_side(
    procs: Processes,
    fake: Server,
    body: dict[str, Any],
    *,
    modes: Sequence[str],
    scenarios: Sequence[Scenario],
    rounds: int,
    attache_workers_1: bool,
) -> dict[tuple[str, str, Scenario], Cell]:
    cells: dict[tuple[str, str, Scenario], Cell] = {}
    for mode in modes:
        for round_ in range(rounds):
            # Fresh processes every round: two processes of the same code differ by 2 to 6 % in
            # CPU a request (where their memory happens to lie), so a median over one process
            # each would carry that into every ratio. Fresh, no server starts a round with the
            # idle connections of its last 64-at-once run either (httpcore's pool checks every
            # idle one, a system call each, whenever it hands out or takes back a connection).
            servers = [
                await start_server(
                    procs,
                    kind,
                    mode,
                    fake,
                    workers=1 if kind == "attache" and attache_workers_1 else None,
                )
                for kind in SERVERS
            ]
            try:
                await set_delay(fake, 0)
                for server in servers:
                    await load(server, fake, body, WARMUP, 4)
                for scenario in scenarios:
                    await set_delay(fake, scenario.delay_ms)
                    # Alternate the order so neither server always follows the same neighbour.
                    runs = await in_turn(
                        servers,
                        fake,
                        body,
                        scenario.requests,
                        scenario.concurrency,
                        reverse=round_ % 2 == 1,
                    )
                    for server, run in zip(servers, runs, strict=True):
                        kind = server.name.split("-")[0]
                        cells.setdefault((mode, kind, scenario), Cell()).runs.append(run)
                        log.info(
                            "%s %s %s round %d: %.1f CPU ms/req, %.0f req/s, errors %d",
                            mode,
                            kind,
                            scenario.label,
                            round_ + 1,
                            run.cpu_ms_per_request,
                            run.per_second,
                            run.errors,
                        )
            finally:
                for server in servers:
                    procs.stop(server.proc)
    return cells


def side_by_side_tables(
    cells: dict[tuple[str, str, Scenario], Cell],
    modes: Sequence[str],
    scenarios: Sequence[Scenario],
    rounds: int,
) -> list[str]:
    out = [
        f"### CPU ms per request of the server process (x the bare handler), median of {rounds} "
        f"round(s)",
        "",
        f"One at a time, the ratio is the median over pairs of slices of {SLICE} requests sent "
        "one after the other (below); with 64 at once, the ratio of the medians.",
        "",
        "| mode | server | " + " | ".join(s.label for s in scenarios) + " |",
        "|---|---|" + "---|" * len(scenarios),
    ]
    for mode in modes:
        for kind in SERVERS:
            row = []
            for scenario in scenarios:
                cell = cells[(mode, kind, scenario)]
                ratio = cell.ratio(cells[(mode, "bare", scenario)])
                row.append(f"{cell.cpu:.1f} ({ratio:.2f}x)")
            out.append(f"| {mode} | {kind} | " + " | ".join(row) + " |")
    out += [
        "",
        "### Every scenario (medians of the rounds; errors summed over them)",
        "",
        "| mode | server | upstream ms x concurrent | requests | errors | CPU ms/req (min-max) | "
        "x bare | req/s | p50 ms | p99 ms | upstream calls/req | load gen + fake CPU ms/req |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mode in modes:
        for scenario in scenarios:
            bare = cells[(mode, "bare", scenario)]
            for kind in SERVERS:
                cell = cells[(mode, kind, scenario)]
                cpus = [run.cpu_ms_per_request for run in cell.runs]
                errors = ", ".join(f"{n}x{s or 'transport'}" for s, n in cell.errors.items()) or "0"
                p50 = statistics.median(percentile(r.latencies_ms, 0.5) for r in cell.runs)
                p99 = statistics.median(percentile(r.latencies_ms, 0.99) for r in cell.runs)
                calls = sum(r.upstream_calls for r in cell.runs) / sum(
                    r.requests for r in cell.runs
                )
                out.append(
                    f"| {mode} | {kind} | {scenario.label} | {scenario.requests} | {errors} | "
                    f"{cell.cpu:.1f} ({min(cpus):.1f}-{max(cpus):.1f}) | {cell.ratio(bare):.2f} | "
                    f"{cell.median('per_second'):.1f} | {p50:.0f} | {p99:.0f} | {calls:.2f} | "
                    f"{cell.median('others_cpu_ms_per_request'):.1f} |"
                )
    serial = [s for s in scenarios if s.concurrency == 1]
    if serial:
        out += [
            "",
            f"### One at a time, slice by slice: CPU a request over the bare handler's, in "
            f"pairs of slices of {SLICE} requests",
            "",
            "| mode | server | pairs | median | quartiles | min-max |",
            "|---|---|---|---|---|---|",
        ]
        for mode in modes:
            bare_cell = cells[(mode, "bare", serial[0])]
            for kind in SERVERS[1:]:
                pairs = cells[(mode, kind, serial[0])].paired(bare_cell)
                if len(pairs) < 2:
                    continue
                q1, _, q3 = statistics.quantiles(pairs, n=4)
                out.append(
                    f"| {mode} | {kind} | {len(pairs)} | {statistics.median(pairs):.2f} | "
                    f"{q1:.2f}-{q3:.2f} | {min(pairs):.2f}-{max(pairs):.2f} |"
                )
    return out


# --- attache alone: /health under load ---------------------------------------------------------


@dataclass
class HealthRound:
    probes_ms: list[float]
    probe_errors: int
    run: Run


async def health_under_load(
    procs: Processes,
    fake: Server,
    body: dict[str, Any],
    *,
    in_flight: int,
    rounds: int,
    workers: int | None,
) -> list[HealthRound]:
    server = await start_server(procs, "attache", "tools", fake, workers=workers)
    results = []
    try:
        await set_delay(fake, 0)
        await load(server, fake, body, WARMUP, 4)
        await set_delay(fake, 500)
        for _ in range(rounds):
            results.append(await probe_during(procs, server, fake, body, in_flight))
    finally:
        procs.stop(server.proc)
    return results


async def probe_during(
    procs: Processes, server: Server, fake: Server, body: dict[str, Any], in_flight: int
) -> HealthRound:
    argv = [PYTHON, "-m", "bench.baselines", "probe", f"{server.url}/health", str(PROBE_INTERVAL_S)]
    probe = procs.start("health-probe", argv, clean_env(), REPO, pipes=True)
    try:
        assert probe.stdout is not None  # noqa: S101 - pipes=True gives one
        ready = await asyncio.wait_for(asyncio.to_thread(probe.stdout.readline), START_TIMEOUT_S)
        if ready.strip() != b"ready":
            raise RuntimeError(f"the /health probe failed:\n{procs.tail('health-probe')}")
        run = await load(server, fake, body, in_flight, in_flight)
        output, _ = await asyncio.to_thread(probe.communicate, b"", 30)
    finally:
        procs.stop(probe)
    result = json.loads(output)
    return HealthRound(result["ms"], result["errors"], run)


def health_table(results: list[HealthRound], in_flight: int) -> list[str]:
    out = [
        "| round | extractions at once | 200 | errors | extraction p50 s | probes | probe errors | "
        "/health p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(results, 1):
        out.append(
            f"| {i} | {in_flight} | {r.run.statuses.get(200, 0)} | {r.run.errors} | "
            f"{percentile(r.run.latencies_ms, 0.5) / 1000:.2f} | {len(r.probes_ms)} | "
            f"{r.probe_errors} | {percentile(r.probes_ms, 0.5):.1f} | "
            f"{percentile(r.probes_ms, 0.99):.1f} | {max(r.probes_ms, default=math.nan):.1f} |"
        )
    return out


# --- attache alone: article length -----------------------------------------------------------


def repeated(article: Article, copies: int) -> Article:
    # Blank lines between copies: each copy still holds every quote of the answer, so no chunk
    # is re-asked, and the chunker cuts at a copy's paragraph breaks as it would in a real text.
    return article.model_copy(update={"text": "\n\n".join([article.text] * copies)})


@dataclass
class LengthRow:
    label: str
    chars: int
    chunks: int
    delay_ms: int
    run: Run

    @property
    def cpu_per_1000_chars(self) -> float:
        return self.run.cpu_ms_per_request / (self.chars / 1000)


async def length_scaling(
    procs: Processes, fake: Server, article: Article, counts: tuple[int, int], workers: int | None
) -> list[LengthRow]:
    settings = Settings()
    variants = [
        ("short", repeated(article, max(1, round(5_000 / len(article.text)))), counts[0], 0),
        ("long", repeated(article, max(1, round(100_000 / len(article.text)))), counts[1], 0),
        # Upstream latency shows whether the chunk calls overlap: the 0 ms rows cannot.
        ("long", repeated(article, max(1, round(100_000 / len(article.text)))), 2, 200),
    ]
    server = await start_server(procs, "attache", "tools", fake, workers=workers)
    rows = []
    try:
        await set_delay(fake, 0)
        await load(server, fake, article.request_json(), WARMUP, 1)
        for label, variant, count, delay in variants:
            await set_delay(fake, delay)
            body = variant.request_json()
            await load(server, fake, body, 1, 1)
            run = await load(server, fake, body, count, 1)
            chunks = split(
                variant.text, max_chars=settings.chunk_chars, overlap=settings.chunk_overlap_chars
            )
            rows.append(LengthRow(label, len(variant.text), len(chunks), delay, run))
    finally:
        procs.stop(server.proc)
    return rows


def length_table(rows: list[LengthRow]) -> list[str]:
    concurrency = Settings().chunk_concurrency
    out = [
        "| article | chars | chunks | upstream ms | requests | errors | upstream calls/req | "
        "CPU ms/req | CPU ms per 1,000 chars | p50 ms | p50 if chunk calls were serial / "
        f"{concurrency} at once |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        calls = r.run.upstream_calls / r.run.requests
        reported = r.run.last_body.get("usage", {}).get("upstream_calls", "-")
        waits = "-"
        if r.delay_ms:
            waits = f"{r.chunks * r.delay_ms} / {math.ceil(r.chunks / concurrency) * r.delay_ms}"
        out.append(
            f"| {r.label} | {r.chars:,} | {r.chunks} | {r.delay_ms} | {r.run.requests} | "
            f"{r.run.errors} | {calls:.1f} (usage: {reported}) | {r.run.cpu_ms_per_request:.1f} | "
            f"{r.cpu_per_1000_chars:.2f} | {percentile(r.run.latencies_ms, 0.5):.0f} | {waits} |"
        )
    return out


# --- the report ------------------------------------------------------------------------------


def git_revision() -> str:
    def git(*args: str) -> str:
        result = subprocess.run(  # noqa: S603 - read-only git commands
            ["git", *args],  # noqa: S607
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        return result.stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "unknown"
    return revision + (" (with uncommitted changes)" if git("status", "--porcelain") else "")


def header(
    argv: Sequence[str], *, title: str = "Per-request overhead", module: str = "bench.overhead"
) -> list[str]:
    load1, load5, _ = os.getloadavg()
    return [
        f"## {title}",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load1:.2f} / {load5:.2f} at the start; "
        f"Python {platform.python_version()}",
        f"- revision: {git_revision()}",
        "- command: `" + shlex.join([".venv/bin/python", "-m", module, *argv]) + "`",
        "",
    ]


@dataclass
class Options:
    modes: list[str]
    scenarios: list[Scenario]
    rounds: int
    in_flight: int
    length_counts: tuple[int, int]
    markdown: Path | None
    skip: set[str]


async def run(procs: Processes, options: Options, argv: Sequence[str]) -> list[str]:
    out = header(argv)
    article = read_articles()[BOARD_OF_PEACE]
    body = article.request_json()
    has_workers = attache_has_workers_flag()
    # Without the flag attache serves in one process; with it, one worker must be asked for.
    one = 1 if has_workers else None
    fake = await start_fake(procs)
    targets: list[str] = []

    if "table" not in options.skip:
        cells = await side_by_side(
            procs,
            fake,
            body,
            modes=options.modes,
            scenarios=options.scenarios,
            rounds=options.rounds,
            attache_workers_1=has_workers,
        )
        out += side_by_side_tables(cells, options.modes, options.scenarios, options.rounds)
        worst = max(
            (
                (cells[(m, "attache", s)].ratio(cells[(m, "bare", s)]), m, s)
                for m in options.modes
                for s in options.scenarios
            ),
            key=lambda item: item[0],
        )
        targets.append(
            f"- attache CPU <= 1.5x the bare handler's: "
            f"{'met' if worst[0] <= 1.5 else 'missed'}; worst {worst[0]:.2f}x "
            f"({worst[1]}, {worst[2].label})"
        )
        out.append("")

    if "health" not in options.skip:
        health = await health_under_load(
            procs, fake, body, in_flight=options.in_flight, rounds=options.rounds, workers=one
        )
        out += [
            f"### /health every {PROBE_INTERVAL_S * 1000:.0f} ms while {options.in_flight} "
            "extractions are in flight (attache, tools, upstream 500 ms)",
            "",
            *health_table(health, options.in_flight),
            "",
        ]
        p99 = max(percentile(r.probes_ms, 0.99) for r in health)
        peak = max(max(r.probes_ms) for r in health)
        met = p99 <= 50 and peak <= 200 and not any(r.probe_errors for r in health)
        targets.append(
            f"- /health p99 <= 50 ms and max <= 200 ms: {'met' if met else 'missed'}; worst round "
            f"p99 {p99:.1f} ms, max {peak:.1f} ms"
        )

    if "length" not in options.skip:
        rows = await length_scaling(procs, fake, article, options.length_counts, one)
        out += [
            "### Article length (attache, tools, one request at a time)",
            "",
            *length_table(rows),
            "",
        ]
        short, long = rows[0], rows[1]
        ratio = long.cpu_per_1000_chars / short.cpu_per_1000_chars
        targets.append(
            f"- CPU per 1,000 characters no worse at {long.chars:,} than at {short.chars:,}: "
            f"{'met' if ratio <= 1.0 else 'missed'}; {long.cpu_per_1000_chars:.2f} against "
            f"{short.cpu_per_1000_chars:.2f} ms ({ratio:.2f}x)"
        )

    if ERRORS_SEEN:
        out += ["### Failed requests (first 3 of each load)", ""]
        out += [f"- `{' '.join(error.split())}`" for error in ERRORS_SEEN[:30]] + [""]
    return [*out, "### Targets", "", *targets, ""]


def parse(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Fewer requests and one round.")
    parser.add_argument("--rounds", type=int, help="Rounds of every measurement [3; quick: 1].")
    parser.add_argument("--modes", default=",".join(MODES), help="Instructor modes to compare.")
    parser.add_argument("--requests-serial", type=int, help="Requests one at a time [200; 25].")
    parser.add_argument("--requests-concurrent", type=int, help="Requests 64 at once [200; 64].")
    parser.add_argument("--in-flight", type=int, default=200, help="Extractions during /health.")
    parser.add_argument(
        "--skip",
        default="",
        help="Comma-separated parts to leave out: table,health,length.",
    )
    parser.add_argument("--markdown", type=Path, help="Also write the report to this file.")
    args = parser.parse_args(argv)
    quick = args.quick
    serial = args.requests_serial or (25 if quick else 200)
    concurrent = args.requests_concurrent or (64 if quick else 200)
    modes = [m for m in args.modes.split(",") if m]
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    return Options(
        modes=modes,
        scenarios=[
            Scenario(0, 1, serial),
            Scenario(0, 64, concurrent),
            Scenario(200, 64, concurrent),
        ],
        rounds=args.rounds or (1 if quick else 3),
        in_flight=args.in_flight,
        length_counts=(10, 3) if quick else (30, 8),
        markdown=args.markdown,
        skip={s for s in args.skip.split(",") if s},
    )


def _terminate(signum: int, _frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C, through every `finally` that stops a process.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _terminate)
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as logs:
        procs = Processes(Path(logs))
        atexit.register(procs.stop_all)
        try:
            report = asyncio.run(run(procs, options, argv))
        except KeyboardInterrupt:
            print("interrupted; every process started was stopped", file=sys.stderr)
            sys.exit(130)
        finally:
            procs.stop_all()
    text = "\n".join(report)
    print(text)
    if options.markdown:
        options.markdown.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
