"""attache at this checkout against attache at another revision, beside the bare handler.

    .venv/bin/python -m bench.versus REV [--mode tools] [--rounds 5] [--requests 200]
        [--concurrency 1]

What a change did to the CPU a request costs, measured in one run rather than read off two runs
of `bench.overhead` hours apart (on shared cores the same cell moves by a third between runs).
`REV` is checked out into a temporary git worktree and served from it (`PYTHONPATH`, with this
checkout's installed dependencies: a revision that needs others fails to start, and says so),
next to this checkout's attache and the bare handler of `bench.baselines`, all three against
one fake upstream at 0 ms, started afresh every round. Every round sends each server
`--requests` requests, `--concurrency` at a time, in turn (one at a time, in slices taken in
turn: `bench.overhead.in_turn`), the order reversed every other round; the table gives each
server's CPU ms per request (utime + stime, `/proc`) in every round, their median, and the
ratio to the bare handler's (one at a time: the median over pairs of slices sent one after the
other, `bench.overhead.Cell.ratio`). No timing here is asserted by a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.overhead import (
    MODES,
    REPO,
    Processes,
    Server,
    git_revision,
    header,
    rounds_in_turn,
    start_server,
)

# The package-dir mapping of pyproject.toml, rebuilt inside the throwaway worktree: `attache` is
# service/, and its three subpackages are folders beside it.
_BESIDE = ("schemas", "prompts", "evals")


@contextlib.contextmanager
def checkout(revision: str) -> Iterator[Path]:
    """A directory to put on `PYTHONPATH` to import attache as it was at `revision`."""
    with tempfile.TemporaryDirectory(prefix="bench-versus-") as tmp:
        tree = Path(tmp) / "tree"
        _git("worktree", "add", "--detach", str(tree), revision)
        try:
            for package in _BESIDE:
                (tree / "service" / package).symlink_to(tree / package)
            path = Path(tmp) / "path"
            path.mkdir()
            (path / "attache").symlink_to(tree / "service")
            yield path
        finally:
            _git("worktree", "remove", "--force", str(tree))


def _git(*args: str) -> None:
    subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, timeout=120)  # noqa: S603, S607


async def run(options: argparse.Namespace, argv: Sequence[str]) -> list[str]:
    with checkout(options.revision) as earlier:
        cells = await rounds_in_turn(
            lambda procs, fake: _servers(procs, fake, options, earlier),
            rounds=options.rounds,
            requests=options.requests,
            concurrency=options.concurrency,
        )
    bare = cells["bare"]
    out = header(argv, title="attache against an earlier revision", module="bench.versus")
    out += [
        f"- compared: {git_revision()} against {options.revision}; mode {options.mode}, "
        f"upstream 0 ms, {options.requests} requests {options.concurrency} at a time per round",
        "",
        "| server | CPU ms per request, each round | median | x bare |",
        "|---|---|---|---|",
    ]
    for name, cell in cells.items():
        rounds = ", ".join(f"{run.cpu_ms_per_request:.2f}" for run in cell.runs)
        out.append(f"| {name} | {rounds} | {cell.cpu:.2f} | {cell.ratio(bare):.2f} |")
    if options.concurrency == 1:
        out += ["", "x bare: the median over pairs of slices sent one after the other."]
    return out


async def _servers(
    procs: Processes, fake: Server, options: argparse.Namespace, earlier: Path
) -> dict[str, Server]:
    return {
        "attache (this checkout)": await start_server(
            procs, "attache", options.mode, fake, workers=1, name="now"
        ),
        f"attache at {options.revision}": await start_server(
            procs, "attache", options.mode, fake, workers=1, pythonpath=earlier, name="then"
        ),
        "bare": await start_server(procs, "bare", options.mode, fake),
    }


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("revision", help="The git revision to compare with (a commit, a tag).")
    parser.add_argument("--mode", default="tools", choices=MODES)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200, help="Requests per server a round.")
    parser.add_argument("--concurrency", type=int, default=1)
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print("\n".join(asyncio.run(run(options, argv))))


if __name__ == "__main__":
    main()
