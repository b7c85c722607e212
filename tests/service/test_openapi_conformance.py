"""schemathesis against the service's own OpenAPI document, over a real socket.

Every operation is called with generated requests, valid and invalid, and every check runs,
`positive_data_acceptance` included: the schema states what the service refuses (visible text
without control characters, publication years 1800-2200), so a schema-valid request must be
accepted. Each answer must be documented for its operation, match the schema it claims, reject
what the schema forbids, and never be a 5xx: the fake upstream answers every model call with
an empty extraction, so no upstream mapping applies.

(The schemathesis command line runs it: its pytest plugin does not work with pytest 9.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from attache.app import create_app
from attache.settings import ServerSettings, Settings
from tests.fake_upstream import fake_upstream, serve
from tests.fakes import EMPTY_ANSWER, completion

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
REPO = str(Path(__file__).parents[2])


@pytest.fixture(scope="module")
def attache_url() -> Iterator[str]:
    with fake_upstream(lambda _body: completion(EMPTY_ANSWER)) as (base_url, _received):
        app = create_app(
            Settings(
                _env_file=None,
                base_url=base_url,
                model="fake-model",
                upstream_retries=0,
                max_article_chars=20_000,
            ),
            ServerSettings(_env_file=None, max_body_bytes=100_000, log_level="WARNING"),
        )
        with serve(app) as url:
            yield url


BATCH = "/v1/extractions/batch"
# The batch route's body is NDJSON text: a JSON value that is "not a string" goes over the wire
# as the same bytes as the string of its text, so schemathesis's negative cases for it cannot
# be told from valid ones; each line's validity is answered on its own line, in a 200. Every
# other check runs on it.
RUNS = {
    "single": ["--checks=all", f"--exclude-path={BATCH}"],
    "batch": [
        "--checks=all",
        "--exclude-checks=negative_data_rejection",
        f"--include-path={BATCH}",
    ],
}


@pytest.mark.parametrize("seed", [11, 12])
@pytest.mark.parametrize("run", sorted(RUNS))
def test_every_answer_is_documented_and_conforms(attache_url: str, seed: int, run: str) -> None:
    done = subprocess.run(  # noqa: S603 - our own tool, fixed arguments
        [
            str(SCHEMATHESIS),
            "run",
            f"{attache_url}/schema/openapi.json",
            *RUNS[run],
            "--max-examples=100",
            f"--seed={seed}",
            "--request-timeout=30",
            "--generation-database=none",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks", "PYTHONPATH": REPO},
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
