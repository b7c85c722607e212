"""The `attache` command: `serve` the HTTP API, or `extract` one article to stdout.

Both run the same pipeline as the HTTP API. `extract` prints the response JSON on success and
the same RFC 9457 problem the API would answer on stderr on failure, with these exit codes:

    0  records extracted (possibly none)
    1  unexpected internal error
    2  usage error (bad option or argument)
    3  bad input (empty, undecodable, too long, invalid request JSON)
    4  configuration: no model configured, or an invalid ATTACHE_* setting
    5  the model endpoint failed (unreachable, rate-limited, invalid or truncated output)
    6  the extraction deadline passed
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import IO, Any

import click
import uvicorn
from pydantic import ValidationError

from attache.app import create_app
from attache.errors import (
    AttacheError,
    DeadlineExceeded,
    InputError,
    InvalidEncoding,
    InvalidRequest,
    ModelNotConfigured,
    UpstreamError,
)
from attache.extractor import Extractor
from attache.observability import configure_logging
from attache.schemas import ExtractionRequest, ExtractionResponse, RecordType
from attache.settings import Settings

EXIT_INTERNAL = 1
EXIT_INPUT = 3
EXIT_CONFIG = 4
EXIT_UPSTREAM = 5
EXIT_DEADLINE = 6

_EXIT_CODES: list[tuple[type[AttacheError], int]] = [
    (InputError, EXIT_INPUT),
    (ModelNotConfigured, EXIT_CONFIG),
    (UpstreamError, EXIT_UPSTREAM),
    (DeadlineExceeded, EXIT_DEADLINE),
]


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        click.echo(f"attache: invalid configuration:\n{exc}", err=True)
        sys.exit(EXIT_CONFIG)


@click.group()
@click.version_option(package_name="attache")
def main() -> None:
    """Grounded invitations, meetings, declarations and funding asks from news articles."""


@main.command()
@click.option("--host", help="Bind address [default: ATTACHE_HOST or 127.0.0.1].")
@click.option("--port", type=int, help="Port [default: ATTACHE_PORT or 8000].")
def serve(host: str | None, port: int | None) -> None:
    """Run the HTTP API."""
    settings = _settings()
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,  # create_app set up JSON logging; uvicorn's own would replace it
    )


@main.command()
@click.argument("source", type=click.File("rb"))
@click.option("--request-json", is_flag=True, help="SOURCE is a JSON extraction request.")
@click.option("--id", "article_id", help="Article id, echoed in the output.")
@click.option("--url", help="Article URL.")
@click.option("--published-at", help="Publication date or time, ISO 8601.")
@click.option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice([t.value for t in RecordType]),
    help="Record type to extract; repeat for several [default: all].",
)
@click.option("--indent", type=int, default=2, show_default=True, help="JSON indent; 0: one line.")
def extract(
    source: IO[bytes],
    request_json: bool,
    article_id: str | None,
    url: str | None,
    published_at: str | None,
    types: tuple[str, ...],
    indent: int,
) -> None:
    """Extract records from the article in SOURCE (a file, or - for stdin)."""
    settings = _settings()
    configure_logging(settings)
    # stderr of `extract` is for the problem: routine INFO lines stay off it.
    for handler in logging.getLogger().handlers:
        handler.setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    try:
        request = _read_request(source.read(), request_json, article_id, url, published_at, types)
        response = asyncio.run(_extract(settings, request))
    except AttacheError as exc:
        click.echo(json.dumps(exc.as_problem(), indent=indent or None), err=True)
        sys.exit(next((code for cls, code in _EXIT_CODES if isinstance(exc, cls)), EXIT_INTERNAL))
    click.echo(response.model_dump_json(indent=indent or None))


def _register_eval() -> None:
    # The evaluation commands live with the harness (evals/), which builds on this package.
    from attache.evals.cli import eval_group  # noqa: PLC0415 - evals imports service: import late

    main.add_command(eval_group)


_register_eval()


def _read_request(
    raw: bytes,
    request_json: bool,
    article_id: str | None,
    url: str | None,
    published_at: str | None,
    types: tuple[str, ...],
) -> ExtractionRequest:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEncoding(f"the input is not valid UTF-8 (byte {exc.start})") from exc
    fields: dict[str, Any] = {"id": article_id, "url": url, "published_at": published_at}
    if types:
        fields["types"] = types
    try:
        if request_json:
            return ExtractionRequest.model_validate_json(text)
        return ExtractionRequest.model_validate(
            {"text": text, **{k: v for k, v in fields.items() if v is not None}}
        )
    except ValidationError as exc:
        raise InvalidRequest(f"invalid request: {exc}") from exc


async def _extract(settings: Settings, request: ExtractionRequest) -> ExtractionResponse:
    async with Extractor.open(settings) as extractor:
        return await extractor.extract(request)
