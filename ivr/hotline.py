"""The hotline service: what runs for each FastAGI session.

It takes the config current when the call arrives (so a reload never changes a call in
progress), builds the call's channel over AGI and runs the menu engine. Each session is
registered in the live-call registry (:class:`LiveCalls`) while it runs, so that a call whose
server dies is still closed with a record by another server.

A graceful stop (:meth:`HotlineService.stop`): the waiting callers are handed back to the
dialplan with their places, callers in the menu get a grace period, callers talking to an
operator or in the survey finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from ivr.agi.channel import AGIChannel, call_info_from_env
from ivr.agi.session import AGISession
from ivr.config.bundle import ConfigBundle
from ivr.engine.attempt import LiveInfo, snapshot
from ivr.engine.callstore import CallStore
from ivr.engine.menu import MenuEngine
from ivr.engine.parts import QueueWaiter, TicketLookup
from ivr.engine.record import CallRecord
from ivr.queuewait.waiter import SurveySink
from ivr.runtime import ConfigHolder
from queueing.hub import QueueHub
from queueing.queue import QueueGateway, RedisQueue
from queueing.stopping import stop_task

log = logging.getLogger(__name__)

#: FastAGI path of the operator-answered notice (the Dial U() gosub ``hotline-answered`` on the
#: operator's channel, args: the caller's uniqueid and the agent).
ANSWERED_SCRIPT = "answered"


class HotlineService:
    def __init__(
        self,
        holder: ConfigHolder,
        queue: QueueGateway,
        store: CallStore,
        tickets: TicketLookup | None = None,
        waiter: QueueWaiter | None = None,
        surveys: HeldSurveys | None = None,
        answered: Callable[[str, str], Awaitable[None]] | None = None,
        *,
        tracker: LiveCalls | None = None,
        redis_patience: float = 60.0,
        paths: Callable[[str], str] | None = None,
        recordings: Callable[[str], str] | None = None,
    ) -> None:
        self.holder = holder
        self.queue = queue
        self.store = store
        self.tickets = tickets
        self.waiter = waiter  # keeps queued callers company (ivr.queuewait.waiter); None: hand off
        self.surveys = surveys  # survey scores, written once the call record is saved
        self.answered = answered  # an operator answered a queued caller (CONNECT, live)
        self.tracker = tracker  # the live-call registry; None: none
        if tracker is not None and tracker.earlier is None and isinstance(store, EarlierAttempts):
            # attempts of dead servers come back into the call records through this store
            tracker.earlier = store
        self.redis_patience = redis_patience
        self.paths = paths  # a prompt's path as Asterisk sees it (Settings.for_asterisk)
        self.recordings = recordings  # a recording's (Settings.recording_for_asterisk)
        self.server = str(getattr(queue, "server", ""))
        self.live: dict[str, CallRecord] = {}  # the calls in progress (all engines)
        self._sessions: dict[str, asyncio.Task[Any]] = {}
        self.stopping = False
        self._engine: MenuEngine | None = None

    def engine(self, bundle: ConfigBundle) -> MenuEngine:
        engine = self._engine
        if engine is None or engine.config is not bundle:
            engine = MenuEngine(
                bundle,
                self.queue,
                self.store,
                self.tickets,
                waiter=self.waiter,
                server=self.server,
                tracker=self.tracker,
                live=self.live,
                redis_patience=self.redis_patience,
            )
            self._engine = engine
        engine.stopping = self.stopping
        return engine

    async def handle(self, session: AGISession) -> None:
        if session.script == ANSWERED_SCRIPT:
            await self._answered(session)
            return
        engine = self.engine(self.holder.current)
        info = call_info_from_env(session.env)
        task = asyncio.current_task()
        if task is not None:
            self._sessions[info.uniqueid] = task
        try:
            await engine.run(
                AGIChannel(session, paths=self.paths, recordings=self.recordings), info
            )
        finally:
            if self._sessions.get(info.uniqueid) is task:
                del self._sessions[info.uniqueid]
            if self.surveys is not None:
                await self.surveys.flush(info.uniqueid)

    async def stop(self, *, menu_grace: float = 20.0, limit: float = 3600.0) -> None:
        """Graceful stop (the FastAGI server no longer accepts calls): waiting callers are
        handed back with their places (their sessions end within a wait chunk, without
        HOTLINE_DONE: the dialplan takes them to the next server); callers in the menu get
        ``menu_grace`` seconds, then their sessions end (recorded ``handed-back``); callers
        talking to an operator or in the survey finish, for up to ``limit`` seconds."""
        self.stopping = True
        if self._engine is not None:
            self._engine.stopping = True
        if self.tracker is not None:
            self.tracker.keep = True  # handed-back calls: not lost while this process runs
        hand_back = getattr(self.waiter, "hand_back", None)
        if hand_back is not None:
            hand_back()
        loop = asyncio.get_running_loop()
        started = loop.time()
        told = False
        while self._sessions:
            elapsed = loop.time() - started
            if elapsed >= limit:
                log.warning("[HL-SRV-012] stop: %d call(s) still going after %.0f s, ended",
                            len(self._sessions), elapsed)  # fmt: skip
                await asyncio.gather(*(stop_task(t) for t in list(self._sessions.values())))
                break
            if elapsed >= menu_grace:
                for uid, task in list(self._sessions.items()):
                    record = self.live.get(uid)
                    if record is None or in_menu(record):
                        task.cancel()
                if not told:
                    told = True
                    log.info("stop: %d call(s) with an operator or in the survey finish",
                             len(self._sessions))  # fmt: skip
            await asyncio.sleep(0.2)
        if self.tracker is not None:
            await self.tracker.drain()

    async def _answered(self, session: AGISession) -> None:
        """The operator's channel, answered: ``answered,<caller uniqueid>,<agent>``. The queue
        records CONNECT now (not when the call ends); HOTLINE_ANSWERED=1 tells the gosub that
        it is done (else it tries the next FastAGI host). Never holds the call up: any
        problem is logged and the bridge goes ahead."""
        if len(session.args) < 2 or self.answered is None:
            log.warning("[HL-AGI-030] /answered without a queue or arguments: %s", session.args)
            return
        uid, agent = session.args[0], session.args[1]
        try:
            await self.answered(uid, agent)
        except Exception as exc:
            log.warning("[HL-AGI-031] operator %s answered %s, not recorded now: %s", agent, uid,
                        exc)  # fmt: skip
        await AGIChannel(session).set_variable("HOTLINE_ANSWERED", "1")


def in_menu(record: CallRecord) -> bool:
    """The call is still in the menu (not queued, not put through, not dialling out)."""
    if record.outcome != "in_progress":
        return False
    return not (record.events and record.events[-1].kind == "transfer")


@runtime_checkable
class EarlierAttempts(Protocol):
    """Where the attempt a dead server never recorded goes (:meth:`CallRecordStore.earlier_attempt
    <ivr.records.store.CallRecordStore.earlier_attempt>`)."""

    async def earlier_attempt(self, uniqueid: str, attempt: int, snapshot: str) -> None: ...


class LiveCalls:
    """The live-call registry on Redis (:class:`ivr.engine.attempt.CallTracker`): each
    attempt registers the call (``RedisQueue.call_started``) and this server's hub renews its
    lease; its snapshot (the record so far) is updated at enqueue, offer and answer; once the
    attempt's record is stored the call is forgotten, or left for the next attempt when it
    was handed on. Redis errors are logged and never touch the call.

    A call that comes back after the server of its previous attempt died (another server id
    registered it, and left a snapshot): that attempt's snapshot goes to ``earlier`` as the
    attempt's record (synthetic: the real one, should it arrive, replaces it), in the
    background - the call never waits on the database.

    While the server stops (:attr:`keep`), calls handed on stay tracked (their leases renewed)
    until the process exits, so that they are not taken for lost while the next server has
    not taken them up."""

    def __init__(
        self,
        queue: RedisQueue,
        hub: QueueHub | None = None,
        *,
        earlier: EarlierAttempts | None = None,
    ) -> None:
        self.queue = queue
        self.hub = hub
        self.earlier = earlier
        self.keep = False
        self._writes: set[asyncio.Task[None]] = set()

    async def started(self, record: CallRecord) -> LiveInfo | None:
        uid = record.uniqueid
        try:
            live = await self.queue.call_started(uid, record.attempt, snapshot(record))
        except Exception as exc:
            log.warning("[HL-SRV-010] call %s not registered as live (Redis: %s); it goes on",
                        uid, exc)  # fmt: skip
            return None
        if self.hub is not None:
            self.hub.track_call(uid)
        info = LiveInfo(
            str(live.server),
            int(live.attempt),
            bool(live.done),
            str(live.agent or ""),
            live.snapshot,
        )
        if info.snapshot and info.attempt > 0 and info.server not in ("", self.queue.server):
            self._record_earlier(uid, info)
        return info

    def _record_earlier(self, uid: str, info: LiveInfo) -> None:
        if self.earlier is None:
            return
        earlier = self.earlier

        async def write() -> None:
            try:
                await earlier.earlier_attempt(uid, info.attempt, info.snapshot)
            except Exception:
                log.exception("[HL-SRV-014] attempt %d of call %s (server %s gone) could not be "
                              "recorded from its snapshot; the call's record lacks its path",
                              info.attempt, uid, info.server)  # fmt: skip

        task = asyncio.create_task(write(), name=f"earlier-attempt-{uid}")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def drain(self) -> None:
        """Wait for the earlier attempts handed to ``earlier`` (before the store closes)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    def folded_note(self, queue: RedisQueue, record: CallRecord) -> str | None:
        """The note of an operator's answer rides on the queue's own step when ``queue`` is
        the one this registry writes through (:class:`ivr.queuewait.bridge.NotesThroughQueue`)."""
        return snapshot(record) if queue is self.queue else None

    async def note(self, record: CallRecord, *, done: bool = False) -> None:
        try:
            await self.queue.call_note(record.uniqueid, snapshot(record), done=done)
        except Exception as exc:
            log.warning("[HL-SRV-011] live call %s not updated (Redis: %s)%s", record.uniqueid,
                        exc, "; HOTLINE_DONE on the channel stands" if done else "")  # fmt: skip

    async def ended(self, record: CallRecord, *, finished: bool) -> None:
        if self.hub is not None and (finished or not self.keep):
            self.hub.untrack_call(record.uniqueid)
        if not finished:
            return
        try:
            await self.queue.call_ended(record.uniqueid)
        except Exception as exc:
            log.warning("[HL-SRV-013] live call %s not closed in Redis (%s); its record is "
                        "stored", record.uniqueid, exc)  # fmt: skip


class HeldSurveys:
    """A :class:`ivr.queuewait.waiter.SurveySink` that holds a call's survey score until its call
    record is saved (the survey is taken inside the call, the record written at its end), then
    hands it to the real sink (the ticket store), which sets it on the call and its ticket."""

    def __init__(self, sink: SurveySink) -> None:
        self.sink = sink
        self._held: dict[str, int] = {}

    async def survey(self, uniqueid: str, score: int) -> None:
        self._held[uniqueid] = score

    async def flush(self, uniqueid: str) -> None:
        score = self._held.pop(uniqueid, None)
        if score is not None:
            try:
                await self.sink.survey(uniqueid, score)
            except Exception:
                log.exception("[HL-QUE-025] survey of %s could not be stored", uniqueid)
