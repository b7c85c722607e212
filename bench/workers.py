"""Throughput of `attache serve --workers 1` against `--workers 2`, with load and model in C.

    .venv/bin/python -m bench.workers [--rounds 3] [--seconds 10] [--connections 64]
        [--markdown PATH]

Needs `wrk` and `nginx` on the PATH (Debian: `apt-get install wrk nginx-light`).

On 2 cores the load generator and the fake model share the cores with the workers they
measure. `bench.overhead`'s are Python processes, light as they are: about 1.8 ms of CPU a
request against attache's 10, so two workers could never show more than about 1.72 times one
worker's throughput there, and a target of 1.7 could not be told from the noise. Here wrk
(C, epoll) sends the load and nginx answers as the model, from a file: together about a tenth
of a millisecond a request, so the ceiling is close to 2.

For the story, and for it repeated to about 30,000 characters: attache (tools, upstream at
0 ms, result cache off) is started with 1 worker and with 2, in turn and in alternating order
over `--rounds`; each run gets 2 s of warm-up load, then `--seconds` of `--connections`
connections, each request on a connection of its own (`Connection: close`) so that the kernel
deals requests out to the worker processes as they come. A row reports requests per second,
the CPU ms a request of attache's processes and of wrk and nginx, the upstream calls a
request cost (nginx's count), every status but 200 and every socket error, and wrk's p50/p99.
The ceiling printed with each scale is what the measured CPU allows: 2 x attache's CPU a
request / (that + wrk's and nginx's).

No timing here is asserted by a test.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import logging
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from attache.evals.corpus import read_articles
from attache.settings import ModelMode
from bench.overhead import (
    BOARD_OF_PEACE,
    REPO,
    Processes,
    Server,
    cpu_s,
    header,
    repeated,
    start_server,
    wait_healthy,
)
from tests.fake_upstream import free_port
from tests.fakes import completion

LONGER_CHARS = 30_000
WARMUP_S = 2
DRAIN_S = 2
ANSWER_FILE = REPO / "tests" / "data" / "board_of_peace.answer.json"

# nginx answers every chat completion with the story's answer, from a file: a POST to a static
# file is refused (405), and the error page, served by GET, is the file with status 200.
NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_buffer_size 1m;
    client_max_body_size 10m;
    server {{
        listen 127.0.0.1:{port};
        location = /v1/chat/completions {{ error_page 405 =200 /answer.json; return 405; }}
        location = /answer.json {{ internal; default_type application/json; root {dir}; }}
        location = /health {{ return 200 'ok'; }}
        location = /status {{ stub_status; }}
    }}
}}
"""

