"""One import package, `attache`, that loads what a command needs and nothing of the harness."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import attache

REPO = Path(__file__).parents[2]


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("name", ["service", "schemas", "prompts", "evals"])
def test_outside_the_repository_only_attache_imports(name: str, tmp_path: Path) -> None:
    assert run_python(f"import {name}", tmp_path).returncode != 0
    done = run_python("import attache; print(len(attache.__all__))", tmp_path)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len(attache.__all__)


def test_every_public_name_resolves_and_type_checkers_see_the_same_names() -> None:
    tree = ast.parse(Path(attache.__file__).read_text(encoding="utf-8"))
    [guarded] = [
        n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
    ]
    static = {
        alias.name
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert static == set(attache.__all__) - {"__version__"}
    for name in attache.__all__:
        assert getattr(attache, name) is not None, name
    assert attache.Extractor.__module__ == "attache.extractor"
    assert issubclass(attache.UpstreamTimeout, attache.UpstreamError)


def test_the_wheel_carries_one_package_and_no_data(tmp_path: Path) -> None:
    subprocess.run(  # noqa: S603 - pip from our own interpreter
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("attache-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {
        "attache",
        wheel.name.split("-py")[0] + ".dist-info",
    }
    assert not [n for n in names if "/corpus/" in n or "/fixtures/" in n or n.endswith(".jsonl")]
    assert "attache/py.typed" in names
    assert "attache/prompts/extraction/v1.system.md" in names
    # The review page's templates and static files (htmx among them: no CDN).
    assert "attache/review/templates/article.html" in names
    assert "attache/review/static/htmx-2.0.11.min.js" in names
    metadata = next(zipfile.Path(wheel, n).read_text() for n in names if n.endswith("METADATA"))
    [scipy] = [r for r in metadata.splitlines() if r.startswith("Requires-Dist: scipy<")]
    assert 'extra == "evals"' in scipy


SERVICE_USE = """
import sys
from attache import Settings, create_app, extract, Extractor
from attache.cli import main
create_app(Settings(model="m", base_url="http://127.0.0.1:9/v1"))
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"scipy", "tqdm"}
                or m.startswith("attache.evals"))
print(loaded)
"""

HELP = """
import sys
from attache.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
heavy = {"openai", "instructor", "litestar", "uvicorn", "scipy", "attache.evals"}
print(sorted(m for m in sys.modules if m in heavy))
"""


def test_the_service_never_loads_the_eval_harness(tmp_path: Path) -> None:
    done = run_python(SERVICE_USE, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_help_loads_no_heavy_module(tmp_path: Path) -> None:
    done = run_python(HELP, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "eval " in done.stdout  # the lazily loaded group is listed with its help
    assert done.stdout.strip().splitlines()[-1] == "[]"
