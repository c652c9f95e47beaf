"""What a waiting caller is offered when nobody can take it, and the promises kept.

The per-call waiter (:mod:`ivr.queuewait.waiter`) decides *when* (its policy reading every few
seconds); this module is *what*: the overflow actions of queue.yaml (``widen``, ``message``,
``callback``, ``transfer``), the voice message, the callback registration, and the widening
of a caller whose place is held while the menu plays.

Promises kept:

- a caller hears the callback confirmation only after the callback is registered in Redis
  (the dialler calls it back at its place; the call record becomes a 漏接回拨 task in the
  ticket store). When it cannot be registered (no dialler logged in to AMI, no number to
  call back), the caller hears the message prompt (``message.prompt``: "please leave a
  message after the tone") and leaves a voice message instead, which becomes a 留言 task;
- a caller with no usable number (a SIP name) is never left on music for ever: after
  ``message.no_number_after_seconds`` it leaves a message;
- every line reaches a person: a caller of 12345 or of a merged line whose skill has nobody
  ready widens to the general operators after ``widen.after_seconds`` (at once when nobody is
  logged in for it), keeping its enqueue time; a parallel line's caller only when the line is
  listed in ``widen.parallel_lines`` (:meth:`ivr.config.queue_models.QueueFile.rule_for`). This
  happens during the menu too (:meth:`OverflowActions.hold_policy`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ivr.config.queue_models import OverflowRule, QueueFile, QueueSettings
from ivr.engine.channel import Channel
from ivr.engine.record import CallRecord, recording_name
from queueing.queue import Offer, QueueRequest, RedisQueue, WaitInfo

log = logging.getLogger(__name__)

#: Redis unreachable for now: retried, the caller keeps its music and its place
REDIS_AWAY = (RedisConnectionError, RedisTimeoutError)

#: How often a caller held during the menu is looked at when its skill may widen.
HOLD_POLL_SECONDS = 1.0


def usable_number(caller: str) -> bool:
    """A number a callback can be dialled to."""
    digits = caller.lstrip("+")
    return len(digits) >= 3 and digits.isdigit()


@dataclass
class Wait:
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


@dataclass
class Held:
    """A caller whose place is held while the menu plays (:meth:`OverflowActions.hold`)."""

    request: QueueRequest
    skill: str
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    widened: list[str] = field(default_factory=list)  # "from to reason", for the record
    tried: set[str] = field(default_factory=set)  # skills it was widened from (never back)


def overflow_reason(rule: OverflowRule, info: WaitInfo, waited: float) -> str | None:
    """Why ``rule`` applies now, or None. "Nobody there" is nobody logged in for the skill:
    operators logged in but paused come back, their callers wait for them (the longest-wait
    condition still applies)."""
    if rule.no_agents and not info.present:
        return "no_agents"
    if rule.max_waiting is not None and info.waiting > rule.max_waiting:
        return "waiting"
    if rule.max_wait_seconds is not None and waited > rule.max_wait_seconds:
        return "wait"
    return None


def _widens(rule: OverflowRule | None, held: Held) -> bool:
    """A widening the held caller may get: to another skill, never back to one it left."""
    if rule is None or rule.action != "widen" or rule.skill is None:
        return False
    return rule.skill != held.skill and rule.skill not in held.tried


class OverflowActions:
    """The overflow side of :class:`ivr.queuewait.waiter.RedisQueueWaiter` (a base class: the
    waiter supplies the queue, its options and how prompts are played)."""

    queue: RedisQueue
    pieces: Callable[[str], list[str]]
    _held: dict[str, Held]
    _hold_tasks: set[asyncio.Task[None]]

    @property
    def options(self) -> QueueFile:
        raise NotImplementedError

    @property
    def settings(self) -> QueueSettings:
        return self.options.settings

    async def _can_call_back(self) -> bool:
        raise NotImplementedError

    # -- playing ----------------------------------------------------------------------------

    async def _music(self, w: Wait, on: bool) -> None:
        if w.music != on:
            await w.channel.music_on_hold(on, self.settings.moh_class)
            w.music = on

    async def say(self, w: Wait, name: str, escape: str = "") -> str | None:
        """Play menu.yaml prompt ``name`` piece by piece (music off first). Returns the key
        pressed ("" none), or None when an operator was reserved for the caller meanwhile:
        the rest is not played, so that the operator is not kept waiting."""
        await self._music(w, False)
        return await self.say_files(w, self.pieces(name), escape)

    async def say_files(self, w: Wait, files: list[str], escape: str = "") -> str | None:
        for file in files:
            if not w.offers.empty():
                return None
            key = await w.channel.play(file, escape)
            if key:
                return key
        return ""

    # -- the place held while the menu plays --------------------------------------------------

    def start_holding(self, request: QueueRequest) -> None:
        """Watch a caller held during the menu: its skill may widen meanwhile."""
        self.stop_holding(request.uniqueid)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        held = self._held[request.uniqueid] = Held(request, request.skill)
        task = asyncio.create_task(self.hold_policy(held), name=f"held-{request.uniqueid}")
        self._hold_tasks.add(task)
        task.add_done_callback(self._hold_tasks.discard)

    def stop_holding(self, uniqueid: str) -> Held | None:
        held = self._held.pop(uniqueid, None)
        if held is not None:
            held.stop.set()
        return held

    def held_moved(self, uniqueid: str, skill: str) -> None:
        held = self._held.get(uniqueid)
        if held is not None:
            held.skill = skill

    async def hold_policy(self, held: Held) -> None:
        """While the menu plays: widen the caller when its skill's rule says so (only
        ``widen``: the other actions need the channel, and apply once the menu is done)."""
        uid, line = held.request.uniqueid, held.request.line
        delay = 0.0
        while True:
            try:
                await asyncio.wait_for(held.stop.wait(), delay)
                return
            except TimeoutError:
                pass
            delay = HOLD_POLL_SECONDS
            rule = self.options.rule_for(held.skill, line)
            if not _widens(rule, held):
                continue
            try:
                info = await self.queue.wait_info(uid)
                if held.stop.is_set():
                    return
                if info.state == "gone":
                    return
                if info.state != "waiting":
                    continue
                held.skill = info.skill or held.skill
                rule = self.options.rule_for(held.skill, line)
                if rule is None or not _widens(rule, held):
                    continue
                waited = time.time() - held.request.enqueued_at
                reason = overflow_reason(rule, info, waited)
                if reason is None:
                    continue
                assert rule.skill is not None
                place = await self.queue.move(uid, rule.skill, reason, from_skill=held.skill)
            except REDIS_AWAY:
                continue  # the engine's own operations meet it; try again next second
            except Exception:
                log.exception(
                    "[HL-QUE-072] widening held caller %s failed; it keeps its place", uid
                )
                continue
            if place.state in ("waiting", "offered"):
                held.widened.append(f"{held.skill} widen ({reason}) -> {rule.skill}")
                held.tried.add(held.skill)
                held.skill = rule.skill

    # -- the actions --------------------------------------------------------------------------

    async def callback(self, w: Wait, key: str, prompt: str | None = None) -> bool:
        """Turn the caller into a callback entry; False if an agent was reserved meanwhile.
        The confirmation is played only once the callback is registered."""
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
        await self.say(w, prompt or self.options.callback.confirm_prompt)
        return True

    async def overflow(self, w: Wait, rule: OverflowRule, reason: str) -> bool:
        """Apply an overflow rule; True when the caller left the queue."""
        uid = w.request.uniqueid
        w.overflowed.add(w.skill)
        action = rule.action
        if action == "callback" and not (
            usable_number(w.request.caller) and await self._can_call_back()
        ):
            action = "message"  # nobody could call back: a message, never a false promise
        w.record.add("overflow", None, f"{w.skill} {action} ({reason})")
        if action == "widen":
            assert rule.skill is not None
            if rule.skill in w.skills_tried:
                return False
            if rule.prompt:
                await self.say(w, rule.prompt)
            place = await self.queue.move(uid, rule.skill, reason)
            if place.state == "waiting" or place.state == "offered":
                w.skills_tried.add(rule.skill)
                w.skill = rule.skill
                w.record.skill = rule.skill
            return False
        if action == "callback":
            return await self.callback(w, "overflow", rule.prompt)
        if action == "transfer":
            return await self._transfer(w, rule, reason)
        # a message rule's own prompt when it has one, else the message prompt (a callback
        # that could not be registered always gets the message prompt)
        own = rule.action == "message" and "prompt" in rule.model_fields_set and rule.prompt
        return await self.take_message(w, reason, rule.prompt if own else None)

    async def _transfer(self, w: Wait, rule: OverflowRule, reason: str) -> bool:
        uid = w.request.uniqueid
        assert rule.dial is not None
        await self._music(w, False)
        if await self.queue.leave(uid, "transfer", rule.dial, reason) is None:
            return False  # connected meanwhile (cannot happen while we wait) or gone
        w.left = True
        if rule.prompt:
            await self.say(w, rule.prompt)
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

    async def take_message(self, w: Wait, reason: str, prompt: str | None = None) -> bool:
        """Out of the queue, the message prompt, the recording (``messages/DAY/UID.wav``,
        which the ticket store turns into a 留言 task), a thank-you. False when the caller
        was no longer waiting (an operator was reserved meanwhile)."""
        m = self.options.message
        uid = w.request.uniqueid
        await self._music(w, False)
        if await self.queue.leave(uid, "message", "", reason) is None:
            return False
        w.left = True
        w.record.finish("message", w.skill)
        await w.channel.set_variable("HOTLINE_ROUTE", "message")
        await self.say(w, prompt or m.prompt)
        path = recording_name("messages", uid)
        if any(m.startswith(path) for m in w.record.messages):
            path += "-2"  # a message left in the menu already has the usual name
        rec = await w.channel.record(path, "wav", "#", m.max_seconds, m.silence_seconds)
        w.record.messages.append(rec.path)
        w.record.add("message", None, f"{rec.path} {rec.ended_by}")
        if m.thanks_prompt and rec.ended_by != "hangup":
            await self.say(w, m.thanks_prompt)
        return True
