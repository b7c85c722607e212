"""The README's Python example, run as a newcomer would: a script, a real socket, a fake model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from attache.evals.corpus import Article
from tests.fake_upstream import fake_upstream
from tests.fakes import MODEL, completion

README = Path(__file__).parents[1] / "README.md"


def python_example() -> str:
    section = README.read_text(encoding="utf-8").split("### Python\n", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None, "the README's Python section has no example"
    return found.group(1)


def test_the_readme_python_example_runs(
    tmp_path: Path, board_of_peace: Article, board_of_peace_answer: dict[str, Any]
) -> None:
    (tmp_path / "article.txt").write_text(board_of_peace.text, encoding="utf-8")
    with fake_upstream(lambda _body: completion(board_of_peace_answer)) as (base_url, received):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ATTACHE_")},
            "ATTACHE_BASE_URL": base_url,
            "ATTACHE_MODEL": MODEL,
        }
        done = subprocess.run(  # noqa: S603 - our own interpreter and the README's code
            [sys.executable, "-c", python_example()],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # types=["meeting"]: the one-call form printed only meetings, each with its first quote.
    assert lines[0].startswith("mtg-1 ")
    assert any(re.fullmatch(r"story-1 \d+ records", line) for line in lines)
    assert "story-2 failed: urn:attache:problem:empty-article" in " ".join(lines)
    assert lines[-1] == "1200 tokens"
    # Three model calls: extract, story-1, the sync extract; the blank story never left.
    assert len(received) == 3