# wrk posts the body in $BODY on a connection of its own each time and prints its summary as
# one line of JSON.
WRK_SCRIPT = """\
local f = io.open(os.getenv("BODY"), "rb")
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Connection"] = "close"
done = function(s, latency, requests)
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d}\\n',
    s.requests, s.duration, s.errors.status,
    s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""

log = logging.getLogger("bench.workers")


@dataclass(frozen=True)
class Run:
    workers: int
    requests: int
    seconds: float
    attache_cpu_s: float
    others_cpu_s: float
    upstream_calls: int
    non_200: int
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.attache_cpu_s * 1000 / self.requests

    @property
    def others_cpu_ms(self) -> float:
        return self.others_cpu_s * 1000 / self.requests


class Nginx:
    """nginx on a free port, answering as the model; its requests counted by `stub_status`."""

    def __init__(self, procs: Processes, folder: Path) -> None:
        self.folder = folder
        port = free_port()
        answer = json.loads(ANSWER_FILE.read_text(encoding="utf-8"))["answer"]
        (folder / "answer.json").write_text(json.dumps(completion(answer, mode=ModelMode.TOOLS)))
        conf = folder / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=folder, port=port))
        nginx = shutil.which("nginx")
        assert nginx is not None  # noqa: S101 - checked in main()
        proc = procs.start("nginx", [nginx, "-c", str(conf), "-p", str(folder)], {}, folder)
        self.server = Server("nginx", f"http://127.0.0.1:{port}", proc)

    async def requests(self) -> int:
        async with httpx.AsyncClient() as client:
            status = (await client.get(f"{self.server.url}/status")).text
        # "server accepts handled requests\n A H R": the third number, less this request.
        return int(status.splitlines()[2].split()[2]) - 1


def wrk(url: str, body: Path, script: Path, seconds: int, connections: int) -> dict[str, Any]:
    binary = shutil.which("wrk")
    assert binary is not None  # noqa: S101 - checked in main()
    # wrk gives up on a request after 2 s unless told otherwise, and counts it as an error.
    argv = [binary, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s"]
    argv += ["-s", str(script)]
    result = subprocess.run(  # noqa: S603 - argv built here, no shell
        [*argv, f"{url}/v1/extractions"],
        env={**os.environ, "BODY": str(body)},
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def measure(
    procs: Processes, nginx: Nginx, body: Path, script: Path, *, workers: int, options: Options
) -> Run:
    server = await start_server(procs, "attache", "tools", nginx.server, workers=workers)
    try:
        # Warm-up: every worker takes connections, imports settle, caches fill.
        await asyncio.to_thread(wrk, server.url, body, script, WARMUP_S, options.connections)
        # wrk leaves its last requests unanswered: the workers finish them before the clock runs.
        await asyncio.sleep(DRAIN_S)
        calls_before = await nginx.requests()
        cpu_before, nginx_before, wrk_before = (
            cpu_s(server.proc.pid),
            cpu_s(nginx.server.proc.pid),
            children_cpu_s(),
        )
        summary = await asyncio.to_thread(
            wrk, server.url, body, script, options.seconds, options.connections
        )
        attache_cpu = cpu_s(server.proc.pid) - cpu_before
        # wrk has been reaped by now: its CPU is in this process's children's.
        others = cpu_s(nginx.server.proc.pid) - nginx_before + children_cpu_s() - wrk_before
        calls = await nginx.requests() - calls_before
    finally:
        procs.stop(server.proc)
    return Run(
        workers=workers,
        requests=summary["requests"],
        # wrk's own clock: the time it sent load, without its start.
        seconds=summary["duration_us"] / 1e6,
        attache_cpu_s=attache_cpu,
        others_cpu_s=others,
        upstream_calls=calls,
        non_200=summary["non2xx"],
        socket_errors=summary["socket_errors"],
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
    )


def table(runs: list[Run]) -> list[str]:
    out = [
        "| workers | rounds | requests | not 200 | socket errors | upstream calls a request | "
        "req/s (each round) | median req/s | attache CPU ms/req | wrk + nginx CPU ms/req | "
        "p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for workers in (1, 2):
        rs = [r for r in runs if r.workers == workers]
        requests = sum(r.requests for r in rs)
        out.append(
            f"| {workers} | {len(rs)} | {requests} | {sum(r.non_200 for r in rs)} | "
            f"{sum(r.socket_errors for r in rs)} | "
            f"{sum(r.upstream_calls for r in rs) / requests:.2f} | "
            f"{', '.join(f'{r.per_second:.1f}' for r in rs)} | "
            f"{statistics.median(r.per_second for r in rs):.1f} | "
            f"{statistics.median(r.cpu_ms for r in rs):.2f} | "
            f"{statistics.median(r.others_cpu_ms for r in rs):.2f} | "
            f"{statistics.median(r.p50_ms for r in rs):.0f} | "
            f"{statistics.median(r.p99_ms for r in rs):.0f} |"
        )
    return out


def scale(runs: list[Run]) -> tuple[float, float]:
    """Throughput of 2 workers over 1 (medians), and the most the measured CPU allows."""

    def median(workers: int, value: str) -> float:
        return float(statistics.median(getattr(r, value) for r in runs if r.workers == workers))

    factor = median(2, "per_second") / median(1, "per_second")
    own, others = median(2, "cpu_ms"), median(2, "others_cpu_ms")
    return factor, 2 * own / (own + others)


@dataclass(frozen=True)
class Options:
    rounds: int
    seconds: int
    connections: int
    markdown: Path | None


async def run(procs: Processes, folder: Path, options: Options, argv: Sequence[str]) -> list[str]:
    out = header(argv, title="attache serve --workers 1 and 2", module="bench.workers")
    story = read_articles()[BOARD_OF_PEACE]
    longer = repeated(story, round(LONGER_CHARS / len(story.text)))
    script = folder / "post.lua"
    script.write_text(WRK_SCRIPT)
    nginx = Nginx(procs, folder)
    await wait_healthy(procs, "nginx", nginx.server.url, nginx.server.proc)
    out += [
        f"Tools mode, upstream nginx at 0 ms, load wrk with {options.connections} connections, "
        f"{options.seconds} s a run after {WARMUP_S} s of warm-up, a connection a request.",
        "",
    ]
    results = []
    for label, article in (("the story", story), (f"{len(longer.text):,} characters", longer)):
        body = folder / "body.json"
        body.write_text(json.dumps(article.request_json()))
        runs = []
        for round_ in range(options.rounds):
            for workers in (1, 2) if round_ % 2 == 0 else (2, 1):
                result = await measure(procs, nginx, body, script, workers=workers, options=options)
                log.info("%s, %d worker(s): %.1f req/s", label, workers, result.per_second)
                runs.append(result)
        factor, ceiling = scale(runs)
        results.append((label, factor, ceiling))
        out += [
            f"{label.capitalize()}:",
            "",
            *table(runs),
            "",
            f"Scaling 1 -> 2 workers: {factor:.2f}x; at most {ceiling:.2f}x on these cores (2 x "
            "attache's CPU a request / that + wrk's and nginx's)",
            "",
        ]
    met = all(factor >= 1.7 for _, factor, _ in results)
    summary = "; ".join(f"{label} {f:.2f}x (at most {c:.2f}x)" for label, f, c in results)
    out += [
        "### Target",
        "",
        f"- throughput x >= 1.7 from 1 to 2 workers: {'met' if met else 'missed'}; {summary}",
        "",
    ]
    return out


def parse(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="Runs of each worker count.")
    parser.add_argument("--seconds", type=int, default=10, help="Length of a measured run.")
    parser.add_argument("--connections", type=int, default=64, help="Connections wrk keeps open.")
    parser.add_argument("--markdown", type=Path, help="Also write the report to this file.")
    args = parser.parse_args(argv)
    return Options(args.rounds, args.seconds, args.connections, args.markdown)


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse(argv)
    if missing := [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None]:
        sys.exit(f"not found: {', '.join(missing)} (Debian: apt-get install wrk nginx-light)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _terminate)
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as folder:
        procs = Processes(Path(folder))
        atexit.register(procs.stop_all)
        try:
            report = asyncio.run(run(procs, Path(folder), options, argv))
        finally:
            procs.stop_all()
    text = "\n".join(report)
    print(text)
    if options.markdown is not None:
        options.markdown.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
