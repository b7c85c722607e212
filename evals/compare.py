"""Compare two evaluation runs metric by metric, and gate on drops.

`attache eval compare BASELINE CANDIDATE [--threshold 0.02]` prints every metric's delta and
exits 8 when a gated metric of the candidate is lower than the baseline's by more than the
threshold (absolute, on a 0-1 scale), or has become n/a (a run that measured nothing must not
pass for one that did), so CI can refuse a prompt or model change. Two runs that scored
different articles are not compared (`different_articles`): their deltas would mix the change
with the sample.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attache.schemas.records import RECORD_KINDS

GATED = (
    "records.micro.f1",
    "records.macro_f1",
    "fields.relaxed.f1",
    "status_accuracy",
    "grounding_rate",
    "valid_output_rate",
)
REPORTED = (
    "records.micro.precision",
    "records.micro.recall",
    *GATED,
    "fields.strict.f1",
    *(f"records.by_type.{kind.type.value}.f1" for kind in RECORD_KINDS),
)


@dataclass(frozen=True)
class Row:
    metric: str
    baseline: float | None
    candidate: float | None
    gated: bool
    threshold: float

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.candidate is None:
            return None
        return self.candidate - self.baseline

    @property
    def failed(self) -> bool:
        if not self.gated:
            return False
        if self.candidate is None:
            return self.baseline is not None
        return self.delta is not None and self.delta < -self.threshold


def load_results(path: Path) -> dict[str, Any]:
    file = path / "results.json" if path.is_dir() else path
    results: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    return results


def different_articles(baseline: dict[str, Any], candidate: dict[str, Any]) -> str | None:
    """What sets the two runs' articles apart, or None when they scored the same ones."""
    before, after = (
        {row["article_id"] for row in run["metrics"].get("per_article", [])}
        for run in (baseline, candidate)
    )
    parts = []
    for side, only in (("baseline", sorted(before - after)), ("candidate", sorted(after - before))):
        if only:
            shown = ", ".join(only[:3]) + (", ..." if len(only) > 3 else "")
            parts.append(f"only the {side} scored {len(only)} ({shown})")
    return "; ".join(parts) or None


def compare(baseline: dict[str, Any], candidate: dict[str, Any], threshold: float) -> list[Row]:
    return [
        Row(
            metric,
            _get(baseline["metrics"], metric),
            _get(candidate["metrics"], metric),
            metric in GATED,
            threshold,
        )
        for metric in REPORTED
    ]


def table(rows: list[Row]) -> str:
    lines = ["| metric | baseline | candidate | delta | gate |", "|---|---|---|---|---|"]
    for row in rows:
        gate = "FAIL" if row.failed else ("ok" if row.gated else "")
        lines.append(
            f"| {row.metric} | {_fmt(row.baseline)} | {_fmt(row.candidate)} | "
            f"{_fmt(row.delta, signed=True)} | {gate} |"
        )
    return "\n".join(lines)


def _get(metrics: dict[str, Any], path: str) -> float | None:
    value: Any = metrics
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) else None


def _fmt(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.4f}" if signed else f"{value:.4f}"
