"""Versioned prompt templates.

A version is a pair of files under `prompts/extraction/`: `<version>.system.md` and
`<version>.user.md`. Templates are never edited once released; a change is a new version, so
every response's `prompt_version` names exactly the text the model saw.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

LATEST = "v1"


class UnknownPromptVersionError(ValueError):
    pass


@dataclass(frozen=True)
class Prompt:
    version: str
    system: str
    user_template: Template

    @property
    def label(self) -> str:
        return f"extraction/{self.version}"

    def user_message(self, article: str, *, published_at: str | None, types: list[str]) -> str:
        return self.user_template.substitute(
            types=", ".join(types),
            published_at=published_at or "unknown",
            fence=fence_for(article),
            article=article,
        )


def fence_for(article: str) -> str:
    # The tag is derived from the article itself, so the article cannot contain its own closing
    # fence in advance, yet the same article always yields the same prompt (replays match).
    tag = hashlib.sha256(article.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"<<<ARTICLE {tag}>>>"


@cache
def load(version: str = LATEST) -> Prompt:
    folder = resources.files(__package__).joinpath("extraction")
    system = folder.joinpath(f"{version}.system.md")
    user = folder.joinpath(f"{version}.user.md")
    if not (system.is_file() and user.is_file()):
        raise UnknownPromptVersionError(f"no prompt version {version!r}")
    return Prompt(
        version=version,
        system=system.read_text(encoding="utf-8"),
        user_template=Template(user.read_text(encoding="utf-8")),
    )
