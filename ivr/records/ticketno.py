"""Ticket numbers for calls from Redis: no database round trip on the call's path.

When a call is put through to an operator it carries its ticket number (``HOTLINE_TICKET``,
:class:`ivr.queuewait.bridge.TicketNumbers`); the ticket the operator accepts for the call takes
it (:mod:`ivr.tickets.numbering`). :class:`RedisTicketNumbers` hands the numbers out with one
Lua script, one round trip:

- a call that already has a number keeps it (hash :func:`queueing.keys.ticket_numbers`,
  uniqueid -> number: re-offers and failover to another server give the same number);
- otherwise the day's counter (hash :func:`queueing.keys.ticket_counter`, fields ``last``
  and ``limit``, plus ``next``/``nlimit`` for a block claimed ahead) is incremented.

The counter runs through *blocks* of :attr:`RedisTicketNumbers.block` numbers claimed from
the database (:func:`ivr.tickets.numbering.claim_block`): the claim starts at the highest
number the day has in the database (its counter, its tickets, its reservations) and moves
the database's counter past the block, in one transaction. That is why nothing is handed out
twice, even when

- tickets are accepted without a reserved number (walk-ins, the web, a call that got no
  number): the database's own sequence continues after the claimed blocks;
- Redis forgets (a restart without persistence, FLUSHALL, a failover that lost writes): the
  next reservation claims a new block, which starts after every block claimed before - also
  the ones whose reservations are still only in some server's journal, since the claim
  itself was committed in the database before any number of its block was handed out. The
  rest of a forgotten block is skipped (a gap in the day's numbers, never a duplicate).

The database is needed once per block (the first call of the day, then every ``block``
calls; a block is claimed in the background when the current one runs low). When it is away
at that moment, :meth:`RedisTicketNumbers.reserve_ticket` waits at most ``db_timeout``
seconds and returns None (the call goes on without a number; its ticket gets one when
accepted; ``HL-TKT-021`` is logged once per outage). A number handed out reaches the
``ticket_reservations`` table through the store's journaled write path
(:meth:`CallRecordStore.note_reservation`), which never makes the call wait either.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from redis.exceptions import NoScriptError, RedisError

from ivr.records.store import CallRecordStore
from ivr.tickets.numbering import SEQUENCE_DIGITS, claim_block
from queueing import keys

log = logging.getLogger(__name__)

# KEYS: numbers hash, day counter hash. ARGV: op (reserve | install | keep), uniqueid, day
# (YYYYMMDD), seed (keep: the number), limit, low-water mark, digits, counter TTL (s).
SCRIPT = """
local numbers, counter = KEYS[1], KEYS[2]
local op, uid, day = ARGV[1], ARGV[2], ARGV[3]
local function num(field)
  local v = redis.call('HGET', counter, field)
  if v then return tonumber(v) end
  return -1
end
if op == 'install' then
  local seed, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
  local last, top = num('last'), num('limit')
  if last < 0 or last >= top then
    if seed >= top then
      redis.call('HSET', counter, 'last', seed, 'limit', limit)
      redis.call('HDEL', counter, 'next', 'nlimit')
    end
  elseif redis.call('HEXISTS', counter, 'next') == 0 and seed >= top then
    redis.call('HSET', counter, 'next', seed, 'nlimit', limit)
  end
  redis.call('EXPIRE', counter, tonumber(ARGV[8]))
  return {'installed'}
end
if op == 'keep' then
  redis.call('HSETNX', numbers, uid, ARGV[4])
  return {'have', redis.call('HGET', numbers, uid)}
end
local have = redis.call('HGET', numbers, uid)
if have then return {'have', have} end
local last, top = num('last'), num('limit')
if last < 0 then return {'seed'} end
if last >= top then
  local nxt = num('next')
  if nxt < 0 then return {'seed'} end
  top = num('nlimit')
  redis.call('HSET', counter, 'last', nxt, 'limit', top)
  redis.call('HDEL', counter, 'next', 'nlimit')
