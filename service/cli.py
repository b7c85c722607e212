"""The `attache` command: `serve` the HTTP API, `extract` one article, `batch` many (resumable,
`attache.batch`), `eval` (with the evals extra) to score a model on labelled fixtures.

`extract` prints the response JSON on success, and on failure the same RFC 9457 problem the API
would answer, on stderr. Every command exits with the codes of `attache.errors.ExitCode`:

    0  success                    6  the extraction deadline passed
    1  unexpected internal error  7  eval run, batch: some articles failed
    2  usage error                8  eval compare: a gated metric dropped
    3  bad input                  9  eval run --replay: the recording does not fit
    4  configuration              10 eval validate: invalid fixtures
    5  the model endpoint failed; eval run: stopped, the endpoint unreachable
    130 batch: interrupted (Ctrl-C, SIGTERM); rerun to finish

The command reads settings from `ATTACHE_*` variables and a `.env` file in the working
directory. Heavy modules (the HTTP stack, the openai SDK, the eval harness) load only in the
command that needs them, so `attache --help` answers at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click
from pydantic import ValidationError

from attache.errors import (
    AttacheError,
    ExitCode,
    InvalidEncoding,
    InvalidRequest,
    ModelNotConfigured,
    exit_code_for,
    field_reasons,
)
from attache.schemas import ExtractionRequest, RecordType
from attache.settings import ServerSettings, Settings

if TYPE_CHECKING:
    from attache.batch import Output, Summary

S = TypeVar("S", Settings, ServerSettings)


def load_settings(cls: type[S], **values: Any) -> S:
    """`cls` from the environment and `.env`, or exit 4 with the reason."""
    try:
        return cls.from_env_file(**values)
    except ValidationError as exc:
        click.echo(f"attache: invalid configuration:\n{exc}", err=True)
        sys.exit(ExitCode.CONFIG)


class LazyGroup(click.Group):
    """A group whose `lazy` commands are imported only when run (their help text is given)."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy  # name -> ("module:attribute", short help)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        target, _ = self.lazy[cmd_name]
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            click.echo(
                f"attache {cmd_name}: {exc}; install the extra: pip install 'attache[evals]'",
                err=True,
            )
            ctx.exit(ExitCode.CONFIG)
        command: click.Command = getattr(module, attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        helps = {name: command.get_short_help_str() for name, command in self.commands.items()}
        helps.update({name: short_help for name, (_, short_help) in self.lazy.items()})
        rows = [(name, helps[name]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy={"eval": ("attache.evals.cli:eval_group", "Evaluate extraction on labelled fixtures.")},
)
@click.version_option(package_name="attache")
def main() -> None:
    """Grounded invitations, meetings, declarations and funding asks from news articles."""


@main.command()
@click.option("--host", help="Bind address [default: ATTACHE_HOST or 127.0.0.1].")
@click.option("--port", type=int, help="Port [default: ATTACHE_PORT or 8000].")
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    help="Processes serving the port [default: ATTACHE_WORKERS or the CPU count].",
)
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the HTTP API."""
    import uvicorn  # noqa: PLC0415 - the HTTP stack loads only to serve

    from attache.app import create_app  # noqa: PLC0415

    settings = load_settings(Settings)
    # The flags are settings too: --host 0.0.0.0 with no keys must fail as the variable would.
    flags = {
        name: value
        for name, value in (("host", host), ("port", port), ("workers", workers))
        if value
    }
    server = load_settings(ServerSettings, **flags)
    processes = server.workers or os.cpu_count() or 1
    if processes == 1:
        app: Any = create_app(settings, server)
    else:
        # Each worker process builds its own app from the same environment, flags included.
        os.environ.update({f"ATTACHE_{k.upper()}": str(v) for k, v in flags.items()})
        if server.session_secret is None and not server.api_keys:
            # The review page's CSRF tokens must verify in whichever worker a form reaches.
            os.environ["ATTACHE_SESSION_SECRET"] = secrets.token_urlsafe(32)
        app = "attache.app:app_from_environment"
    uvicorn.run(
        app,
        factory=processes > 1,
        workers=processes,
        host=server.host,
        port=server.port,
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
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "ninjs", "jsonld"]),
    default="json",
    show_default=True,
    help="attache's JSON, IPTC ninjs 3.1 event items, or schema.org JSON-LD.",
)
def extract(
    source: IO[bytes],
    request_json: bool,
    article_id: str | None,
    url: str | None,
    published_at: str | None,
    types: tuple[str, ...],
    indent: int,
    output_format: str,
) -> None:
    """Extract records from the article in SOURCE (a file, or - for stdin)."""
    from attache.extractor import Extractor  # noqa: PLC0415 - the openai SDK is slow to import
    from attache.observability import configure_logging  # noqa: PLC0415

    settings = load_settings(Settings)
    server = load_settings(ServerSettings)
    configure_logging(server)
    # stderr of `extract` is the problem JSON, which a caller parses: log lines stay off it
    # unless something is broken (ERROR).
    for handler in logging.getLogger().handlers:
        handler.setLevel(max(logging.ERROR, logging.getLevelName(server.log_level)))

    async def run(request: ExtractionRequest) -> str:
        from attache import formats  # noqa: PLC0415

        async with Extractor.open(settings) as extractor:
            response = await extractor.extract(request)
        if output_format == "ninjs":
            return json.dumps(formats.to_ninjs(response, request), indent=indent or None)
        if output_format == "jsonld":
            return json.dumps(formats.to_jsonld(response, request), indent=indent or None)
        return response.model_dump_json(indent=indent or None)

    try:
        request = _read_request(source.read(), request_json, article_id, url, published_at, types)
        click.echo(asyncio.run(run(request)))
    except AttacheError as exc:
        click.echo(json.dumps(exc.as_problem(), indent=indent or None), err=True)
        sys.exit(exit_code_for(exc))


@main.command()
@click.argument("source", type=click.File("rb"), default="-")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="JSONL file to write; a rerun resumes it [default: stdout, not resumable].",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=4,
    show_default=True,
    help="Articles in flight at once.",
)
@click.option(
    "--allow-failures",
    is_flag=True,
    help="Exit 0 even when the output holds problem lines.",
)
@click.option(
    "--refresh",
    is_flag=True,
    help="Ask the model even where the result cache holds an answer (and keep the new one).",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Remove OUTPUT's problem lines first, and do their articles again.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr [default: when stderr is a terminal].",
)
def batch(
    source: IO[bytes],
    output: Path | None,
    concurrency: int,
    allow_failures: bool,
    refresh: bool,
    retry_failed: bool,
    progress: bool | None,
) -> None:
    """Extract every article of SOURCE, a JSONL file of requests with ids (- for stdin).

    One output line per input line, {id, line, response} or {id, line, problem}. Rerun the same
    command to finish an interrupted run: ids already in OUTPUT are skipped.
    """
    from attache.batch import run_batch  # noqa: PLC0415 - the openai SDK is slow to import
    from attache.observability import configure_logging  # noqa: PLC0415

    settings = load_settings(Settings)
    configure_logging(load_settings(ServerSettings))
    if not settings.model_configured:
        click.echo(f"attache batch: {ModelNotConfigured.title}: set ATTACHE_MODEL", err=True)
        sys.exit(ExitCode.CONFIG)
    try:
        with _batch_output(output, retry_failed=retry_failed) as out:
            summary = asyncio.run(
                _run_batch(run_batch, settings, source, out, concurrency, progress, refresh=refresh)
            )
    except AttacheError as exc:
        click.echo(f"attache batch: {exc.detail}", err=True)
        sys.exit(exit_code_for(exc))
    click.echo(f"attache batch: {summary.describe()}", err=True)
    if summary.interrupted:
        sys.exit(ExitCode.INTERRUPTED)
    if summary.problems_in_output and not allow_failures:
        sys.exit(ExitCode.ARTICLES_FAILED)


@contextlib.contextmanager
def _batch_output(path: Path | None, *, retry_failed: bool) -> Iterator[Output]:
    from attache.batch import Output  # noqa: PLC0415

    if path is None:
        yield Output(sys.stdout.buffer)
        return
    with Output.resume(path, retry_failed=retry_failed) as out:
        yield out


async def _run_batch(
    run_batch: Callable[..., Awaitable[Summary]],
    settings: Settings,
    source: IO[bytes],
    out: Output,
    concurrency: int,
    progress: bool | None,
    *,
    refresh: bool,
) -> Summary:
    from tqdm import tqdm  # noqa: PLC0415

    from attache.batch import stop_on_signals  # noqa: PLC0415
    from attache.extractor import Extractor  # noqa: PLC0415

    bar = tqdm(
        total=_count_lines(source),
        unit="art",
        desc="articles",
        disable=None if progress is None else not progress,
        file=sys.stderr,
    )
    tokens = 0

    def advance(entry: dict[str, Any]) -> None:
        nonlocal tokens
        tokens += entry.get("response", {}).get("usage", {}).get("total_tokens", 0)
        bar.update()
        bar.set_postfix(tokens=tokens, refresh=False)

    stop = asyncio.Event()
    try:
        with stop_on_signals(stop):
            async with Extractor.open(settings) as extractor:
                summary: Summary = await run_batch(
                    extractor,
                    source,
                    out,
                    concurrency=concurrency,
                    on_entry=advance,
                    stop=stop,
                    refresh=refresh,
                )
    finally:
        bar.close()
    return summary


def _count_lines(source: IO[bytes]) -> int | None:
    """How many lines a regular file holds (for the bar's ETA); None for a pipe."""
    if not source.seekable():
        return None
    count = sum(chunk.count(b"\n") for chunk in iter(lambda: source.read(1 << 20), b""))
    source.seek(0)
    return count


@main.group("provider-batch")
def provider_batch() -> None:
    """Backfills through the provider's batch API (OpenAI Batch; the file runs with vLLM's
    run-batch too): prepare, submit, status, collect."""


@provider_batch.command("prepare")
@click.argument("source", type=click.File("rb"), default="-")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def provider_batch_prepare(source: IO[bytes], output: Path) -> None:
    """Write the Batch file of the requests in SOURCE (JSONL with ids), and OUTPUT.meta.jsonl."""
    from attache.batch import parse_line  # noqa: PLC0415
    from attache.provider_batch import prepare  # noqa: PLC0415

    settings = _model_settings("provider-batch")
    items = [parse_line(n, raw) for n, raw in enumerate(source, start=1) if raw.strip()]
    lines = asyncio.run(prepare(items, settings, output))
    click.echo(f"attache provider-batch: {lines} call(s) for {len(items)} article(s) in {output}")


@provider_batch.command("submit")
@click.argument("batch_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def provider_batch_submit(batch_file: Path) -> None:
    """Upload BATCH_FILE and start its batch; prints the batch id."""
    from attache.provider_batch import submit  # noqa: PLC0415

    settings = _model_settings("provider-batch")

    async def go() -> str:
        async with _openai(settings) as client:
            return await submit(client, batch_file)

    click.echo(asyncio.run(go()))


@provider_batch.command("status")
@click.argument("batch_id")
@click.option("--wait", is_flag=True, help="Poll until the batch has finished.")
@click.option("--every", type=float, default=30.0, show_default=True, help="Seconds between polls.")
def provider_batch_status(batch_id: str, wait: bool, every: float) -> None:
    """Print the batch's status and request counts."""
    from attache.provider_batch import wait as poll  # noqa: PLC0415

    settings = _model_settings("provider-batch")

    async def go() -> Any:
        async with _openai(settings) as client:
            return await poll(client, batch_id, every_s=every, once=not wait)

    batch = asyncio.run(go())
    counts = batch.request_counts
    done = f"{counts.completed}/{counts.total} done, {counts.failed} failed" if counts else ""
    click.echo(f"{batch.id}: {batch.status} {done}".rstrip())


@provider_batch.command("collect")
@click.argument("batch_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch", "batch_id", help="The batch's id: its results are read from the API.")
@click.option(
    "--results",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A local results file instead (vllm run-batch's output).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--allow-failures", is_flag=True, help="Exit 0 even when some articles failed.")
def provider_batch_collect(
    batch_file: Path,
    batch_id: str | None,
    results: Path | None,
    output: Path,
    allow_failures: bool,
) -> None:
    """Validate, ground and normalize every answer of a finished batch into OUTPUT (JSONL)."""
    from attache.provider_batch import collect, failures, results_of, wait  # noqa: PLC0415

    if (batch_id is None) == (results is None):
        raise click.UsageError("give one of --batch and --results")
    settings = _model_settings("provider-batch")

    local = (
        [json.loads(raw) for raw in results.read_text().splitlines() if raw.strip()]
        if results is not None
        else None
    )

    async def go() -> list[dict[str, Any]]:
        lines = local
        if lines is None:
            assert batch_id is not None  # noqa: S101 - checked above
            async with _openai(settings) as client:
                lines = await results_of(client, await wait(client, batch_id, once=True))
        return await collect(batch_file, lines, settings)

    entries = asyncio.run(go())
    with output.open("w", encoding="utf-8") as out:
        for entry in entries:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
    failed = failures(entries)
    for article_id, problem in failed:
        click.echo(f"attache provider-batch: {article_id}: {problem}", err=True)
    click.echo(
        f"attache provider-batch: {len(entries) - len(failed)} article(s) answered, "
        f"{len(failed)} failed; {output}",
        err=True,
    )
    if failed and not allow_failures:
        sys.exit(ExitCode.ARTICLES_FAILED)


def _model_settings(command: str) -> Settings:
    settings = load_settings(Settings)
    if not settings.model_configured:
        click.echo(f"attache {command}: {ModelNotConfigured.title}: set ATTACHE_MODEL", err=True)
        sys.exit(ExitCode.CONFIG)
    return settings


@contextlib.asynccontextmanager
async def _openai(settings: Settings) -> AsyncIterator[Any]:
    import openai  # noqa: PLC0415

    client = openai.AsyncOpenAI(
        base_url=str(settings.base_url) if settings.base_url else None,
        api_key=settings.api_key.get_secret_value() if settings.api_key else "unused",
        max_retries=settings.upstream_retries,
    )
    try:
        yield client
    finally:
        await client.close()


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
        raise InvalidRequest(f"invalid request: {field_reasons(exc)}") from exc
