"""The hot issues inside ``hotline serve``: every ``refresh_minutes`` (the catalogue's
``hotspots`` section; the first a minute after the start) a background task finds the
window's groups in a worker thread and writes what the wallboard shows to Redis
(:func:`queueing.keys.hotspots`, JSON, expiring after three refreshes); the wallboard reads
that key with its board. Every server does it (the result is the same; the last write wins).
A failure is logged (HL-HOT-001) and the next refresh tries again; the key keeps the last
result until it expires."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from ivr.config.catalogue import Catalogue
from ivr.db.database import Database
from ivr.hotspots.finding import find_hotspots
from queueing import keys
from queueing.stopping import stop_task

log = logging.getLogger(__name__)

REFRESH_FAILED = "HL-HOT-001"
#: the first refresh waits this long after the start (seconds): a restarted server serves its
#: returning callers first (jieba's dictionary takes a second to load); the key it wrote
#: before keeps the wallboard's panel meanwhile
FIRST_DELAY = 60.0


async def read_board(redis: Redis, centre: str) -> dict[str, Any] | None:
    """The hot issues as last written (None: none yet, or expired)."""
    raw = await redis.get(keys.hotspots(centre))
    if raw is None:
        return None
    found: dict[str, Any] = json.loads(raw)
    return found


class HotspotRefresher:
    """The background task; :meth:`start` and :meth:`stop` with the server."""

    def __init__(
        self,
        db: Database,
        config: Callable[[], tuple[Catalogue | None, str]],
        redis: Redis,
        centre: str,
        first_delay: float = FIRST_DELAY,
    ) -> None:
        self.db = db
        self.first_delay = first_delay
        self.config = config  # (the catalogue, the centre's time zone) as they are now
        self.redis = redis
        self.centre = centre
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="hotspots")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def _loop(self) -> None:
        await asyncio.sleep(self.first_delay)
        while True:
            minutes = await self.run_once()
            await asyncio.sleep(minutes * 60)

    async def run_once(self, now: dt.datetime | None = None) -> float:
        """Find and write the hot issues now; returns the minutes until the next refresh."""
        catalogue, timezone = self.config()
        if catalogue is None:  # refused at start: HL-SRV-002 said so
            return 10.0
        rules = catalogue.model.hotspots
        try:
            found = await asyncio.to_thread(find_hotspots, self.db, catalogue, now, rules)
            board = found.board(ZoneInfo(timezone))
            await self.redis.set(
                keys.hotspots(self.centre),
                json.dumps(board, ensure_ascii=False),
                ex=int(rules.refresh_minutes * 60 * 3),
            )
        except Exception as exc:  # the next refresh tries again
            log.error("[%s] hot issues not refreshed: %s", REFRESH_FAILED, exc)
        return rules.refresh_minutes
