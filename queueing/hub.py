"""The per-process part of the operator queue: one :class:`QueueHub` per hotline process
holds what all the waiting sessions share:

- one **listener**: a blocking ``BLPOP`` on this process's inbox list, into which the Lua
  assignment pushes an offer (``uniqueid, agent, interface``) for a caller held here. The
  session waiting for it is woken through an :class:`asyncio.Queue`; nobody polls Redis
  per caller;
- one **lease renewer**: every ``lease_seconds / 3`` it renews the leases of all callers held
  here, in one round trip;
- the **reaper** (``tick``): ends wrap-ups, logs out agents whose heartbeat stopped, closes
  entries whose lease expired. It runs on every process; the script is atomic, so that is
  safe and a dead process's work is picked up by the others;
- optionally the **event pump** into the event sink (:mod:`queueing.pump`).

The per-call side, keeping one caller company, is :mod:`queueing.waiter`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from queueing import keys
from queueing.callback import CallbackDialler
from queueing.events import QueueEventSink
from queueing.pump import EventPump, stop_task
from queueing.queue import Offer, RedisQueue

log = logging.getLogger(__name__)

UNCLAIMED_SECONDS = 120.0  # an offer that arrived before its session registered


class QueueHub:
    """The per-process part of the queue: offers listener, lease renewer, reaper, pump."""

    def __init__(
        self,
        queue: RedisQueue,
        sink: QueueEventSink | None = None,
        *,
        reaper: bool = True,
        dialler: CallbackDialler | None = None,
    ) -> None:
        self.queue = queue
        self.settings = queue.settings
        self.sink = sink
        self.reaper = reaper
        self.dialler = dialler
        self._held: set[str] = set()  # callbacks this process's dialler is calling
        self._dials: set[asyncio.Task[Any]] = set()
        self._waiting: dict[str, asyncio.Queue[Offer]] = {}
        self._unclaimed: dict[str, tuple[Offer, float]] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self.pump: EventPump | None = None
        self.offers_received = 0
        self._closing = False

    @property
    def server(self) -> str:
        return self.queue.server

    # -- sessions -------------------------------------------------------------------------

    async def answered(self, uniqueid: str, agent: str) -> None:
        """The operator picked up (reported by the Dial U() gosub on the operator's channel,
        through any server): CONNECT now, so the agent is busy for the whole conversation
        and the wait is exact. The waiting session reports it again when Dial returns; the
        first report stands."""
        await self.queue.connect(uniqueid, agent)

    def register(self, uniqueid: str) -> asyncio.Queue[Offer]:
        """The offers for this caller. An offer that arrived before is handed over."""
        q = self._waiting.get(uniqueid)
        if q is None:
            q = self._waiting[uniqueid] = asyncio.Queue()
        early = self._unclaimed.pop(uniqueid, None)
        if early is not None:
            q.put_nowait(early[0])
        return q

    def unregister(self, uniqueid: str) -> None:
        self._waiting.pop(uniqueid, None)

    @property
    def sessions(self) -> list[str]:
        """The callers whose leases this process renews (waiting, and callbacks dialled)."""
        return [*self._waiting, *self._held]

    async def can_dial(self) -> bool:
        """Whether a callback asked for now can be dialled: some dialler (this process's or
        another server's) is logged in to AMI."""
        if self.dialler is not None:
            return self.dialler.available
        return await self.queue.diallers_alive() > 0

    def dial_callback(self, offer: Offer) -> asyncio.Task[Any]:
        """Hand a callback offer to the dialler; its lease is renewed meanwhile."""
        assert self.dialler is not None
        dialler = self.dialler
        self._held.add(offer.uniqueid)

        async def run() -> None:
            try:
                await dialler.dial(offer)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("HL-QUE-024 callback %s failed", offer.uniqueid)
            finally:
                self._held.discard(offer.uniqueid)

        task = asyncio.create_task(run(), name=f"callback-{offer.uniqueid}")
        self._dials.add(task)
        task.add_done_callback(self._dials.discard)
        return task

    def deliver(self, offer: Offer) -> None:
        self.offers_received += 1
        q = self._waiting.get(offer.uniqueid)
        if q is not None:
            q.put_nowait(offer)
            return
        now = time.monotonic()
        self._unclaimed[offer.uniqueid] = (offer, now)
        for uid, (_, at) in list(self._unclaimed.items()):
            if now - at > UNCLAIMED_SECONDS:
                del self._unclaimed[uid]

    # -- background tasks -----------------------------------------------------------------

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._listen(), name="queue-listener"))
        self._tasks.append(asyncio.create_task(self._renew(), name="queue-leases"))
        if self.reaper:
            self._tasks.append(asyncio.create_task(self._tick(), name="queue-reaper"))
        if self.sink is not None:
            self.pump = EventPump(self.queue.client, self.sink, self.server, self.queue.centre)
            self._tasks.append(asyncio.create_task(self.pump.run(), name="queue-events"))
        if self.dialler is not None:  # keeps its AMI login (retrying while Asterisk is away)
            self._tasks.append(asyncio.create_task(self.dialler.run(), name="callback-dialler"))

    async def stop(self) -> None:
        # Loops also check _closing: a cancel that lands inside a redis-py call may be
        # swallowed by it.
        self._closing = True
        if self.pump is not None:
            self.pump.closing = True
        for task in [*self._tasks, *self._dials]:
            await stop_task(task)
        self._tasks.clear()
        if self.dialler is not None:
            with contextlib.suppress(Exception):
                await self.dialler.close()
        if self.pump is not None:
            with contextlib.suppress(Exception):
                await self.pump.drain()

    async def _listen(self) -> None:
        inbox = keys.inbox(self.server, self.queue.centre)
        callbacks = keys.callbacks(self.queue.centre)
        while not self._closing:
            # callback offers only while logged in to AMI: another server's dialler may be
            lists = (
                [inbox, callbacks] if self.dialler is not None and self.dialler.ready else [inbox]
            )
            try:
                item = await self.queue.client.blpop(lists, timeout=1)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("HL-QUE-021 queue offers listener: Redis failed; retrying in 1 s")
                await asyncio.sleep(1.0)
                continue
            if item is None:
                continue
            raw = item[1].decode() if isinstance(item[1], bytes) else str(item[1])
            uid, agent, interface = raw.split("\t")
            if _text(item[0]) == callbacks:
                self.dial_callback(Offer(uid, agent, interface))
            else:
                self.deliver(Offer(uid, agent, interface))

    async def renew_now(self) -> int:
        return await self.queue.renew(self.sessions)

    async def _renew(self) -> None:
        period = self.settings.lease_seconds / 3
        while not self._closing:
            await asyncio.sleep(period)
            try:
                await self.renew_now()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("HL-QUE-022 could not renew the queue leases")

    async def _tick(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.settings.tick_seconds)
            try:
                result = await self.queue.tick()
                if result.logouts or result.reaped:
                    log.info("queue reaper: %s", result)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("HL-QUE-023 queue reaper failed")


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