end
last = redis.call('HINCRBY', counter, 'last', 1)
local number = day .. string.format('%0' .. ARGV[7] .. 'd', last)
redis.call('HSET', numbers, uid, number)
local low = 0
if top - last <= tonumber(ARGV[6]) and redis.call('HEXISTS', counter, 'next') == 0 then
  low = 1
end
return {'new', number, low}
"""
SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()
COUNTER_TTL = 3 * 86400
KEEP_DAYS = 2  # numbers of calls older than this leave the uniqueid -> number hash
MEMO = 5000  # numbers this process handed out, kept to re-assert them if Redis forgot


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisTicketNumbers:
    """:class:`ivr.queuewait.bridge.TicketNumbers` from Redis, with blocks claimed from the
    database of ``store`` and reservations written through it."""

    def __init__(
        self,
        client: Any,  # redis.asyncio.Redis
        store: CallRecordStore,
        *,
        centre: str = keys.DEFAULT_CENTRE,
        timezone: str = "Asia/Shanghai",
        db_timeout: float = 2.0,
        block: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.store = store
        self.centre = centre
        self.tz = ZoneInfo(timezone)
        self.db_timeout = db_timeout
        self.block = block
        self.clock = clock
        self._claim: asyncio.Task[None] | None = None
        self._ahead: asyncio.Task[None] | None = None
        self._failed_until = 0.0  # no new claim before (after a failed one)
        self._warned = False
        self._purged = ""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._memo: dict[str, str] = {}

    async def reserved(self, uniqueid: str) -> str | None:
        """The number already reserved for the call (None: none, or Redis away): read only,
        for a ticket accepted before the reservation reached the database."""
        known = self._memo.get(uniqueid)
        if known is not None:
            return known
        try:
            value = await self.client.hget(keys.ticket_numbers(self.centre), uniqueid)
        except (RedisError, OSError):
            return None
        return None if value is None else _text(value)

    async def reserve_ticket(self, uniqueid: str) -> str | None:
        """The call's ticket number; None if it cannot have one now (logged)."""
        day = dt.datetime.fromtimestamp(self.clock(), self.tz).date()
        try:
            known = self._memo.get(uniqueid)
            if known is not None:  # re-asserted, in case Redis forgot it
                return (await self._run("keep", uniqueid, day, known))[1]
            reply = await self._run("reserve", uniqueid, day)
            if reply[0] == "seed":
                if not await self._claimed(day):
                    return None
                reply = await self._run("reserve", uniqueid, day)
        except (RedisError, OSError) as exc:
            log.warning("[HL-TKT-022] no ticket number for %s, Redis unavailable: %s",
                        uniqueid, exc)  # fmt: skip
            return None
        if reply[0] == "seed":  # the block was used up meanwhile: the next call claims one
            return None
        number = reply[1]
        self._memo[uniqueid] = number
        if len(self._memo) > MEMO:
            del self._memo[next(iter(self._memo))]
        if reply[0] == "new":
            self.store.note_reservation(uniqueid, number)
            if reply[2] == "1":
                self._start_claim(day)
        self._warned = False
        return number

    async def _run(self, op: str, uniqueid: str, day: dt.date, *extra: int | str) -> list[str]:
        stamp = f"{day:%Y%m%d}"
        keys_ = (keys.ticket_numbers(self.centre), keys.ticket_counter(stamp, self.centre))
        seed, limit = (*extra, 0) if len(extra) == 1 else (extra or (0, 0))
        argv = (op, uniqueid, stamp, seed, limit, self.block // 4, SEQUENCE_DIGITS, COUNTER_TTL)
        try:
            reply = await self.client.evalsha(SHA, 2, *keys_, *argv)
        except NoScriptError:
            reply = await self.client.eval(SCRIPT, 2, *keys_, *argv)
        return [_text(v) for v in reply]

    # -- blocks from the database ----------------------------------------------------------

    async def _claimed(self, day: dt.date) -> bool:
        """Wait (at most ``db_timeout``) for a block of ``day`` to be claimed and installed."""
        task = self._start_claim(day)
        if task is None:
            self._warn(day, "the last attempt failed, retried shortly")
            return False
        try:
            await asyncio.wait_for(asyncio.shield(task), self.db_timeout)
        except TimeoutError:
            self._warn(day, f"no answer within {self.db_timeout:g} s")
            return False
        except Exception as exc:
            self._warn(day, str(exc))
            return False
        return True

    def _start_claim(self, day: dt.date) -> asyncio.Task[None] | None:
        if self._claim is not None and not self._claim.done():
            return self._claim
        if time.monotonic() < self._failed_until:
            return None
        self._claim = asyncio.create_task(self._claim_block(day), name="ticket-block-claim")
        self._claim.add_done_callback(_retrieve)
        return self._claim

    async def _claim_block(self, day: dt.date) -> None:
        try:
            seed, limit = await asyncio.to_thread(self._claim_sync, day)
        except Exception:
            self._failed_until = time.monotonic() + self.db_timeout
            raise
        await self._run("install", "", day, seed, limit)
        log.info("ticket numbers %s: block %d..%d claimed", f"{day:%Y%m%d}", seed + 1, limit)
        if self._purged != f"{day:%Y%m%d}":
            self._purged = f"{day:%Y%m%d}"
            task = asyncio.create_task(self._purge(day), name="ticket-numbers-purge")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _claim_sync(self, day: dt.date) -> tuple[int, int]:
        """The claim, with the database's lock waits cut to ``db_timeout``."""
        db = self.store.db
        ms = max(1, int(self.db_timeout * 1000))
        with db.session() as session:
            conn = session.connection()
            if db.dialect == "sqlite":
                before = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {ms}")
                try:
                    return claim_block(session, day, self.block)
                finally:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(before or 0)}")
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
            return claim_block(session, day, self.block)

    def _warn(self, day: dt.date, why: str) -> None:
        if not self._warned:
            self._warned = True
            log.error(
                "[HL-TKT-021] no ticket numbers for calls of %s until the database %s answers "
                "(%s): calls go on without HOTLINE_TICKET, their tickets get numbers when "
                "accepted",
                day,
                self.store.db.safe_url,
                why,
            )

    async def _purge(self, day: dt.date) -> None:
        """Drop the numbers of calls older than :data:`KEEP_DAYS` from the uniqueid hash."""
        oldest = f"{day - dt.timedelta(days=KEEP_DAYS):%Y%m%d}"
        name = keys.ticket_numbers(self.centre)
        stale: list[Any] = []
        try:
            async for field, value in self.client.hscan_iter(name, count=1000):
                if _text(value)[:8] < oldest:
                    stale.append(field)
                if len(stale) >= 1000:
                    await self.client.hdel(name, *stale)
                    stale = []
            if stale:
                await self.client.hdel(name, *stale)
        except RedisError as exc:
            log.info("ticket numbers: purge of old calls put off: %s", exc)

    def start(self, every: float = 30.0) -> None:
        """Keep a block claimed ahead: for today at once, and for tomorrow in the last hour
        of the day, so that a database that is away when calls come does not cost them their
        numbers (the database is needed when a block is claimed, not when a number is
        handed out)."""
        if self._ahead is None:
            self._ahead = asyncio.create_task(self._keep_ahead(every), name="ticket-blocks-ahead")

    async def _keep_ahead(self, every: float) -> None:
        while True:
            now = dt.datetime.fromtimestamp(self.clock(), self.tz)
            days = [now.date()]
            if now.hour == 23:
                days.append(now.date() + dt.timedelta(days=1))
            for day in days:
                try:
                    key = keys.ticket_counter(f"{day:%Y%m%d}", self.centre)
                    if await self.client.hget(key, "limit") is None:
                        task = self._start_claim(day)
                        if task is not None:
                            await asyncio.gather(task, return_exceptions=True)
                except (RedisError, OSError) as exc:
                    log.info("ticket numbers: block ahead put off, Redis unavailable: %s", exc)
            await asyncio.sleep(every)

    async def close(self) -> None:
        if self._ahead is not None:
            self._ahead.cancel()
            await asyncio.gather(self._ahead, return_exceptions=True)
            self._ahead = None
        for task in [self._claim, *self._tasks]:
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.info("ticket block claim failed: %s", task.exception())


__all__ = ["RedisTicketNumbers"]
