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
- optionally the **event pump** into the event sink (:mod:`queueing.pump`);
- the **live calls** of this process (:meth:`QueueHub.track_call`), renewed with the leases;
  the reaper takes those whose server died and hands each to ``on_lost`` (exactly one
  server gets each);
- the **watch on Redis**: every tick checks the epoch token (``keys.epoch``). When Redis
  forgot (restarted without persistence, FLUSHALL, a failover that lost writes), the hub
  re-asserts what it knows: its waiting callers at their original places, its callers
  talking to an operator, its live calls, and the operators (mirrored every few seconds) in
  their states; and the pump hands the sink the events Redis lost, from the journal.

The per-call side, keeping one caller company, is :mod:`ivr.queuewait.waiter`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

from queueing import keys
from queueing.callback import CallbackDialler
from queueing.events import EventJournal, QueueEventSink
from queueing.pump import EventPump, Outage
from queueing.queue import (
    AgentMirror,
    LostCall,
    Offer,
    QueueRequest,
    RedisQueue,
    TickResult,
)
from queueing.stopping import stop_task

log = logging.getLogger(__name__)

UNCLAIMED_SECONDS = 120.0  # an offer that arrived before its session registered
MIRROR_SECONDS = 5.0  # how often the operators' mirror is refreshed
LOST_RETRY_SECONDS = 10.0  # a lost call on_lost failed to close is tried again after this
LOST_MAX = 100  # lost calls taken per tick


