"""The markdown report: what the metrics say, in table rows that stay rows."""

from __future__ import annotations

from typing import Any

from attache.evals import report
from attache.evals.fixtures import Fixture
from attache.evals.score import ArticleRun, Side, score
from attache.schemas import RecordType

# instructor's text for a call that failed on every attempt: XML of the attempts, each with
# pydantic's many-line dump, pipes and all.
INSTRUCTOR_DUMP = """invalid-model-output: <failed_attempts>
<generation number="1">
<exception>
    2 validation errors for ExtractionDraft
invitations.0.status
  Input should be 'extended' | 'accepted' | 'declined' [type=enum, input_value='maybe']
    For further information visit https://errors.pydantic.dev/2.14/v/enum
</exception>
<completion>
    ChatCompletion(id='chatcmpl-1', choices=[Choice(finish_reason='stop', index=0)])
</completion>
</generation>
</failed_attempts>
<last_exception>
    2 validation errors for ExtractionDraft
</last_exception>"""


def results(runs: list[ArticleRun]) -> dict[str, Any]:
    meta = {
        "model": "m", "mode": "tools", "prompt_version": "v1", "evaluated_revision": None,
        "recorded_at": "t0", "git_revision": None, "started_at": "t0", "finished_at": "t1",
        "fixtures": "f",
    }  # fmt: skip
    return {"meta": meta, "metrics": score(runs), "predictions": {}}


def test_an_error_is_one_clean_table_row(bop_fixture: Fixture, text: str) -> None:
    gold = Side(records=bop_fixture.gold.records, actors=bop_fixture.gold.actors)
    run = ArticleRun("art-1", text, gold, None, error=INSTRUCTOR_DUMP)
    lines = report.markdown(results([run])).splitlines()
    [row] = [line for line in lines if line.startswith("| art-1 |")]
    assert row.count("|") == 9  # eight cells
    assert "invalid-model-output: <failed_attempts> <generation" in row
    assert len(row) < 300
    assert not [line for line in lines if line.lstrip().startswith(("<", "For further"))]


def test_a_type_nobody_predicted_is_na_and_failed_articles_are_counted(
    bop_fixture: Fixture, text: str
) -> None:
    gold = Side(records=bop_fixture.gold.records, actors=bop_fixture.gold.actors)
    meetings = Side(
        records=[r for r in gold.records if r.record_type is RecordType.MEETING],
        actors=gold.actors,
    )
    runs = [
        ArticleRun("ok", text, gold, meetings),
        ArticleRun("failed", text, gold, None, error="upstream-timeout: no answer"),
    ]
    lines = report.markdown(results(runs)).splitlines()
    assert "| invitation | n/a | 0.000 | 0.000 | 0 | 0 | 4 |" in lines
    assert any(line.startswith("- Articles: 2 (1 failed; failed articles count as misses)")
               for line in lines)  # fmt: skip
    [failed] = [line for line in lines if line.startswith("| failed |")]
    assert failed.startswith("| failed | n/a | 0.000 | 0.000 |")
