"""Keeping a queued caller company, and putting it through to the agent.

The per-process part (offers listener, leases, reaper, event pump) is
:class:`queueing.hub.QueueHub`; this module is the per-call part.

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
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ivr.engine.channel import Channel
from ivr.engine.record import CallRecord
from ivr.errors import AGIHangup
from queueing.config import OverflowRule, QueueFile, QueueSettings
from queueing.hub import QueueHub
from queueing.queue import Offer, QueuePlace, QueueRequest, WaitInfo

log = logging.getLogger(__name__)

__all__ = ["QueueHub", "RedisQueueWaiter", "SurveySink", "TicketNumbers"]

# Dial statuses after which the caller goes back to its place.
NOT_ANSWERED = {"NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION", "DONTCALL", "TORTURE", ""}

#: How often a waiting session looks at its place for the callback offer and overflow rules
#: (one round trip; offers themselves arrive at once through the hub).
POLICY_SECONDS = 5.0
SURVEY_KEYS = "12345"


class SurveySink(Protocol):
    """Where a keypad survey result goes (the ticket store)."""

    async def survey(self, uniqueid: str, score: int) -> None: ...


class TicketNumbers(Protocol):
    """Hands out the ticket number a call carries to its operator (the ticket store)."""

    async def reserve_ticket(self, uniqueid: str) -> str | None: ...


def number_prompts(n: int) -> list[str]:
    """Asterisk core ``digits/`` files saying ``n`` (0..99)."""
    n = max(0, min(99, n))
    if n <= 20 or n % 10 == 0:
        return [f"digits/{n}"]
    return [f"digits/{n - n % 10}", f"digits/{n % 10}"]


def usable_number(caller: str) -> bool:
    """A number a callback can be dialled to."""
    digits = caller.lstrip("+")
    return len(digits) >= 3 and digits.isdigit()


@dataclass
class _Wait:
    """One caller's wait."""

    channel: Channel
    request: QueueRequest
    record: CallRecord
    offers: asyncio.Queue[Offer]
    skill: str
    left: bool = False  # the entry is no longer this session's (callback, overflow exit)
    skills_tried: set[str] = field(default_factory=set)
    overflowed: set[str] = field(default_factory=set)
    music: bool = False


