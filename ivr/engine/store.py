"""Where finished call records go. The ticket issue adds a database store; these two are
the simple ones: in memory (tests) and an append-only JSON-lines journal (nothing lost when
the database is away)."""

from __future__ import annotations

import asyncio
import json
import os
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
            await asyncio.to_thread(append_durably, self.path, line)


def append_durably(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` and fsync it: a journal line survives a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