class QueueHub:
    """The per-process part of the queue: offers listener, lease renewer, reaper, pump."""

    def __init__(
        self,
        queue: RedisQueue,
        sink: QueueEventSink | None = None,
        *,
        reaper: bool = True,
        dialler: CallbackDialler | None = None,
        on_lost: Callable[[LostCall], Awaitable[None]] | None = None,
    ) -> None:
        self.queue = queue
        self.settings = queue.settings
        self.sink = sink
        self.reaper = reaper
        self.dialler = dialler
        self.on_lost = on_lost
        if sink is not None and queue.journal is None:
            queue.journal = EventJournal()
        self._requests: dict[str, QueueRequest] = {}  # waiting callers' requests
        self._bridged: dict[str, str] = {}  # caller -> the agent talking to it
        self._calls: set[str] = set()  # live calls whose leases this process renews
        self._agents: dict[str, AgentMirror] = {}  # the logged-in operators, mirrored
        self._next_mirror = 0.0
        self.epoch = ""  # the epoch token of Redis as this hub knows it ("" not yet)
        self._restore_pending = False
        self._recovering = 0  # hand-overs of lost events under way
        self.restores = 0
        self._outages = {
            "listen": Outage("HL-QUE-021", "queue offers listener"),
            "renew": Outage("HL-QUE-022", "could not renew the queue leases"),
            "tick": Outage("HL-QUE-023", "queue reaper"),
        }
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
        if uniqueid in self._waiting:
            self._bridged[uniqueid] = agent

    def register(self, uniqueid: str, request: QueueRequest | None = None) -> asyncio.Queue[Offer]:
        """The offers for this caller. An offer that arrived before is handed over. With the
        request, the caller's entry is re-asserted (original enqueue time, score, skill)
        should Redis forget it."""
        if request is not None:
            self._requests[uniqueid] = request
        q = self._waiting.get(uniqueid)
        if q is None:
            q = self._waiting[uniqueid] = asyncio.Queue()
        early = self._unclaimed.pop(uniqueid, None)
        if early is not None:
            q.put_nowait(early[0])
        return q

    def has_offer(self, uniqueid: str) -> bool:
        """Whether an offer for this registered caller waits to be taken."""
        q = self._waiting.get(uniqueid)
        return q is not None and not q.empty()

    def unregister(self, uniqueid: str) -> None:
        self._waiting.pop(uniqueid, None)
        self._requests.pop(uniqueid, None)
        self._bridged.pop(uniqueid, None)

    def bridged(self, uniqueid: str, agent: str) -> None:
        """This session's caller is talking to ``agent`` (re-asserted as connected to that
        agent, the agent busy with it, should Redis forget)."""
        self._bridged[uniqueid] = agent

    def track_call(self, uniqueid: str) -> None:
        """Renew this live call's lease (``RedisQueue.call_started``) with the rest."""
        self._calls.add(uniqueid)

    def untrack_call(self, uniqueid: str) -> None:
        self._calls.discard(uniqueid)

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
                log.exception("[HL-QUE-024] callback %s failed", offer.uniqueid)
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
        # the epoch token (set when missing); while Redis is away, the first tick learns it
        with contextlib.suppress(RedisError, OSError):
            self.epoch = await self.queue.epoch()
        self._tasks.append(asyncio.create_task(self._listen(), name="queue-listener"))
        self._tasks.append(asyncio.create_task(self._renew(), name="queue-leases"))
        self._tasks.append(asyncio.create_task(self._tick(), name="queue-reaper"))
        if self.sink is not None:
            self.pump = EventPump(
                self.queue.client,
                self.sink,
                self.server,
                self.queue.centre,
                journal=self.queue.journal,
                epoch=lambda: "" if self._restore_pending or self._recovering else self.epoch,
            )
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
                self._outages["listen"].over()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._outages["listen"].failed(exc, "retrying every second")
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
        """Renew the leases of this process's callers and live calls, in one round trip."""
        return await self.queue.renew(self.sessions, self._calls)

    async def _renew(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            try:
                await self.renew_now()
                self._outages["renew"].over()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._outages["renew"].failed(
                    exc, f"retrying every {self.settings.lease_seconds / 3:g} s"
                )

    async def tick_now(self, *, mirror: bool | None = None) -> TickResult:
        """One tick: the reaper (when this hub reaps), the lost calls (when it has on_lost),
        the epoch check and, every few seconds (or when ``mirror``), the operators' mirror;
        one round trip. When Redis forgot, the hub re-asserts what it knows
        (:meth:`restore_now`)."""
        if mirror is None:
            mirror = time.monotonic() >= self._next_mirror or self.queue.agents_changed
        if mirror:
            self.queue.agents_changed = False
        result = await self.queue.tick(
            500 if self.reaper else 0,
            lost=LOST_MAX if self.reaper and self.on_lost is not None else 0,
            epoch=self.epoch or "?",
            mirror=mirror,
        )
        if result.forgot and self.epoch:
            log.warning(
                "[HL-QUE-061] Redis forgot the queue (restarted without persistence, flushed or "
                "failed over): re-asserting this server's callers, calls and operators"
            )
            self._restore_pending = True
        elif result.agents is not None and not result.forgot and not self._restore_pending:
            self._agents = {a.id: a for a in result.agents}
            self._next_mirror = time.monotonic() + MIRROR_SECONDS
        self.epoch = result.epoch
        if self._restore_pending:
            await self.restore_now()
        if result.logouts or result.reaped:
            log.info("queue reaper: %s", result)
        for call in result.lost:
            await self._close_lost(call)
        return result

    async def restore_now(self) -> tuple[int, int, int, int]:
        """Re-assert what this process knows (created only where missing), then hand the
        sink the events Redis lost. Returns callers, bridged, calls, agents re-created."""
        self._restore_pending = True
        fate = self.queue.fate
        callers, bridged = [], []
        for uid, request in self._requests.items():
            if fate.get(uid) == "closed" or uid not in self._waiting:
                continue
            if uid in self._bridged:
                bridged.append((request, self._bridged[uid]))
            else:
                callers.append(request)
        calls = [
            LostCall(uid, self.server, memo.attempt, memo.done, memo.snapshot)
            for uid in self._calls
            if (memo := self.queue.live.get(uid)) is not None
        ]
        done = await self.queue.restore(
            callers=callers, bridged=bridged, calls=calls, agents=self._agents.values()
        )
        if self.pump is not None:  # not in the tick: the sink may be slow
            self._recovering += 1
            task = asyncio.create_task(self._recover(self.pump), name="queue-events-recover")
            self._dials.add(task)
            task.add_done_callback(self._dials.discard)
        self._restore_pending = False
        self.restores += 1
        log.warning(
            "[HL-QUE-061] re-asserted %d waiting callers, %d callers talking, %d live calls and "
            "%d operators that Redis had forgotten",
            *done,
        )
        return done

    async def _recover(self, pump: EventPump) -> None:
        """Hand the sink the events Redis lost (retried until the sink takes them)."""
        outage = Outage("HL-QUE-062", "queue events Redis lost could not be written")
        try:
            while not self._closing:
                try:
                    await pump.recover()
                    outage.over()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    outage.failed(exc, "retrying every second")
                    await asyncio.sleep(1.0)
        finally:
            self._recovering -= 1

    async def _close_lost(self, call: LostCall) -> None:
        assert self.on_lost is not None
        try:
            await self.on_lost(call)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "[HL-QUE-063] lost call %s (server %s) could not be closed; tried again in %g s",
                call.uniqueid,
                call.server,
                LOST_RETRY_SECONDS,
            )
            try:  # put it back (unless it came back meanwhile) so that a reaper retries it
                await self.queue.restore(calls=[call], lease_seconds=LOST_RETRY_SECONDS)
            except Exception:
                log.exception(
                    "[HL-QUE-063] lost call %s is dropped: Redis refused it back", call.uniqueid
                )

    async def _tick(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.settings.tick_seconds)
            try:
                await self.tick_now()
                self._outages["tick"].over()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._outages["tick"].failed(exc, "retrying every tick")


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