class RedisQueueWaiter:
    """The menu engine's queue waiter, on a :class:`QueueHub`.

    ``options`` is queue.yaml (callback offer, survey, overflow rules), or a function that
    returns the current one (a reload then applies to the next decision); ``survey`` receives
    the keypad survey; ``prompt`` turns a menu.yaml prompt name into the file to play;
    ``callbacks`` says whether a callback can be offered (default: the dialler is enabled in
    queue.yaml, or this hub has one)."""

    def __init__(
        self,
        hub: QueueHub,
        *,
        clock: Callable[[], float] = time.monotonic,
        options: QueueFile | Callable[[], QueueFile] | None = None,
        survey: SurveySink | None = None,
        prompt: Callable[[str], str] = lambda name: name,
        messages_dir: str = "recordings/messages",
        calls_dir: str | None = None,
        callbacks: bool | None = None,
        tickets: TicketNumbers | None = None,
    ) -> None:
        self.hub = hub
        self.queue = hub.queue
        self.clock = clock
        if options is None:
            fixed = QueueFile(settings=hub.settings)
            self._options: Callable[[], QueueFile] = lambda: fixed
        elif isinstance(options, QueueFile):
            self._options = lambda: options
        else:
            self._options = options
        self.survey_sink = survey
        self.prompt = prompt
        self.messages_dir = messages_dir
        self.calls_dir = calls_dir  # where operator conversations are recorded; None: not
        self.tickets = tickets  # ticket numbers for HOTLINE_TICKET; None: not set
        # not told: callbacks when queue.yaml enables the dialler, and only while a dialler
        # is logged in to AMI (so that a callback is not promised when none can be dialled)
        self._ask_diallers = callbacks is None
        if callbacks is None:
            callbacks = self.options.dialler.enabled or hub.dialler is not None
        self.callbacks = callbacks

    @property
    def options(self) -> QueueFile:
        return self._options()

    @property
    def settings(self) -> QueueSettings:
        return self._options().settings

    async def wait(
        self, channel: Channel, request: QueueRequest, place: QueuePlace, record: CallRecord
    ) -> None:
        uid = request.uniqueid
        offers = self.hub.register(uid)
        w = _Wait(channel, request, record, offers, place.skill or request.skill)
        w.skills_tried.add(w.skill)
        connected = False
        try:
            if place.state == "connected":
                # the process that bridged this call died; the call has ended since
                await self._complete(uid, place.agent, record)
                return
            connected = await self._wait(w)
        except AGIHangup:
            if not connected and not w.left:
                wait = await self.queue.abandon(uid, "hangup")
                record.add("abandon", None, f"waited {wait or 0:.0f}s")
            raise
        finally:
            self.hub.unregister(uid)
        if connected:
            await self._survey(w)

    async def _music(self, w: _Wait, on: bool) -> None:
        if w.music != on:
            await w.channel.music_on_hold(on, self.settings.moh_class)
            w.music = on

    async def _wait(self, w: _Wait) -> bool:
        """True when an agent answered; False when the caller left the queue another way
        (callback, message, sub-centre)."""
        s = self.settings
        ann = s.announce
        cb = self.options.callback
        started = self.clock()
        waited_before = max(0.0, time.time() - w.request.enqueued_at)
        next_announce = started + ann.first_after_seconds
        next_policy = started
        next_cb_offer = started + max(0.0, cb.offer_after_seconds - waited_before)
        can_callback = self.callbacks and cb.enabled and usable_number(w.request.caller)
        cb_offered = False
        last_said: tuple[int, int] | None = None
        while True:
            if not w.offers.empty():
                offer = w.offers.get_nowait()
                await self._music(w, False)
                if await self._bridge(w, offer):
                    return True
                next_announce = self.clock()  # back in the queue: tell the caller where
                continue
            now = self.clock()
            if now >= min(next_policy, next_announce):
                info = await self.queue.wait_info(w.request.uniqueid)
                next_policy = now + POLICY_SECONDS
                if info.state == "waiting":
                    w.skill = info.skill or w.skill
                    waited = waited_before + now - started
                    rule = self.options.overflow.get(w.skill)
                    reason = None if rule is None else _overflow_reason(rule, info, waited)
                    if rule is not None and reason and w.skill not in w.overflowed:
                        if await self._overflow(w, rule, reason):
                            return False
                        continue
                    long_queue = (
                        cb.offer_position is not None and info.position >= cb.offer_position
                    )
                    if (
                        can_callback
                        and now >= next_cb_offer
                        and (long_queue or waited >= cb.offer_after_seconds)
                        and await self._can_call_back()
                    ):
                        await self._music(w, False)
                        w.record.add("callback_offer", None, f"position {info.position}")
                        key = await w.channel.play(self.prompt(cb.offer_prompt), cb.key)
                        cb_offered = True
                        next_cb_offer = now + cb.repeat_seconds
                        if key == cb.key and await self._callback(w, cb.key):
                            return False
                        continue
                    if (ann.position or ann.estimate) and now >= next_announce:
                        said = _said(info)
                        if said != last_said:
                            await self._music(w, False)
                            await self._announce(w.channel, info, w.record)
                            last_said = said
                        next_announce = now + ann.interval_seconds
            await self._music(w, True)
            digit = await w.channel.wait_digit(s.wait_chunk_seconds)
            if digit and cb_offered and digit == cb.key and await self._callback(w, digit):
                return False

    async def _can_call_back(self) -> bool:
        if not self.callbacks:
            return False
        return not self._ask_diallers or await self.hub.can_dial()

    async def _callback(self, w: _Wait, key: str, prompt: str | None = None) -> bool:
        """Turn the caller into a callback entry; False if an agent was reserved meanwhile."""
        uid = w.request.uniqueid
        result = await self.queue.request_callback(uid, key)
        if not result.ok:
            return False
        w.left = True
        detail = "" if result.status == "callback" else f"merged into {result.ref}"
        w.record.add("callback", None, f"position {result.position} {detail}".strip())
        w.record.finish("callback", w.skill)
        await self._music(w, False)
        await w.channel.set_variable("HOTLINE_ROUTE", "callback")
        await w.channel.play(self.prompt(prompt or self.options.callback.confirm_prompt))
        return True

    async def _overflow(self, w: _Wait, rule: OverflowRule, reason: str) -> bool:
        """Apply an overflow rule; True when the caller left the queue."""
        uid = w.request.uniqueid
        w.overflowed.add(w.skill)
        action = rule.action
        if action == "callback" and not (
            usable_number(w.request.caller) and await self._can_call_back()
        ):
            action = "message"  # nobody could call back: the caller is never dropped
        w.record.add("overflow", None, f"{w.skill} {action} ({reason})")
        if action == "widen":
            assert rule.skill is not None
            if rule.skill in w.skills_tried:
                return False
            if rule.prompt:
                await self._music(w, False)
                await w.channel.play(self.prompt(rule.prompt))
            place = await self.queue.move(uid, rule.skill, reason)
            if place.state == "waiting" or place.state == "offered":
                w.skills_tried.add(rule.skill)
                w.skill = rule.skill
                w.record.skill = rule.skill
            return False
        if action == "callback":
            return await self._callback(w, "overflow", rule.prompt)
        await self._music(w, False)
        if action == "transfer":
            assert rule.dial is not None
            if await self.queue.leave(uid, "transfer", rule.dial, reason) is None:
                return False  # connected meanwhile (cannot happen while we wait) or gone
            w.left = True
            if rule.prompt:
                await w.channel.play(self.prompt(rule.prompt))
            await w.channel.set_variable("HOTLINE_ROUTE", "subcentre")
            await w.channel.set_variable("HOTLINE_TRANSFER", rule.dial)
            result = await w.channel.dial(rule.dial, self.settings.ring_timeout, "")
            w.record.add("dial", None, f"{rule.dial} {result.status}")
            if result.answered:
                w.record.finish("transfer", rule.dial)
                return True
            # the sub-centre did not answer: back to the original place (same score)
            request = dataclasses.replace(w.request, skill=w.skill)
            await self.queue.enqueue(request)
            w.left = False
            await w.channel.set_variable("HOTLINE_ROUTE", "queue")
            return False
        # message: the recording becomes a ticket through the call record
        if await self.queue.leave(uid, "message", "", reason) is None:
            return False
        w.left = True
        w.record.finish("message", w.skill)
        await w.channel.set_variable("HOTLINE_ROUTE", "message")
        if rule.prompt:
            await w.channel.play(self.prompt(rule.prompt))
        path = f"{self.messages_dir}/{time.strftime('%Y%m%d')}/{uid}"
        rec = await w.channel.record(path, "wav", "#", rule.message_seconds, 5.0)
        w.record.messages.append(rec.path)
        w.record.add("message", None, f"{rec.path} {rec.ended_by}")
        return True

    async def _survey(self, w: _Wait) -> None:
        """After an answered call, if the caller is still there: 1..5 on the keypad."""
        sv = self.options.survey
        if not sv.enabled or self.survey_sink is None:
            return
        uid = w.request.uniqueid
        try:
            digit = await w.channel.play(self.prompt(sv.question_prompt), SURVEY_KEYS)
            if not digit:
                digit = await w.channel.wait_digit(sv.timeout_seconds)
            if not digit or digit not in SURVEY_KEYS:
                w.record.add("survey", None, "no answer")
                return
            w.record.add("survey", None, digit)
            try:
                await self.survey_sink.survey(uid, int(digit))
            except Exception:
                log.exception("HL-QUE-025 survey of %s could not be stored", uid)
            await w.channel.play(self.prompt(sv.thanks_prompt))
        except AGIHangup:
            w.record.add("survey", None, "hung up")

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

    async def _bridge(self, w: _Wait, offer: Offer) -> bool:
        s = self.settings
        channel, request, record = w.channel, w.request, w.record
        uid = request.uniqueid
        record.add("offer", None, f"{offer.agent} {offer.interface}")
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
        if self.calls_dir is not None and record.recording is None:
            # Once per call: a caller offered to a second operator stays in one recording.
            record.recording = f"{self.calls_dir}/{time.strftime('%Y%m%d')}/{uid}.wav"
            await channel.start_recording(record.recording)
        dialled_at = self.queue.clock()
        options = s.dial_options
        if s.answered_gosub:
            # run on the operator's channel when it answers: CONNECT at the live moment
            options += f"U({s.answered_gosub}^{uid}^{offer.agent})"
        result = await channel.dial(offer.interface, s.ring_timeout, options)
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


def _overflow_reason(rule: OverflowRule, info: WaitInfo, waited: float) -> str | None:
    if rule.no_agents and info.staffed == 0:
        return "no_agents"
    if rule.max_waiting is not None and info.waiting > rule.max_waiting:
        return "waiting"
    if rule.max_wait_seconds is not None and waited > rule.max_wait_seconds:
        return "wait"
    return None


def _said(info: WaitInfo) -> tuple[int, int]:
    minutes = -1 if info.eta_seconds is None else round(info.eta_seconds / 60)
    return (info.position, minutes)
