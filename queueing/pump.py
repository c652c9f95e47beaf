"""Moves queue events from the Redis stream into the event sink (the database).

The Lua scripts append every event to the stream ``keys.events`` in the same atomic step as
the change it describes, so no event is lost when a FastAGI process dies between the change
and the database write. The pump reads the stream through a consumer group (one group for the
sink, one consumer per process), hands what it read to :class:`~queueing.events.QueueEventSink`
(at once when the sink takes several) and acknowledges it only once the sink returned: delivery
is at least once, in stream order per process. Events a dead process had read but not
acknowledged are claimed by another after ``claim_idle_seconds``.

When Redis forgets the stream (restarted without persistence, FLUSHALL, a failover), the pump
recreates its group (``NOGROUP``) and goes on with what is written from then on; the events
that were lost are handed to the sink from the servers' own journals
(:class:`~queueing.events.EventJournal`, :meth:`EventPump.recover`). Each journal forgets
what the group has acknowledged: :meth:`EventPump.prune`, about once a second.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from queueing import keys
from queueing.events import EventJournal, QueueEvent, QueueEventSink, hand_over, stream_id

log = logging.getLogger(__name__)

GROUP = "sink"


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def event_from_fields(fields: dict[Any, Any]) -> QueueEvent:
    f = {_s(k): _s(v) for k, v in fields.items()}
    data = f.get("data", "")
    return QueueEvent(
        at=dt.datetime.fromtimestamp(int(f["at"]) / 1000, dt.UTC),
        callid=f["callid"],
        queue=f["queue"],
        agent=f["agent"],
        event=f["event"],
        data=tuple(data.split("|")) if data else (),
    )


class EventPump:
    def __init__(
        self,
        client: aioredis.Redis,
        sink: QueueEventSink,
        consumer: str,
        centre: str = keys.DEFAULT_CENTRE,
        *,
        batch: int = 200,
        claim_idle_seconds: float = 60.0,
        journal: EventJournal | None = None,
        epoch: Callable[[], str] = lambda: "",
    ) -> None:
        self.client = client
        self.sink = sink
        self.consumer = consumer
        self.stream = keys.events(centre)
        self.epoch_key = keys.epoch(centre)
        self.journal = journal
        self.epoch = epoch  # the epoch token the hub knows ("" while it knows none)
        self.outage = Outage("HL-QUE-020", "queue events could not be written")
        self.batch = batch
        self.claim_idle_ms = int(claim_idle_seconds * 1000)
        self._group_ready = False
        # delivered, not yet acknowledged (the XACK failed: Redis went away meanwhile)
        self._unacked: dict[Any, QueueEvent] = {}
        # one read at a time: a drain() next to run() would re-read the events run() has
        # read but not yet acknowledged (its own pending list) and deliver them twice
        self._lock = asyncio.Lock()
        # the own pending list and other consumers' stale events are read at start, after a
        # failed read, and every few seconds, not before each read of new events: at 100
        # calls/s that was two round trips of four per read (issue 13)
        self.full_every = min(5.0, claim_idle_seconds / 4)
        self._next_full = 0.0
        self.delivered = 0
        self.closing = False  # set before cancelling run(): redis-py may swallow a cancel

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _deliver(self, rows: list[Any]) -> int:
        """Hand the sink the events of ``rows`` in one hand-over (not those it has already:
        only their XACK failed), then acknowledge them in one XACK. One at a time, with a
        sink that commits each hand-over (the ticket store), the pump fell behind the calls
        and the journal grew to its bound (issue 13)."""
        if not rows:
            return 0
        fresh: list[tuple[Any, QueueEvent]] = []
        for msg_id, fields in rows:
            if fields is None:  # trimmed away before it was delivered: only acknowledged
                continue
            event = event_from_fields(fields)
            if self._unacked.get(msg_id) != event:
                fresh.append((msg_id, event))
        if fresh:
            await hand_over(self.sink, [event for _, event in fresh])
            for msg_id, event in fresh:
                self._unacked[msg_id] = event
                if self.journal is not None:
                    self.journal.delivered(msg_id, event.callid, event.event)
        await self.client.xack(self.stream, GROUP, *[msg_id for msg_id, _ in rows])
        done = 0
        for msg_id, fields in rows:
            if fields is not None:
                self._unacked.pop(msg_id, None)
                done += 1
        self.delivered += done
        return done

    async def pump_once(self, block_ms: int | None = None, *, full: bool = True) -> int:
        """Deliver what is there (own unacknowledged events first, then stale ones of other
        consumers, then new ones). ``full=False`` reads only new ones, unless a full read is
        due (at start, after a failure, every ``full_every`` seconds). Returns the number
        delivered."""
        async with self._lock:
            if not full and time.monotonic() < self._next_full:
                return await self._guarded(self._read_new, block_ms)
            done = await self._guarded(self._read, block_ms)
            self._next_full = time.monotonic() + self.full_every
            return done

    async def _guarded(self, read: Callable[[int | None], Any], block_ms: int | None) -> int:
        try:
            done: int = await self._regrouping(read, block_ms)
            return done
        except BaseException:
            self._next_full = 0.0  # what was read and not acknowledged: read it again first
            raise

    async def _regrouping(self, read: Callable[[int | None], Any], block_ms: int | None) -> int:
        try:
            done: int = await read(block_ms)
            return done
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
        # Redis lost the stream or the group (restarted without persistence, FLUSHALL, a
        # failover): recreate the group, from the start of whatever the stream holds now
        log.warning("[HL-QUE-060] queue events: Redis lost the consumer group; recreating it")
        self._group_ready = False
        self._unacked.clear()
        await self._ensure_group()
        again: int = await read(block_ms)
        return again

    async def _read_new(self, block_ms: int | None) -> int:
        await self._ensure_group()
        done = 0
        new: Any = await self.client.xreadgroup(
            GROUP, self.consumer, {self.stream: ">"}, count=self.batch, block=block_ms
        )
        for _, rows in new:
            done += await self._deliver(rows)
        return done

    async def _read(self, block_ms: int | None) -> int:
        await self._ensure_group()
        done = 0
        mine: Any = await self.client.xreadgroup(
            GROUP, self.consumer, {self.stream: "0"}, count=self.batch
        )
        for _, rows in mine:
            done += await self._deliver(rows)
        claimed: Any = await self.client.xautoclaim(
            self.stream, GROUP, self.consumer, self.claim_idle_ms, "0-0", count=self.batch
        )
        done += await self._deliver(claimed[1])
        return done + await self._read_new(block_ms)

    async def drain(self) -> int:
        """Deliver until nothing is left (for tests and shutdown)."""
        total = 0
        while n := await self.pump_once():
            total += n
        return total

    async def prune(self) -> int:
        """Forget the journal's events that the sink's group has acknowledged (any server's
        pump), while Redis still holds the epoch the hub knows (the group's position in a
        stream Redis began again says nothing of the events it lost). Returns how many."""
        token = self.epoch()
        if self.journal is None or not len(self.journal) or not token:
            return 0
        pipe = self.client.pipeline(transaction=True)
        pipe.get(self.epoch_key)
        pipe.xinfo_groups(self.stream)
        pipe.xpending(self.stream, GROUP)
        current, groups, pending = await pipe.execute(raise_on_error=False)
        if isinstance(current, Exception) or current is None or _s(current) != token:
            return 0
        if isinstance(groups, Exception) or isinstance(pending, Exception):
            return 0
        for g in groups:
            if _s(g.get("name", "")) == GROUP:
                last = stream_id(g["last-delivered-id"])
                break
        else:
            return 0
        if int(pending.get("pending") or 0):
            return self.journal.acknowledged(stream_id(pending["min"]), inclusive=False)
        return self.journal.acknowledged(last, inclusive=True)

    async def recover(self) -> int:
        """Redis forgot: hand the sink the journal's events that the stream no longer holds
        (those it holds, written since, the pump delivers as usual). Under the pump's lock,
        so that an event it is delivering is not handed over twice. Returns how many."""
        if self.journal is None:
            return 0
        async with self._lock:
            rows = self.journal.pending()
            if not rows:
                return 0
            pipe = self.client.pipeline(transaction=False)
            for msg_id, _ in rows:
                pipe.xrange(self.stream, msg_id, msg_id)
            found = await pipe.execute()
            n = 0
            for (msg_id, event), hit in zip(rows, found, strict=True):
                if hit and event_from_fields(hit[0][1]) == event:
                    continue  # in the stream as it is now: the pump has it
                await self.sink.queue_event(event)
                self.journal.forget(msg_id)
                n += 1
            if n:
                log.warning(
                    "[HL-QUE-062] %d queue events Redis lost were written from the journal", n
                )
            return n

    async def run(self, block_ms: int = 1000) -> None:
        next_prune = 0.0
        while not self.closing:
            try:
                await self.pump_once(block_ms, full=False)
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + 1.0
                    await self.prune()
                self.outage.over()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.outage.failed(exc, "retrying in 1 s")
                await asyncio.sleep(1.0)


class Outage:
    """Logs a background loop's failures once per outage (not once a second): the first
    failure with its HL- code (a traceback only for what is not a connection problem), then
    the end of the outage."""

    def __init__(self, code: str, what: str) -> None:
        self.code, self.what = code, what
        self.since: float | None = None

    def failed(self, exc: BaseException, then: str) -> None:
        if self.since is not None:
            return
        self.since = time.monotonic()
        if isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError):
            log.warning("%s %s: Redis unreachable (%s); %s", self.code, self.what, exc, then)
        else:
            log.error("%s %s; %s", self.code, self.what, then, exc_info=exc)

    def over(self) -> None:
        if self.since is not None:
            log.warning(
                "%s %s: works again after %.0f s",
                self.code,
                self.what,
                time.monotonic() - self.since,
            )
            self.since = None
