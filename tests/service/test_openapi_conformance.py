"""schemathesis against the service's own OpenAPI document, over a real socket.

Every operation is called with generated requests, valid and invalid, and every check runs but
`positive_data_acceptance`: on purpose, some schema-valid bodies are refused with a documented
problem the schema cannot express (blank or control-character text, a token budget, a
publication year outside 1800-2200). So each answer must be documented for its operation,
match the schema it claims, reject what the schema forbids, and never be a 5xx: the fake
upstream answers every model call with an empty extraction, so no upstream mapping applies.

(The schemathesis command line runs it: its pytest plugin does not work with pytest 9.)
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from attache.app import create_app
from attache.settings import ServerSettings, Settings
from tests.fake_upstream import fake_upstream, free_port
from tests.fakes import EMPTY_ANSWER, completion

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
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
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "attache did not start"
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@pytest.mark.parametrize("seed", [11, 12])
def test_every_answer_is_documented_and_conforms(served: str, seed: int) -> None:
    done = subprocess.run(  # noqa: S603 - our own tool, fixed arguments
        [
            str(SCHEMATHESIS),
            "run",
            f"{served}/schema/openapi.json",
            "--checks=all",
            "--exclude-checks=positive_data_acceptance",
            "--max-examples=100",
            f"--seed={seed}",
            "--request-timeout=30",
            "--generation-database=none",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
