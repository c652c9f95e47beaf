"""Freed heap pages handed back to the system while the server runs.

glibc keeps what Python, SQLite and the drivers free inside its arenas (one per worker thread
that allocated, and the main one), and hands little of it back by itself: over a long run the
server's anonymous memory grows by what it keeps, though nothing live grows. ``malloc_trim(0)``
gives back the free pages of every arena; once a minute, in a worker thread, it costs a few
milliseconds. Measured with 30,000-call soaks (issue 13, docs/benchmarks.md): the growth of
the anonymous RSS after the warm-up fell from 3.5 to 2.0 MiB per 10,000 calls with it, the
rest being the bounded per-caller maps filling. A C library without ``malloc_trim`` (musl):
nothing runs.
"""

from __future__ import annotations

import asyncio
import ctypes
from collections.abc import Callable

from queueing.stopping import stop_task

TRIM_SECONDS = 60.0


def malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library this interpreter runs on
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


class HeapTrimmer:
    """Calls ``malloc_trim(0)`` every ``every`` seconds until stopped."""

    def __init__(self, every: float = TRIM_SECONDS) -> None:
        self.every = every
        self.trim = malloc_trim()
        self.trims = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.trim is not None and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="heap-trim")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)
            self._task = None

    async def _loop(self) -> None:
        trim = self.trim
        assert trim is not None
        while True:
            await asyncio.sleep(self.every)
            await asyncio.to_thread(trim, 0)
            self.trims += 1
