"""Where finished call records go. The ticket issue adds a database store; these two are
the simple ones: in memory (tests) and an append-only JSON-lines journal (nothing lost when
the database is away)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from ivr.engine.record import CallRecord


class CallStore(Protocol):
    async def save(self, record: CallRecord) -> None: ...


class MemoryStore:
    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    async def save(self, record: CallRecord) -> None:
        self.records.append(record)

    def by_uniqueid(self, uniqueid: str) -> CallRecord:
        for record in self.records:
            if record.uniqueid == uniqueid:
                return record
        raise KeyError(uniqueid)


class JournalStore:
    """Append one JSON line per call to ``path`` and fsync it, so a crash loses nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def save(self, record: CallRecord) -> None:
        line = (json.dumps(record.to_dict(), ensure_ascii=False) + "\n").encode()
        async with self._lock:
            await asyncio.to_thread(append_shared, self.path, line)


@contextlib.contextmanager
def _journal_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``<path>.lock``: appenders of several processes (one process AGI
    script per call) and the importer that takes the journal away never interleave."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def append_shared(path: Path, data: bytes) -> None:
    """:func:`append_durably` for a journal that several processes append to, and that
    :func:`take_journal` may take away at any moment."""
    with _journal_lock(path):
        append_durably(path, data)


def take_journal(path: Path) -> list[Path]:
    """Move the journal aside for import (no append can land in it afterwards) and return
    every moved-aside file not yet imported, oldest first: a crashed import is redone, and
    importing is idempotent (records are keyed by uniqueid)."""
    with _journal_lock(path):
        if path.exists() and path.stat().st_size > 0:
            path.rename(path.with_name(f"{path.name}.import-{time.time_ns()}"))
    return sorted(path.parent.glob(f"{path.name}.import-*"))


def append_durably(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` and fsync it: a journal line survives a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
