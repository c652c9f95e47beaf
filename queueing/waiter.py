"""Keeping a queued caller company, and putting it through to the agent.

One :class:`QueueHub` per process holds what all the waiting sessions share:

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

:class:`RedisQueueWaiter` is the menu engine's :class:`~ivr.engine.menu.QueueWaiter`. A FastAGI
session cannot be interrupted while a command runs, so it plays music on hold and loops on
``WAIT FOR DIGIT`` of ``wait_chunk_seconds``; between chunks it looks at its offer queue and,
at the announcement interval, tells the caller's position and estimated wait.

When an offer arrives: music off, ``HOTLINE_AGENT``, ``HOTLINE_QUEUE_WAIT`` (and
``HOTLINE_TICKET`` when the record knows one) are set, and the agent's interface is dialled
with the ring timeout. ANSWER: CONNECT at the moment the agent answered (from
``ANSWEREDTIME``), then COMPLETE; the agent goes to wrap-up. NOANSWER, BUSY, CHANUNAVAIL,
CONGESTION: RINGNOANSWER, the agent is paused "no answer" and the caller is back at its
original place, waiting again. A hangup while waiting: ABANDON with the wait time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from ivr.engine.channel import Channel
from ivr.engine.record import CallRecord
from ivr.errors import AGIHangup
from queueing import keys
from queueing.events import QueueEventSink
from queueing.pump import EventPump, stop_task
from queueing.queue import Offer, QueuePlace, QueueRequest, RedisQueue, WaitInfo

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
    ) -> None:
        self.queue = queue
        self.settings = queue.settings
        self.sink = sink
        self.reaper = reaper
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
        return list(self._waiting)

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

    async def stop(self) -> None:
        # Loops also check _closing: a cancel that lands inside a redis-py call may be
        # swallowed by it.
        self._closing = True
        if self.pump is not None:
            self.pump.closing = True
        for task in self._tasks:
            await stop_task(task)
        self._tasks.clear()
        if self.pump is not None:
            with contextlib.suppress(Exception):
                await self.pump.drain()

    async def _listen(self) -> None:
        inbox = keys.inbox(self.server, self.queue.centre)
        while not self._closing:
            try:
                item = await self.queue.client.blpop([inbox], timeout=1)
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


# Dial statuses after which the caller goes back to its place.
NOT_ANSWERED = {"NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION", "DONTCALL", "TORTURE", ""}


def number_prompts(n: int) -> list[str]:
    """Asterisk core ``digits/`` files saying ``n`` (0..99)."""
    n = max(0, min(99, n))
    if n <= 20 or n % 10 == 0:
        return [f"digits/{n}"]
    return [f"digits/{n - n % 10}", f"digits/{n % 10}"]


class RedisQueueWaiter:
    """The menu engine's queue waiter, on a :class:`QueueHub`."""

    def __init__(self, hub: QueueHub, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.hub = hub
        self.queue = hub.queue
        self.settings = hub.settings
        self.clock = clock

    async def wait(
        self, channel: Channel, request: QueueRequest, place: QueuePlace, record: CallRecord
    ) -> None:
        uid = request.uniqueid
        offers = self.hub.register(uid)
        connected = False
        try:
            if place.state == "connected":
                # the process that bridged this call died; the call has ended since
                await self._complete(uid, place.agent, record)
                return
            connected = await self._wait(channel, request, offers, record)
        except AGIHangup:
            if not connected:
                wait = await self.queue.abandon(uid, "hangup")
                record.add("abandon", None, f"waited {wait or 0:.0f}s")
            raise
        finally:
            self.hub.unregister(uid)

    async def _wait(
        self,
        channel: Channel,
        request: QueueRequest,
        offers: asyncio.Queue[Offer],
        record: CallRecord,
    ) -> bool:
        s = self.settings
        ann = s.announce
        started = self.clock()
        next_check = started + ann.first_after_seconds
        last_said: tuple[int, int] | None = None
        music = False
        while True:
            if not offers.empty():
                offer = offers.get_nowait()
                if music:
                    await channel.music_on_hold(False)
                    music = False
                if await self._bridge(channel, request, offer, record):
                    return True
                next_check = self.clock()  # back in the queue: tell the caller where
                continue
            if not music:
                await channel.music_on_hold(True, s.moh_class)
                music = True
            await channel.wait_digit(s.wait_chunk_seconds)
            now = self.clock()
            if (ann.position or ann.estimate) and now >= next_check:
                info = await self.queue.wait_info(request.uniqueid)
                said = _said(info)
                if info.state == "waiting" and said != last_said:
                    await channel.music_on_hold(False)
                    music = False
                    await self._announce(channel, info, record)
                    last_said = said
                next_check = now + ann.interval_seconds

    async def _announce(self, channel: Channel, info: WaitInfo, record: CallRecord) -> None:
        ann = self.settings.announce
        prompts: list[str] = []
        if ann.position and info.position <= ann.max_position:
            if info.position == 1:
                prompts.append(ann.you_are_next)
            else:
                prompts += [ann.there_are, *number_prompts(info.position - 1), ann.calls_waiting]
        if ann.estimate and info.eta_seconds is not None and info.position > 1:
            minutes = round(info.eta_seconds / 60)
            if minutes < 1:
                prompts += [ann.hold_time, ann.less_than_a_minute]
            else:
                prompts += [ann.hold_time, *number_prompts(minutes), ann.minutes]
        eta = "?" if info.eta_seconds is None else f"{info.eta_seconds:.0f}s"
        record.add("announce", None, f"position {info.position} eta {eta}")
        for prompt in prompts:
            await channel.play(prompt)

    async def _bridge(
        self, channel: Channel, request: QueueRequest, offer: Offer, record: CallRecord
    ) -> bool:
        s = self.settings
        uid = request.uniqueid
        record.add("offer", None, f"{offer.agent} {offer.interface}")
        waited = max(0, round(time.time() - request.enqueued_at))
        await channel.set_variable("HOTLINE_AGENT", offer.agent)
        await channel.set_variable("HOTLINE_QUEUE_WAIT", str(waited))
        ticket = getattr(record, "ticket_number", None)
        if ticket:
            await channel.set_variable("HOTLINE_TICKET", str(ticket))
        dialled_at = self.queue.clock()
        result = await channel.dial(offer.interface, s.ring_timeout, s.dial_options)
        record.add("dial", None, f"{offer.interface} {result.status}")
        if result.answered:
            # ANSWEREDTIME is the talk time: the agent answered that long before Dial returned
            answered_at = max(dialled_at, self.queue.clock() - result.answered_seconds)
            await self.queue.connect(uid, offer.agent, answered_at)
            await self._complete(uid, offer.agent, record)
            return True
        if result.status in NOT_ANSWERED:
            await self.queue.no_answer(uid, offer.agent, result.status or "NOANSWER")
            record.add("noanswer", None, offer.agent)
            return False
        # CANCEL: the caller hung up while the agent rang
        raise AGIHangup(f"caller hung up while {offer.agent} rang ({result.status})")

    async def _complete(self, uid: str, agent: str, record: CallRecord) -> None:
        state = await self.queue.complete(uid, agent, "caller")
        record.finish("answered", agent)
        log.debug("call %s with %s complete, agent now %s", uid, agent, state)


def _said(info: WaitInfo) -> tuple[int, int]:
    minutes = -1 if info.eta_seconds is None else round(info.eta_seconds / 60)
    return (info.position, minutes)
