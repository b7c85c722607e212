from __future__ import annotations

import re
from pathlib import Path

from attache.errors import AttacheError


def test_every_error_is_in_the_error_docs() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "errors.md").read_text()
    documented = set(re.findall(r"^\| `([a-z-]+)` \| (\d{3}) \|", docs, re.M))
    for cls in _subclasses(AttacheError):
        assert (cls.slug, str(cls.status)) in documented, cls.__name__


def _subclasses(cls: type[AttacheError]) -> list[type[AttacheError]]:
    found = list(cls.__subclasses__())
    for sub in cls.__subclasses__():
        found += _subclasses(sub)
    return found
