"""The daily retention purge inside ``hotline serve``: a background task that wakes at
``retention.daily_at`` in the centre's time (read again each day, so a reload applies) and
runs the purge (:class:`~ivr.privacy.purge.Purger`, actor ``system:purge``) in a worker
thread.

With several servers, one a day does it: before running, a server sets the day's Redis key
(``SET NX``, :func:`queueing.keys.purge_day`, expiring after two days); a server that finds it
set skips the day. The deletes are idempotent besides, so a server that takes the key and
dies halfway leaves nothing broken: the next day's run goes on where it stopped. Redis away:
the server purges anyway (idempotent; at worst two audit rows that day)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from ivr.config.privacy_models import Retention
from ivr.privacy.purge import SYSTEM_ACTOR, Purger, PurgeReport
from queueing import keys
from queueing.stopping import stop_task

log = logging.getLogger(__name__)

DAILY_FAILED = "HL-PRV-012"
LOCK_SECONDS = 2 * 86400


def next_run(now: dt.datetime, daily_at: str, timezone: str) -> dt.datetime:
    """The next ``HH:MM`` in ``timezone`` strictly after ``now`` (aware, UTC)."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    hour, minute = (int(x) for x in daily_at.split(":"))
    at = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at <= local:
        at = (at + dt.timedelta(days=1)).replace(hour=hour, minute=minute)
    return at.astimezone(dt.UTC)


class DailyPurge:
    """The background task; :meth:`start` and :meth:`stop` with the server."""

    def __init__(
        self,
        purger: Purger,
        config: Callable[[], tuple[Retention, str]],
        redis: Redis | None,
        centre: str,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.purger = purger
        self.config = config  # (retention, the centre's time zone) as the config is now
        self.redis = redis
        self.centre = centre
        self._now = now
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="daily-purge")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def _loop(self) -> None:
        while True:
            retention, timezone = self.config()
            due = next_run(self._now(), retention.daily_at, timezone)
            await self._sleep(max(0.0, (due - self._now()).total_seconds()))
            try:
                await self.run_once(due.astimezone(ZoneInfo(timezone)).date())
            except Exception:  # a bug must not end the task: tomorrow's run still comes
                log.exception("[%s] retention purge failed", DAILY_FAILED)

    async def _claim(self, day: dt.date) -> bool:
        if self.redis is None:
            return True
        try:
            key = keys.purge_day(day.isoformat(), self.centre)
            return bool(await self.redis.set(key, "1", nx=True, ex=LOCK_SECONDS))
        except RedisError as exc:
            log.warning("[%s] Redis away (%s): purging without the day's key", DAILY_FAILED, exc)
            return True

    async def run_once(self, day: dt.date) -> PurgeReport | None:
        """The purge of ``day``, unless another server took that day; None when skipped or
        failed (logged; the next day's run goes on)."""
        if not await self._claim(day):
            log.info("retention purge of %s: another server runs it", day)
            return None
        retention, timezone = self.config()
        try:
            return await asyncio.to_thread(self.purger.run, retention, timezone, SYSTEM_ACTOR)
        except (SQLAlchemyError, OSError) as exc:
            log.error("[%s] retention purge of %s failed: %s", DAILY_FAILED, day, exc)
            return None
