"""Keeping a queued caller company, and putting it through to the agent.

The per-process part (offers listener, leases, reaper, event pump) is
:class:`queueing.hub.QueueHub`; this module is the per-call part, with two base classes of
its own: :mod:`ivr.queuewait.overflow` (the overflow actions, the voice message, the callback,
the widening of a caller held while the menu plays) and :mod:`ivr.queuewait.bridge` (dialling
the operator, CONNECT, COMPLETE).

The caller's place is held from the answer (:meth:`RedisQueueWaiter.hold`): while the menu
plays, offers collect for it and its skill may widen; :meth:`RedisQueueWaiter.wait` takes over
when the menu is done (or an operator was reserved). The waiter's own prompts (announcements,
the callback offer, overflow prompts) play piece by piece (``pieces``): an operator reserved
meanwhile ends them between two pieces, never kept waiting behind a long prompt.

:class:`RedisQueueWaiter` is the menu engine's :class:`~ivr.engine.parts.QueueWaiter`. A FastAGI
session cannot be interrupted while a command runs, so it plays music on hold and loops on
``WAIT FOR DIGIT`` of ``wait_chunk_seconds``; between chunks it looks at its offer queue and,
at the announcement interval, tells the caller's position and estimated wait.

When an offer arrives, :mod:`.bridge` puts the caller through (CONNECT, COMPLETE, or back to
its place when the agent does not answer). A hangup while waiting: ABANDON with the wait time;
the box gone (:class:`~ivr.errors.PBXLost`): PBXLOST (:meth:`.Bridging.lost`).

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
import logging
import time
from collections.abc import Callable
from typing import Protocol

from ivr.config.queue_models import QueueFile
from ivr.engine.attempt import CallTracker, HandedBack
from ivr.engine.channel import Channel, wait_paced
from ivr.engine.record import CallRecord
from ivr.errors import AGIHangup, PBXLost
from ivr.queuewait.bridge import Bridging, TicketNumbers
from ivr.queuewait.overflow import REDIS_AWAY, Held, Wait, overflow_reason, usable_number
from queueing.hub import QueueHub
from queueing.queue import QueuePlace, QueueRequest, WaitInfo

log = logging.getLogger(__name__)


__all__ = [
    "REDIS_AWAY",
    "QueueHub",
    "RedisQueueWaiter",
    "SurveySink",
    "TicketNumbers",
    "number_prompts",
    "usable_number",
]

#: How often a waiting session looks at its place for the callback offer and overflow rules
#: (one round trip; offers themselves arrive at once through the hub).
POLICY_SECONDS = 5.0
SURVEY_KEYS = "12345"
NO_SURVEY = ("caller", "transfer")  # who ended an answered call that gets no survey


class SurveySink(Protocol):
    """Where a keypad survey result goes (the ticket store)."""

    async def survey(self, uniqueid: str, score: int) -> None: ...


def number_prompts(n: int) -> list[str]:
    """Asterisk core ``digits/`` files saying ``n`` (0..99)."""
    n = max(0, min(99, n))
    if n <= 20 or n % 10 == 0:
        return [f"digits/{n}"]
    return [f"digits/{n - n % 10}", f"digits/{n % 10}"]


class RedisQueueWaiter(Bridging):
    """The menu engine's queue waiter, on a :class:`QueueHub`.

    ``options`` is queue.yaml (callback offer, survey, overflow rules), or a function that
    returns the current one (a reload then applies to the next decision); ``survey`` receives
    the keypad survey; ``prompt`` turns a menu.yaml prompt name into the file to play, and
    ``pieces`` into the files to play in turn (each short: between two of them an operator
    reserved for the caller ends the prompt; default ``[prompt(name)]``); ``callbacks`` says
    whether a callback can be offered (default: the dialler is enabled in queue.yaml, or this
    hub has one)."""

    def __init__(
        self,
        hub: QueueHub,
        *,
        clock: Callable[[], float] = time.monotonic,
        options: QueueFile | Callable[[], QueueFile] | None = None,
        survey: SurveySink | None = None,
        prompt: Callable[[str], str] = lambda name: name,
        pieces: Callable[[str], list[str]] | None = None,
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
        self.pieces = pieces if pieces is not None else lambda name: [self.prompt(name)]
        self._held: dict[str, Held] = {}  # callers held while the menu plays
        self._hold_tasks: set[asyncio.Task[None]] = set()
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

    def hand_back(self) -> None:
        """The server stops: every waiting caller's session ends within a wait chunk, without
        HOTLINE_DONE and without ABANDON (its entry stays for the next server); callers
        already put through to an operator, or in the survey, finish as usual."""
        self.handing_back = True

    # -- the caller's place while the menu plays (placed when the call is answered) --------

    def hold(self, request: QueueRequest) -> None:
        """The caller was placed in the queue at answer and now hears the menu: offers for
        it collect from now on (:meth:`offer_waiting`), and :meth:`wait` takes them over.
        Meanwhile its skill may widen (every line reaches a person)."""
        self.hub.register(request.uniqueid, request)
        self.start_holding(request)

    def offer_waiting(self, uniqueid: str) -> bool:
        """An operator is reserved for this held caller: end the menu and call :meth:`wait`."""
        return self.hub.has_offer(uniqueid)

    async def move(self, uniqueid: str, skill: str, reason: str) -> QueuePlace:
        """A key picked another skill: the caller moves there keeping its enqueue time."""
        self.held_moved(uniqueid, skill)
        return await self.queue.move(uniqueid, skill, reason)

    async def leave(self, uniqueid: str, target: str, reason: str) -> None:
        """A key chose self-service (lookup, message, a transfer): out of the queue
        (EXITWITHKEY: ``reason`` is what the caller chose, ``target`` the menu node); an
        operator reserved meanwhile is offered the next caller."""
        self.stop_holding(uniqueid)
        self.hub.unregister(uniqueid)
        await self._patiently(
            lambda: self.queue.leave(uniqueid, "key", target, reason), f"leave of {uniqueid}", 5.0
        )

    async def abandon(self, uniqueid: str, lost_box: str | None = None) -> float | None:
        """Hung up in the menu, holding a place: ABANDON (PBXLOST: its box ``lost_box`` died)."""
        self.stop_holding(uniqueid)
        self.hub.unregister(uniqueid)
        if lost_box is not None:
            return await self.lost(uniqueid, lost_box)
        return await self._patiently(
            lambda: self.queue.abandon(uniqueid, "hangup"), f"abandon of {uniqueid}", 5.0
        )

    async def wait(
        self, channel: Channel, request: QueueRequest, place: QueuePlace, record: CallRecord
    ) -> None:
        uid = request.uniqueid
        held = self.stop_holding(uid)
        # with the request, the hub re-asserts the entry should Redis forget it
        offers = self.hub.register(uid, request)
        if self.handing_back:
            raise HandedBack(uid)  # still registered: see below
        w = Wait(channel, request, record, offers, place.skill or request.skill)
        w.skills_tried.add(w.skill)
        if held is not None:
            for what in held.widened:  # widened while the menu played
                record.add("overflow", None, what)
            if held.widened:
                w.skill = record.skill = held.skill
                w.skills_tried |= held.tried | {held.skill}
        connected = False
        handed_back = False
        try:
            if place.state == "connected":
                # the process that bridged this call died; the call has ended since
                await self._complete(uid, place.agent, record)
                return
            connected = await self._wait(w)
        except AGIHangup as exc:
            if not connected and not w.left and isinstance(exc, PBXLost):
                await self.lost(uid, exc.box, record)
            elif not connected and not w.left:
                wait = await self.abandon(uid)  # (unregisters as the finally does)
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
        if connected and record.outcome == "answered" and record.hangup_by not in NO_SURVEY:
            await self.survey(channel, uid, record)

    async def _wait(self, w: Wait) -> bool:
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
        number = usable_number(w.request.caller)
        can_callback = self.callbacks and cb.enabled and number
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
                    rule = self.options.rule_for(w.skill, w.request.line)
                    reason = None if rule is None else overflow_reason(rule, info, waited)
                    if rule is not None and reason and w.skill not in w.overflowed:
                        if await self.overflow(w, rule, reason):
                            return False
                        continue
                    if rule is not None and rule.max_wait_seconds is not None:
                        # a longest wait due before the next reading: read then
                        due = rule.max_wait_seconds - waited
                        if 0 < due < POLICY_SECONDS:
                            next_policy = now + due + 0.05
                    no_number = self.options.message.no_number_after_seconds
                    if not number and no_number is not None and waited >= no_number:
                        # nobody can call this caller back: after the longest wait, a message
                        w.record.add("overflow", None, f"{w.skill} message (no_number)")
                        if await self.take_message(w, "no_number"):
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
                        w.record.add("callback_offer", None, f"position {info.position}")
                        key = await self.say(w, cb.offer_prompt, cb.key)
                        cb_offered = True
                        next_cb_offer = now + cb.repeat_seconds
                        if key == cb.key and await self.callback(w, cb.key):
                            return False
                        continue
                    if (ann.position or ann.estimate) and now >= next_announce:
                        said = _said(info)
                        if said != last_said:
                            await self._music(w, False)
                            await self._announce(w, info)
                            last_said = said
                        next_announce = now + ann.interval_seconds
            if not w.offers.empty():
                continue
            await self._music(w, True)
            keys = cb.key if cb_offered else ""
            digit = await wait_paced(w.channel, s.wait_chunk_seconds, keys, self.clock)
            if digit and cb_offered and digit == cb.key and await self.callback(w, digit):
                return False

    async def _wait_info(self, w: Wait) -> WaitInfo | None:
        """The caller's place; None while Redis is unreachable (the caller keeps its music;
        after ``redis_patience`` seconds of it the error goes up and the dialplan takes the
        caller on)."""
        try:
            info = await self.queue.wait_info(w.request.uniqueid)
        except REDIS_AWAY as exc:
            now = time.monotonic()
            if w.redis_away_since is None:
                w.redis_away_since = now
                log.warning("[HL-QUE-026] Redis unreachable (%s): %s keeps its music and its "
                            "place; trying again", exc, w.request.uniqueid)  # fmt: skip
            elif now - w.redis_away_since > self.redis_patience:
                log.error("[HL-QUE-028] Redis unreachable for %.0f s: %s goes on in the dialplan",
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

    async def survey(self, channel: Channel, uniqueid: str, record: CallRecord) -> None:
        """After an answered call, if the caller is still there: 1..5 on the keypad. Then
        ``HOTLINE_SURVEYED=1`` on the channel, so that a re-entry does not ask again."""
        sv = self.options.survey
        if not sv.enabled or self.survey_sink is None:
            return
        try:
            digit = await self._play_all(channel, sv.question_prompt, SURVEY_KEYS)
            if not digit:
                digit = await channel.wait_digit(sv.timeout_seconds)
            if not digit or digit not in SURVEY_KEYS:
                record.add("survey", None, "no answer")
            else:
                record.add("survey", None, digit)
                try:
                    await self.survey_sink.survey(uniqueid, int(digit))
                except Exception:
                    log.exception("[HL-QUE-025] survey of %s could not be stored", uniqueid)
                await self._play_all(channel, sv.thanks_prompt)
            await channel.set_variable("HOTLINE_SURVEYED", "1")
        except AGIHangup:
            record.add("survey", None, "hung up")

    async def _play_all(self, channel: Channel, name: str, escape: str = "") -> str:
        """A prompt's pieces to the end (no operator can be waiting: after the call)."""
        for piece in self.pieces(name):
            key = await channel.play(piece, escape)
            if key:
                return key
        return ""

    async def _announce(self, w: Wait, info: WaitInfo) -> None:
        """Position and estimated wait (Asterisk's core sounds, each a piece of its own: an
        operator reserved meanwhile ends the announcement)."""
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
        w.record.add("announce", None, f"position {info.position} eta {eta}")
        await self.say_files(w, prompts)


def _said(info: WaitInfo) -> tuple[int, int]:
    minutes = -1 if info.eta_seconds is None else round(info.eta_seconds / 60)
    return (info.position, minutes)
