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

Nobody is served twice: once the operator answered, the call is marked done on the channel
(``HOTLINE_DONE=1``) and in the live-call registry before the survey; after the survey,
``HOTLINE_SURVEYED=1``. A re-entry of such a call only takes the survey if it was not taken
(:meth:`RedisQueueWaiter.survey`).

Redis away for a while (a restart, a failover): the waiting caller keeps its music and its
place; the loop tries again each chunk, and gives up (the session ends, the dialplan takes
the caller on) only after ``redis_patience`` seconds. A server that stops hands its waiting
callers back (:meth:`RedisQueueWaiter.hand_back`): their sessions end without HOTLINE_DONE
and their entries stay in Redis for the next server (their leases renewed until the stopping
process exits).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ivr.engine.attempt import CallTracker, ChannelState, HandedBack
from ivr.engine.channel import Channel
from ivr.engine.record import CallRecord, recording_name
from ivr.errors import AGIHangup
from queueing.config import OverflowRule, QueueFile, QueueSettings
from queueing.hub import QueueHub
from queueing.queue import Offer, QueuePlace, QueueRequest, WaitInfo

log = logging.getLogger(__name__)

_MISSING_GOSUB: set[str] = set()  # answered-gosub contexts found missing (warned once each)
T = TypeVar("T")

