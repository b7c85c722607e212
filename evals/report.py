"""Readable reports of a run: a markdown summary and an HTML page of every article.

The HTML page shows each article twice, side by side: gold evidence highlighted on the left,
predicted evidence on the right, colored by record type, each mark titled with its record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from attache.evals.corpus import Article
from attache.evals.fixtures import Fixture
from attache.schemas.records import RECORD_KINDS

_ENV = Environment(
    loader=PackageLoader("attache.evals", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["rate"] = lambda value: _num(value)  # noqa: PLW0108 - _num is defined below
TYPES = tuple(kind.field for kind in RECORD_KINDS)
# Highlight colours, one per record type in RECORD_KINDS order.
_PALETTE = ("#cfe8ff", "#d8f5cf", "#ffe9b3", "#f5d0f0")
_KINDS = [
    {"field": kind.field, "label": kind.type.value.replace("_", " "), "colour": colour}
    for kind, colour in zip(RECORD_KINDS, _PALETTE, strict=True)
]


_REASKS = (
    "{total} in {articles} article(s); {rescued} of those articles ended with an answer valid as "
    "a whole"
)
_UNGROUNDED = (
    "{records} record(s) whole; {records_losing_quotes} record(s) kept without some of their quotes"
)
_SALVAGED = "{articles} article(s), {records_lost} record(s) left out"


def _told(counts: dict[str, int] | None, template: str) -> str:
    """`template` filled with a metric's counts; n/a for a run that did not count them."""
    return "n/a" if counts is None else template.format(**counts)


