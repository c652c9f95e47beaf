"""Putting a waiting caller through to the operator reserved for it (a base class of
:class:`ivr.queuewait.waiter.RedisQueueWaiter`).

Music off, ``HOTLINE_AGENT``, ``HOTLINE_QUEUE_WAIT`` (and ``HOTLINE_TICKET`` when the record
knows one), then the agent's interface is dialled with the ring timeout. ANSWER: the call is
done (``HOTLINE_DONE=1`` on the channel, the live-call registry) before anything else, CONNECT
at the moment the agent answered (``ANSWEREDTIME``), then COMPLETE of whoever hung up (the
three in one round trip when the registry is the queue's: :class:`NotesThroughQueue`).
NOANSWER, BUSY, CHANUNAVAIL, CONGESTION: RINGNOANSWER, the agent is paused "no answer" and the
caller is back at its original place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeGuard, TypeVar, runtime_checkable

from ivr.engine.attempt import CallTracker, has_state
from ivr.engine.provides import provides
from ivr.engine.record import CallRecord, recording_name, utcnow
from ivr.errors import AGIHangup
from ivr.queuewait.handover import add_legs, carry_out, transfer_request
from ivr.queuewait.overflow import REDIS_AWAY, OverflowActions, Wait
from queueing.hub import QueueHub
from queueing.queue import Offer, RedisQueue
from queueing.transfer import TransferRequest

log = logging.getLogger(__name__)

_MISSING_GOSUB: set[str] = set()  # answered-gosub contexts found missing (warned once each)
T = TypeVar("T")

# Dial statuses after which the caller goes back to its place.
NOT_ANSWERED = {"NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION", "DONTCALL", "TORTURE", ""}


class TicketNumbers(Protocol):
    """Hands out the ticket number a call carries to its operator (the ticket store)."""

    async def reserve_ticket(self, uniqueid: str) -> str | None: ...


@runtime_checkable
class NotesThroughQueue(Protocol):
    """A tracker that keeps its registry through the queue (:class:`ivr.hotline.LiveCalls`):
    the note of the operator's answer then rides on the queue's own step, one round trip
    for note, CONNECT and COMPLETE (:meth:`queueing.queue.RedisQueue.answered`)."""

    def folded_note(self, queue: RedisQueue, record: CallRecord) -> str | None:
        """The record's snapshot for ``queue``'s step; None when ``queue`` does not keep this
        registry (then the tracker is told apart)."""
        ...


def _folds_notes(tracker: object) -> TypeGuard[NotesThroughQueue]:
    return provides(tracker, NotesThroughQueue)


class Bridging(OverflowActions):
    """Dial, answer, complete; the waiter supplies the hub, tickets, tracker and settings."""

    hub: QueueHub
    tickets: TicketNumbers | None
    tracker: CallTracker | None
    record_calls: bool

    async def _patiently(
        self, op: Callable[[], Awaitable[T]], what: str, patience: float
    ) -> T | None:
        """Run a queue operation, trying again for ``patience`` seconds while Redis is
        unreachable; None (logged) when it stayed away."""
        deadline = time.monotonic() + patience
        while True:
            try:
                return await op()
            except REDIS_AWAY as exc:
                if time.monotonic() >= deadline:
                    log.error("[HL-QUE-027] %s not recorded: Redis unreachable (%s)", what, exc)
                    return None
                await asyncio.sleep(0.5)

    async def _bridge(self, w: Wait, offer: Offer) -> bool:
        s = self.settings
        channel, request, record = w.channel, w.request, w.record
        uid = request.uniqueid
        record.add("offer", None, f"{offer.agent} {offer.interface}")
        if self.tracker is not None:
            await self.tracker.note(record)
        waited = max(0, round(time.time() - request.enqueued_at))
        await channel.set_variable("HOTLINE_AGENT", offer.agent)
        await channel.set_variable("HOTLINE_QUEUE_WAIT", str(waited))
        if self.tickets is not None:
            # the ticket number the operator's desk shows, and the ticket accepted takes
            ticket = await self.tickets.reserve_ticket(uid)
            if ticket:
                await channel.set_variable("HOTLINE_TICKET", ticket)
                if ("ticket", ticket) not in ((e.kind, e.detail) for e in record.events):
                    record.add("ticket", None, ticket)
        if self.record_calls and record.recording is None:
            # Once per call: a caller offered to a second operator stays in one recording.
            record.recording = recording_name("calls", uid) + ".wav"
            await channel.start_recording(record.recording)
        dialled_at = self.queue.clock()
        options = s.dial_options
        if s.answered_gosub and await self._has_gosub(w, s.answered_gosub):
            # run on the operator's channel when it answers: CONNECT at the live moment
            options += f"U({s.answered_gosub}^{uid}^{offer.agent})"
        result = await channel.dial(offer.interface, s.ring_timeout, options)
        record.add("dial", None, f"{offer.interface} {result.status}")
        if result.answered:
            await self._answered(w, offer, dialled_at, result.answered_seconds)
            return True
        if result.status in NOT_ANSWERED:
            await self.queue.no_answer(uid, offer.agent, result.status or "NOANSWER")
            record.add("noanswer", None, offer.agent)
            return False
        # CANCEL: the caller hung up while the agent rang
        raise AGIHangup(f"caller hung up while {offer.agent} rang ({result.status})")

    async def _answered(
        self, w: Wait, offer: Offer, dialled_at: float, answered_seconds: float
    ) -> None:
        """The operator answered and the conversation is over: the call is done (on the
        channel and in the registry) before anything else happens, then CONNECT and the
        COMPLETE of whoever hung up."""
        channel, record, uid, agent = w.channel, w.record, w.request.uniqueid, offer.agent
        record.finish("answered", agent)
        record.agent = agent
        with contextlib.suppress(AGIHangup):  # SET VARIABLE runs on a hung-up channel too
            await channel.set_variable("HOTLINE_DONE", "1")
        transfer = await transfer_request(channel)
        if transfer is not None:  # the desk took the operator's leg away (docs/transfers.md)
            await self._handed_over(w, offer, transfer, dialled_at, answered_seconds)
            return
        present: bool | None = None
        if has_state(channel):
            with contextlib.suppress(AGIHangup):
                present = await channel.caller_present()
            if present is None:
                present = False
            record.hangup_by = "agent" if present else "caller"
        snap: str | None = None
        if _folds_notes(self.tracker):
            snap = self.tracker.folded_note(self.queue, record)
        if self.tracker is not None and snap is None:
            await self.tracker.note(record, done=True)
        self.hub.bridged(uid, agent)  # re-asserted as connected should Redis forget it
        # ANSWEREDTIME is the talk time: the agent answered that long before Dial returned
        answered_at = max(dialled_at, self.queue.clock() - answered_seconds)
        who = "agent" if present else "caller"
        done = await self._patiently(
            lambda: self.queue.answered(uid, agent, answered_at, who, snap),
            f"CONNECT and COMPLETE of {uid}",
            10.0,
        )
        if done is not None:
            wait, after = done  # the wait in whole seconds, as queue_log's CONNECT has it
            record.queue_wait, record.queue_exit = float(math.floor(wait)), "connect"
            log.debug("call %s with %s complete (%s hung up), agent now %s", uid, agent, who,
                      after.state)  # fmt: skip

    async def _handed_over(
        self,
        w: Wait,
        offer: Offer,
        transfer: TransferRequest,
        dialled_at: float,
        answered_seconds: float,
    ) -> None:
        """The operator transferred the caller: CONNECT as for any answer, then the caller's
        part of the transfer (:mod:`ivr.queuewait.handover`); the operator is COMPLETEd at
        once for a blind transfer, when the caller leaves the conference otherwise."""
        record, uid, agent = w.record, w.request.uniqueid, offer.agent
        record.add("transfer", None, f"{transfer.mode} {transfer.target} by {transfer.agent}")
        if self.tracker is not None:
            await self.tracker.note(record, done=True)
        self.hub.bridged(uid, agent)
        answered_at = max(dialled_at, self.queue.clock() - answered_seconds)
        wait = await self._patiently(
            lambda: self.queue.connect(uid, agent, answered_at), f"CONNECT of {uid}", 10.0
        )
        if wait is not None:
            record.queue_wait, record.queue_exit = float(math.floor(wait)), "connect"
        if transfer.mode == "blind":
            await self._complete(uid, agent, record, "agent")
            await carry_out(w.channel, transfer, record)
        else:
            await self._complete(uid, agent, record, await carry_out(w.channel, transfer, record))
        record.ended_at = utcnow()  # the call went on through the transfer's legs
        record.hangup_by = "transfer"  # the call ended in a transfer: no survey
        await add_legs(record, self.queue.client, self.queue.centre)

    async def _has_gosub(self, w: Wait, context: str) -> bool:
        """Whether the dialplan has ``context`` (asked once per call, in the round trip of a
        ``GET FULL VARIABLE``): a dialplan of the admin's own without it would log an
        Asterisk ERROR on every answered call. Without it the answer is recorded when Dial
        returns."""
        if w.gosub is None:
            w.gosub = True
            if has_state(w.channel):
                found = await w.channel.evaluate(f"${{DIALPLAN_EXISTS({context},s,1)}}")
                w.gosub = found.strip() != "0"
                if not w.gosub and context not in _MISSING_GOSUB:
                    _MISSING_GOSUB.add(context)
                    log.warning(
                        "[HL-QUE-071] the dialplan has no [%s] (queue.yaml answered_gosub): the "
                        "operator's answer is recorded when Dial returns, not at once; add the "
                        "context (docs/asterisk.md) or set answered_gosub: null",
                        context,
                    )
        return w.gosub

    async def lost(self, uid: str, box: str, record: CallRecord | None = None) -> float | None:
        """The caller's Asterisk box went away: out of the queue as PBXLOST (an operator
        ringing for it is freed); when an operator had answered (the ``answered`` gosub made
        it ``connected``), the call is answered and completed instead."""
        info = await self._patiently(lambda: self.queue.wait_info(uid), f"place of {uid}", 5.0)
        if info is not None and info.state == "connected" and record is not None:
            record.finish("answered", info.agent)
            record.agent = info.agent
            await self._complete(uid, info.agent, record)
            return None
        wait = await self._patiently(
            lambda: self.queue.pbx_lost(uid, box), f"pbx-lost of {uid}", 5.0
        )
        if record is not None:
            record.add("queue_left", None, f"pbx-lost after {wait or 0:.0f}s")
        return wait

    async def _complete(
        self, uid: str, agent: str, record: CallRecord, who: str = "caller"
    ) -> None:
        state = await self._patiently(
            lambda: self.queue.complete(uid, agent, who), f"COMPLETE of {uid}", 10.0
        )
        if record.outcome != "answered":
            record.finish("answered", agent)
        log.debug("call %s with %s complete (%s hung up), agent now %s", uid, agent, who, state)
