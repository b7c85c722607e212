"""`attache serve` with some of attache's own stages switched off, for `bench.stages` only.

    python -m bench.without suspect,merge [serve options]

Each stage named is replaced, in this process, before the app is built:

- `suspect`: the injection check finds no passage;
- `merge`: no record survives merging (so none is normalized, and the response has none);
- `normalize`: the merged records are not normalized (the response has none);
- `check`: the evidence check inside the model call looks no quote up (merge then does, once).

The answers of such a server are not the service's: they exist to be measured.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from attache import extractor
from attache.cli import main as cli
from attache.pipeline import ground
from attache.pipeline.merge import Merged
from attache.pipeline.normalize.records import Normalized

STAGES: dict[str, tuple[Any, str, Callable[..., Any]]] = {
    "suspect": (extractor, "suspect", lambda _text: []),
    "merge": (extractor, "merge", lambda *_args, **_kwargs: Merged(drafts=[], warnings=[])),
    "normalize": (extractor, "normalize", lambda *_args: Normalized(records=[], actors=[])),
    "check": (ground.ReaskUnaligned, "__call__", lambda _self, _quotes: []),
}


def switch_off(stages: list[str]) -> None:
    for stage in stages:
        owner, name, stub = STAGES[stage]
        setattr(owner, name, stub)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or any(stage not in STAGES for stage in args[0].split(",")):
        sys.exit(f"usage: python -m bench.without STAGE[,STAGE...] [serve options]; {set(STAGES)}")
    switch_off(args[0].split(","))
    cli(["serve", *args[1:]])


if __name__ == "__main__":
    main()