def markdown(results: dict[str, Any]) -> str:
    meta, m = results["meta"], results["metrics"]
    lines = [f"# Evaluation: {meta['model']} ({meta['mode']}), prompt {meta['prompt_version']}", ""]
    if meta.get("synthetic"):
        lines += [
            "> **SYNTHETIC.** These answers were written to test the harness, not produced by a "
            "model. Nothing here measures extraction quality.",
            "",
        ]
    skipped = m.get("not_attempted", 0)
    if meta.get("stopped"):
        lines += [
            f"> **STOPPED EARLY**: {meta['stopped']}; {skipped} article(s) were not attempted. "
            "They count as failed, their gold records as misses.",
            "",
        ]
    lines += [
        f"- Evaluated revision: `{meta['evaluated_revision']}`; answers recorded "
        f"{meta['recorded_at']} at revision `{meta['git_revision']}`",
        f"- Run: {meta['started_at']} to {meta['finished_at']}; fixtures `{meta['fixtures']}`",
        f"- Articles: {m['articles']} ({m['failed_articles']} failed"
        f"{f', {skipped} of them not attempted' if skipped else ''}; failed articles count as "
        f"misses); suite: {meta.get('suite', 'fixtures')}",
        "",
        "## Records",
        "",
        "| type | precision | recall | F1 | tp | fp | fn |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in [*m["records"]["by_type"].items(), ("**micro**", m["records"]["micro"])]:
        lines.append(
            f"| {name} | {_num(row['precision'])} | {_num(row['recall'])} | {_num(row['f1'])} | "
            f"{row['tp']} | {row['fp']} | {row['fn']} |"
        )
    lines += [
        f"| **macro F1** | | | {_num(m['records']['macro_f1'])} | | | |",
        "",
        "## Fields",
        "",
        "| agreement, type | precision | recall | F1 |",
        "|---|---|---|---|",
    ]
    by_type = m["fields"].get("by_type", {})
    for name in ("strict", "relaxed"):
        for label, row in [*((t, r[name]) for t, r in by_type.items()), ("all", m["fields"][name])]:
            lines.append(
                f"| {name}, {label} | {_num(row['precision'])} | {_num(row['recall'])} | "
                f"{_num(row['f1'])} |"
            )
    lines += [
        "",
        f"- Status accuracy on matched records: {_num(m['status_accuracy'])}",
        f"- Grounding rate (predicted evidence aligned to the article): "
        f"{_num(m['grounding_rate'])}; by alignment: "
        f"{_counts(m.get('evidence_by_alignment'))}",
        "- Dropped for quotes not in the article: "
        f"{_told(m.get('dropped_ungrounded'), _UNGROUNDED)}",
        f"- Valid-output rate (attempted articles whose answer validated as a whole): "
        f"{_num(m.get('valid_output_rate'))}",
        f"- Kept in part (the last answer failed; the records that validate were kept): "
        f"{_told(m.get('salvaged'), _SALVAGED)}",
        f"- Invalid-output rate (attempted articles with no usable answer from the model): "
        f"{_num(m.get('invalid_output_rate'))}",
        f"- Re-asks: {_told(m.get('reasks'), _REASKS)}",
        f"- Tokens, all articles (failed ones included): {m.get('tokens_total', 'n/a')}",
        f"- Tokens per article: {_spread(m['tokens_per_article'])}",
        f"- Latency per article (ms): {_spread(m['latency_ms_per_article'])}",
        *(
            [f"- Records grounded only in an injected paragraph: {m['injection_hits']}"]
            if "injection_hits" in m
            else []
        ),
        "",
        "## Type confusion (rows gold, columns predicted)",
        "",
    ]
    columns = [*(kind.type.value for kind in RECORD_KINDS), "missed"]
    lines += ["| gold \\ predicted | " + " | ".join(columns) + " |", "|---" * 6 + "|"]
    for row_name in [*columns[:-1], "spurious"]:
        row = m["type_confusion"].get(row_name, {})
        lines.append(f"| {row_name} | " + " | ".join(str(row.get(c, 0)) for c in columns) + " |")
    lines += ["", "## Articles", "", "| article | P | R | F1 | fields F1 | tokens | ms | error |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in m["per_article"]:
        r = row["records"]
        lines.append(
            f"| {row['article_id']} | {_num(r['precision'])} | {_num(r['recall'])} | "
            f"{_num(r['f1'])} | {_num(row['fields_relaxed_f1'])} | {row['tokens']} | "
            f"{row['latency_ms']:.0f} | {_cell(row['error'])} |"
        )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Piece:
    text: str
    marks: tuple[str, ...]  # "<type> <record id>" of every record whose evidence covers it


def highlight(text: str, spans: Sequence[tuple[int, int, str]]) -> list[Piece]:
    """Cut `text` at every span boundary; each piece knows which spans cover it."""
    cuts = sorted({0, len(text), *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    pieces = []
    for start, end in pairwise(cuts):
        marks = tuple(label for s, e, label in spans if s <= start and end <= e)
        pieces.append(Piece(text[start:end], marks))
    return pieces


def html(
    results: dict[str, Any], fixtures: Sequence[Fixture], articles: Mapping[str, Article]
) -> str:
    pages = []
    for fixture in fixtures:
        text = articles[fixture.article_id].text
        gold = fixture.gold.model_dump(mode="json")
        predicted = results["predictions"].get(fixture.article_id, {})
        pages.append(
            {
                "id": fixture.article_id,
                "notes": fixture.notes,
                "gold": highlight(text, _spans(gold)),
                "predicted": highlight(text, _spans(predicted)),
                "gold_records": _records(gold),
                "predicted_records": _records(predicted),
                "error": predicted.get("error"),
            }
        )
    return _ENV.get_template("report.html.j2").render(
        meta=results["meta"], metrics=results["metrics"], pages=pages, kinds=_KINDS
    )


def _spans(side: dict[str, Any]) -> list[tuple[int, int, str]]:
    spans = []
    for kind in TYPES:
        for record in side.get(kind, []):
            for evidence in record["evidence"]:
                if evidence["start"] is not None:
                    spans.append((evidence["start"], evidence["end"], f"{kind} {record['id']}"))
    return spans


def _records(side: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"id": record["id"], "kind": kind, "status": str(record.get("status", record.get("kind")))}
        for kind in TYPES
        for record in side.get(kind, [])
    ]


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _spread(value: dict[str, float] | None) -> str:
    return "n/a" if value is None else ", ".join(f"{k} {v}" for k, v in value.items())


def _cell(error: str | None, limit: int = 200) -> str:
    """An error as one clean table cell: one line, no pipes, cut at a word."""
    if not error:
        return ""
    flat = " ".join(error.split()).replace("|", "/")
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + " ..."


def _counts(counts: dict[str, int] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) if counts else "n/a"