#: Redis unreachable for now: retried, the caller keeps its music and its place
REDIS_AWAY = (RedisConnectionError, RedisTimeoutError)

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
    redis_away_since: float | None = None  # monotonic time Redis was first found away
    gosub: bool | None = None  # the dialplan has the answered gosub's context (None: not asked)


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
        record_calls: bool = False,
        callbacks: bool | None = None,
        tickets: TicketNumbers | None = None,
        tracker: CallTracker | None = None,
        redis_patience: float = 60.0,
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
        self.record_calls = record_calls  # MixMonitor the operator conversation
        self.tickets = tickets  # ticket numbers for HOTLINE_TICKET; None: not set
        self.tracker = tracker  # the live-call registry (offer, answer); None: none
        # how long a waiting caller keeps its music while Redis is unreachable
        self.redis_patience = redis_patience
        self.handing_back = False  # the server stops: waiting callers go back to the dialplan
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

    def hand_back(self) -> None:
        """The server stops: every waiting caller's session ends within a wait chunk, without
        HOTLINE_DONE and without ABANDON (its entry stays for the next server); callers
        already put through to an operator, or in the survey, finish as usual."""
        self.handing_back = True

    # -- the caller's place while the menu plays (placed when the call is answered) --------

    def hold(self, request: QueueRequest) -> None:
        """The caller was placed in the queue at answer and now hears the menu: offers for
        it collect from now on (:meth:`offer_waiting`), and :meth:`wait` takes them over."""
        self.hub.register(request.uniqueid, request)

    def offer_waiting(self, uniqueid: str) -> bool:
        """An operator is reserved for this held caller: end the menu and call :meth:`wait`."""
        return self.hub.has_offer(uniqueid)

    async def move(self, uniqueid: str, skill: str, reason: str) -> QueuePlace:
        """A key picked another skill: the caller moves there keeping its enqueue time."""
        return await self.queue.move(uniqueid, skill, reason)

    async def leave(self, uniqueid: str, target: str, reason: str) -> None:
        """A key chose self-service (lookup, message, a transfer): out of the queue; an
        operator reserved meanwhile is offered the next caller."""
        self.hub.unregister(uniqueid)
        await self._patiently(
            lambda: self.queue.leave(uniqueid, "key", target, reason), f"leave of {uniqueid}", 5.0
        )

    async def abandon(self, uniqueid: str) -> float | None:
        """The caller hung up during the menu while holding its place: ABANDON."""
        self.hub.unregister(uniqueid)
        return await self._patiently(
            lambda: self.queue.abandon(uniqueid, "hangup"), f"abandon of {uniqueid}", 5.0
        )

    async def wait(
        self, channel: Channel, request: QueueRequest, place: QueuePlace, record: CallRecord
    ) -> None:
        uid = request.uniqueid
        # with the request, the hub re-asserts the entry should Redis forget it
        offers = self.hub.register(uid, request)
        if self.handing_back:
            raise HandedBack(uid)  # still registered: see below
        w = _Wait(channel, request, record, offers, place.skill or request.skill)
        w.skills_tried.add(w.skill)
        connected = False
        handed_back = False
        try:
            if place.state == "connected":
                # the process that bridged this call died; the call has ended since
                await self._complete(uid, place.agent, record)
                return
            connected = await self._wait(w)
        except AGIHangup:
            if not connected and not w.left:
                wait = await self._patiently(
                    lambda: self.queue.abandon(uid, "hangup"), f"abandon of {uid}", 5.0
                )
                record.add("abandon", None, f"waited {wait or 0:.0f}s")
            raise
        except HandedBack:
            handed_back = True
            raise
        finally:
            # A caller handed back stays registered: the hub renews its place (lease) until
            # this process exits, however long the calls in progress take to finish, so
            # that the next server finds it where it was; an offer made meanwhile is made
            # again to the server the caller comes back on (RESUME).
            if not handed_back:
                self.hub.unregister(uid)
        if connected and record.outcome == "answered" and record.hangup_by != "caller":
            await self.survey(channel, uid, record)

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
                    log.error("HL-QUE-027 %s not recorded: Redis unreachable (%s)", what, exc)
                    return None
                await asyncio.sleep(0.5)

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
            if self.handing_back:
                w.record.add("handed_back", None, w.skill)
                raise HandedBack(w.request.uniqueid)
            now = self.clock()
            if now >= min(next_policy, next_announce):
                info = await self._wait_info(w)
                next_policy = now + POLICY_SECONDS
                if info is not None and info.state == "waiting":
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

    async def _wait_info(self, w: _Wait) -> WaitInfo | None:
        """The caller's place; None while Redis is unreachable (the caller keeps its music;
        after ``redis_patience`` seconds of it the error goes up and the dialplan takes the
        caller on)."""
        try:
            info = await self.queue.wait_info(w.request.uniqueid)
        except REDIS_AWAY as exc:
            now = time.monotonic()
            if w.redis_away_since is None:
                w.redis_away_since = now
                log.warning("HL-QUE-026 Redis unreachable (%s): %s keeps its music and its "
                            "place; trying again", exc, w.request.uniqueid)  # fmt: skip
            elif now - w.redis_away_since > self.redis_patience:
                log.error("HL-QUE-028 Redis unreachable for %.0f s: %s goes on in the dialplan",
                          now - w.redis_away_since, w.request.uniqueid)  # fmt: skip
                raise
            return None
        if w.redis_away_since is not None:
            log.info("Redis is back: %s waits on", w.request.uniqueid)
            w.redis_away_since = None
        return info

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
        path = recording_name("messages", uid)
        rec = await w.channel.record(path, "wav", "#", rule.message_seconds, 5.0)
        w.record.messages.append(rec.path)
        w.record.add("message", None, f"{rec.path} {rec.ended_by}")
        return True

    async def survey(self, channel: Channel, uniqueid: str, record: CallRecord) -> None:
        """After an answered call, if the caller is still there: 1..5 on the keypad. Then
        ``HOTLINE_SURVEYED=1`` on the channel, so that a re-entry does not ask again."""
        sv = self.options.survey
        if not sv.enabled or self.survey_sink is None:
            return
        try:
            digit = await channel.play(self.prompt(sv.question_prompt), SURVEY_KEYS)
            if not digit:
                digit = await channel.wait_digit(sv.timeout_seconds)
            if not digit or digit not in SURVEY_KEYS:
                record.add("survey", None, "no answer")
            else:
                record.add("survey", None, digit)
                try:
                    await self.survey_sink.survey(uniqueid, int(digit))
                except Exception:
                    log.exception("HL-QUE-025 survey of %s could not be stored", uniqueid)
                await channel.play(self.prompt(sv.thanks_prompt))
            await channel.set_variable("HOTLINE_SURVEYED", "1")
        except AGIHangup:
            record.add("survey", None, "hung up")

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
        self, w: _Wait, offer: Offer, dialled_at: float, answered_seconds: float
    ) -> None:
        """The operator answered and the conversation is over: the call is done (on the
        channel and in the registry) before anything else happens, then CONNECT and the
        COMPLETE of whoever hung up."""
        channel, record, uid, agent = w.channel, w.record, w.request.uniqueid, offer.agent
        record.finish("answered", agent)
        with contextlib.suppress(AGIHangup):  # SET VARIABLE runs on a hung-up channel too
            await channel.set_variable("HOTLINE_DONE", "1")
        present: bool | None = None
        if isinstance(channel, ChannelState):
            with contextlib.suppress(AGIHangup):
                present = await channel.caller_present()
            if present is None:
                present = False
            record.hangup_by = "agent" if present else "caller"
        if self.tracker is not None:
            await self.tracker.note(record, done=True)
        self.hub.bridged(uid, agent)  # re-asserted as connected should Redis forget it
        # ANSWEREDTIME is the talk time: the agent answered that long before Dial returned
        answered_at = max(dialled_at, self.queue.clock() - answered_seconds)
        await self._patiently(
            lambda: self.queue.connect(uid, agent, answered_at), f"CONNECT of {uid}", 10.0
        )
        await self._complete(uid, agent, record, "agent" if present else "caller")

    async def _has_gosub(self, w: _Wait, context: str) -> bool:
        """Whether the dialplan has ``context`` (asked once per call, in the round trip of a
        ``GET FULL VARIABLE``): a dialplan of the admin's own without it would log an
        Asterisk ERROR on every answered call. Without it the answer is recorded when Dial
        returns."""
        if w.gosub is None:
            w.gosub = True
            if isinstance(w.channel, ChannelState):
                found = await w.channel.evaluate(f"${{DIALPLAN_EXISTS({context},s,1)}}")
                w.gosub = found.strip() != "0"
                if not w.gosub and context not in _MISSING_GOSUB:
                    _MISSING_GOSUB.add(context)
                    log.warning(
                        "HL-QUE-071 the dialplan has no [%s] (queue.yaml answered_gosub): the "
                        "operator's answer is recorded when Dial returns, not at once; add the "
                        "context (docs/asterisk.md) or set answered_gosub: null",
                        context,
                    )
        return w.gosub

    async def _complete(
        self, uid: str, agent: str, record: CallRecord, who: str = "caller"
    ) -> None:
        state = await self._patiently(
            lambda: self.queue.complete(uid, agent, who), f"COMPLETE of {uid}", 10.0
        )
        if record.outcome != "answered":
            record.finish("answered", agent)
        log.debug("call %s with %s complete (%s hung up), agent now %s", uid, agent, who, state)


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
