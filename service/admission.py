"""Admission control: a process runs at most `max_concurrent_extractions` at once.

A request past the limit is shed at once with 503 and `Retry-After`, not queued: a queue
without bound turns a burst into timeouts for everyone and memory no one planned for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from attache.errors import Overloaded


class Admission:
    def __init__(self, limit: int, retry_after_s: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self._retry_after_s = retry_after_s

    @contextmanager
    def slot(self) -> Iterator[None]:
        # One event loop runs every request of the process: the check and the increment
        # cannot interleave with another request's.
        if self.in_flight >= self.limit:
            raise Overloaded(
                f"{self.in_flight} extractions are in progress, the limit of this process "
                "(ATTACHE_MAX_CONCURRENT_EXTRACTIONS); retry later",
                retry_after_s=self._retry_after_s,
            )
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
