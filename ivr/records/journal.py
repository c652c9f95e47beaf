"""A local append-only journal for writes the database could not take.

One JSON object per line, each appended with ``fsync`` so that a crash loses nothing
already handed over. Replay reads the lines back in order; a torn last line (the process
died while writing it) is skipped with a warning, since its write was never acknowledged.
After a complete replay the file is truncated. Replaying twice is harmless: every entry is
written idempotently (call attempts by uniqueid and attempt number, queue events by their
key, ticket reservations by call).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ivr.engine.callstore import append_durably

log = logging.getLogger(__name__)


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entries: list[dict[str, Any]]) -> None:
        data = b"".join(
            (json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
            for e in entries
        )
        append_durably(self.path, data)

    def empty(self) -> bool:
        try:
            return self.path.stat().st_size == 0
        except FileNotFoundError:
            return True

    def __len__(self) -> int:
        if self.empty():
            return 0
        with self.path.open("rb") as f:
            return sum(1 for line in f if line.endswith(b"\n"))

    def read(self) -> Iterator[dict[str, Any]]:
        """The entries in order."""
        if self.empty():
            return
        with self.path.open("rb") as f:
            for number, line in enumerate(f, 1):
                if not line.endswith(b"\n"):
                    log.warning(
                        "journal %s: line %d is incomplete (a crash while writing it); skipped",
                        self.path,
                        number,
                    )
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    log.error("journal %s: line %d is not JSON; skipped", self.path, number)
                    continue
                if isinstance(entry, dict):
                    yield entry

    def clear(self) -> None:
        if self.path.exists():
            with self.path.open("r+b") as f:
                f.truncate(0)
                f.flush()
                os.fsync(f.fileno())
