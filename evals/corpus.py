"""Where the harness's data is, and the one reader of article files.

The corpus (`corpus/articles.jsonl`, one article a line) and the labelled fixtures
(`fixtures/<article id>.json`) live in the repository beside this package, not in the installed
wheel. From a source checkout (an editable install links back to it) they are the defaults;
anywhere else, name your own with `--articles` and `--fixtures`.
"""

from __future__ import annotations

from pathlib import Path

from attache.schemas.fixtures import Article

__all__ = [
    "CORPUS",
    "FIXTURES",
    "RECORDINGS",
    "Article",
    "MissingDataError",
    "fixtures_folder",
    "read_articles",
    "read_texts",
]

# resolve(): an editable install runs this module through a link; the data is beside the target.
_HERE = Path(__file__).resolve().parent
CORPUS = _HERE / "corpus" / "articles.jsonl"
FIXTURES = _HERE / "fixtures"
RECORDINGS = _HERE / "recordings"
"""Real models' answers, recorded (`attache.evals.recording`); CI replays every one."""


class MissingDataError(FileNotFoundError):
    """An articles file or fixtures folder that is not there (a wheel install has neither)."""


def read_articles(path: Path = CORPUS) -> dict[str, Article]:
    """The articles of a JSONL file, by id; blank lines are skipped, ids must be unique."""
    if not path.is_file():
        raise MissingDataError(
            f"no articles file at {path}: the corpus ships with the repository, not the "
            "package; pass --articles FILE.jsonl"
        )
    articles: dict[str, Article] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            article = Article.model_validate_json(line)
            if article.id in articles:
                raise ValueError(f"{path}:{number}: article id {article.id!r} repeats")
            articles[article.id] = article
    return articles


def fixtures_folder(path: Path = FIXTURES) -> Path:
    if not path.is_dir():
        raise MissingDataError(
            f"no fixtures folder at {path}: fixtures ship with the repository, not the "
            "package; pass --fixtures DIR"
        )
    return path


def read_texts(path: Path = CORPUS) -> dict[str, str]:
    """Each article's text by id: what the fixture checks and the grounding suite need."""
    return {article_id: article.text for article_id, article in read_articles(path).items()}
