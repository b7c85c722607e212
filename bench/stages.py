"""What attache's own stages cost in the server: attache with stages switched off, beside it.

    .venv/bin/python -m bench.stages [--mode tools] [--rounds 4] [--requests 200]

`bench.overhead` puts attache next to a bare handler that makes the same model call and
validates the same draft. Most of what attache does beyond that is its own work: the
injection check (`suspect`), merging the records and grounding their quotes (`merge`),
normalizing them (`normalize`), and the evidence check inside the model call (`check`). This
starts, every round and afresh, the full service, one server for each set of stages in
`VARIANTS` switched off (`bench.without`), and the bare handler, against one fake upstream at
0 ms, and sends each the same requests one at a time, in slices taken in turn
(`bench.overhead.in_turn`). The server without all four shows what attache's plumbing costs
over the bare handler (Litestar, its middleware, instructor, the route); the difference between
the full service and a server without a stage, what that stage costs where it runs: in a
server, between the other processes' turns on the cores, which is two to three times what it
costs in a loop. A server without `merge` or `normalize` answers no records, so it also
encodes a smaller response: that is part of what those stages cost.

The ratio to the bare handler is the median over pairs of slices sent one after the other
(`bench.overhead.Cell.ratio`), with the quartiles of those pairs. No timing here is asserted by
a test.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from bench.overhead import (
    MODES,
    Cell,
    Processes,
    Server,
    header,
    rounds_in_turn,
    start_server,
)

# Each set switched off in a server of its own; the last, every stage attache adds.
VARIANTS: tuple[tuple[str, ...], ...] = (
    ("suspect",),
    ("normalize",),
    ("merge", "normalize"),
    ("check",),
    ("suspect", "merge", "normalize", "check"),
)


async def run(options: argparse.Namespace, argv: Sequence[str]) -> list[str]:
    cells = await rounds_in_turn(
        lambda procs, fake: _servers(procs, fake, options.mode),
        rounds=options.rounds,
        requests=options.requests,
        concurrency=1,
    )
    return _table(cells, options, argv)


async def _servers(procs: Processes, fake: Server, mode: str) -> dict[str, Server]:
    servers = {"attache": await start_server(procs, "attache", mode, fake, workers=1)}
    for stages in VARIANTS:
        label = "attache without " + ", ".join(stages)
        servers[label] = await start_server(
            procs, "attache", mode, fake, workers=1, name="-".join(stages), without=stages
        )
    servers["bare"] = await start_server(procs, "bare", mode, fake)
    return servers


def _table(cells: dict[str, Cell], options: argparse.Namespace, argv: Sequence[str]) -> list[str]:
    bare, full = cells["bare"], cells["attache"]
    out = header(argv, title="What attache's own stages cost", module="bench.stages")
    out += [
        f"- mode {options.mode}, upstream 0 ms, {options.requests} requests one at a time per "
        f"server and round, {options.rounds} rounds",
        "",
        "| server | CPU ms per request (median of rounds) | x bare | quartiles | "
        "the stages' share (x bare) |",
        "|---|---|---|---|---|",
    ]
    for name, cell in cells.items():
        pairs = sorted(cell.paired(bare))
        quartiles = f"{pairs[len(pairs) // 4]:.2f} to {pairs[3 * len(pairs) // 4]:.2f}"
        share = f"{full.ratio(bare) - cell.ratio(bare):.2f}" if name.startswith("attache ") else ""
        out.append(f"| {name} | {cell.cpu:.2f} | {cell.ratio(bare):.2f} | {quartiles} | {share} |")
    out += [
        "",
        "x bare: the median over pairs of slices sent one after the other; the stages' share: "
        "the full service's ratio less that server's.",
    ]
    return out


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--mode", default="tools", choices=MODES)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=200, help="Requests per server a round.")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print("\n".join(asyncio.run(run(options, argv))))


if __name__ == "__main__":
    main()
