"""The Python API for code without an event loop: plain scripts, and notebooks (whose loop is
busy running the notebook, so `asyncio.run` fails there).

    with SyncExtractor(settings) as extractor:
        response = extractor.extract(request)

The extractor and its HTTP client live on an event loop in a worker thread, through anyio's
blocking portal; calls block the calling thread until the answer is there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from contextlib import ExitStack
from types import TracebackType
from typing import Self

from anyio.from_thread import BlockingPortal, start_blocking_portal

from attache.errors import AttacheError
from attache.extractor import Extractor, request_for
from attache.schemas import ExtractionRequest, ExtractionResponse, RecordType
from attache.settings import Settings


class SyncExtractor:
    """`Extractor` with blocking methods; use it as a context manager, and reuse it."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings if settings is not None else Settings()
        self._stack = ExitStack()
        self._portal: BlockingPortal | None = None
        self._extractor: Extractor | None = None

    def __enter__(self) -> Self:
        with ExitStack() as stack:
            portal = stack.enter_context(start_blocking_portal())
            self._extractor = stack.enter_context(
                portal.wrap_async_context_manager(Extractor.open(self._settings))
            )
            self._portal = portal
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._portal = self._extractor = None
        self._stack.close()

    def extract(self, request: ExtractionRequest) -> ExtractionResponse:
        portal, extractor = self._open()
        return portal.call(extractor.extract, request)

    def extract_many(
        self, requests: Iterable[ExtractionRequest], *, concurrency: int = 4
    ) -> list[ExtractionResponse | AttacheError]:
        portal, extractor = self._open()
        batch = list(requests)
        return portal.call(lambda: extractor.extract_many(batch, concurrency=concurrency))

    def _open(self) -> tuple[BlockingPortal, Extractor]:
        if self._portal is None or self._extractor is None:
            raise RuntimeError("use SyncExtractor in a `with` block")
        return self._portal, self._extractor


def extract_sync(
    text: str,
    *,
    published_at: dt.date | dt.datetime | str | None = None,
    types: Iterable[RecordType | str] | None = None,
    settings: Settings | None = None,
) -> ExtractionResponse:
    """`attache.extract` for code without an event loop."""
    request = request_for(text, published_at=published_at, types=types)
    with SyncExtractor(settings) as extractor:
        return extractor.extract(request)
