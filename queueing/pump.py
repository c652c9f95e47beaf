"""Moves queue events from the Redis stream into the event sink (the database).

The Lua scripts append every event to the stream ``keys.events`` in the same atomic step as
the change it describes, so no event is lost when a FastAGI process dies between the change
and the database write. The pump reads the stream through a consumer group (one group for the
sink, one consumer per process), hands each event to :class:`~queueing.events.QueueEventSink`
and acknowledges it only once the sink returned: delivery is at least once, in stream order per
process. Events a dead process had read but not acknowledged are claimed by another after
``claim_idle_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from queueing import keys
from queueing.events import QueueEvent, QueueEventSink

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
    ) -> None:
        self.client = client
        self.sink = sink
        self.consumer = consumer
        self.stream = keys.events(centre)
        self.batch = batch
        self.claim_idle_ms = int(claim_idle_seconds * 1000)
        self._group_ready = False
        # one read at a time: a drain() next to run() would re-read the events run() has
        # read but not yet acknowledged (its own pending list) and deliver them twice
        self._lock = asyncio.Lock()
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
        done = 0
        for msg_id, fields in rows:
            if fields is None:  # trimmed away before it was delivered
                await self.client.xack(self.stream, GROUP, msg_id)
                continue
            await self.sink.queue_event(event_from_fields(fields))
            await self.client.xack(self.stream, GROUP, msg_id)
            done += 1
        self.delivered += done
        return done

    async def pump_once(self, block_ms: int | None = None) -> int:
        """Deliver what is there (own unacknowledged events first, then stale ones of other
        consumers, then new ones). Returns the number delivered."""
        async with self._lock:
            return await self._pump_once(block_ms)

    async def _pump_once(self, block_ms: int | None) -> int:
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
        new: Any = await self.client.xreadgroup(
            GROUP, self.consumer, {self.stream: ">"}, count=self.batch, block=block_ms
        )
        for _, rows in new:
            done += await self._deliver(rows)
        return done

    async def drain(self) -> int:
        """Deliver until nothing is left (for tests and shutdown)."""
        total = 0
        while n := await self.pump_once():
            total += n
        return total

    async def run(self, block_ms: int = 1000) -> None:
        while not self.closing:
            try:
                await self.pump_once(block_ms)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("HL-QUE-020 queue events could not be written; retrying in 1 s")
                await asyncio.sleep(1.0)


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
