"""The menu engine: one async script per call, against the :class:`Channel` interface.

Rules it keeps whatever the config says:

- doing nothing reaches a person: silence and repeated mistakes go to the fallback node, which
  validation guarantees leads to the operator queue;
- the menu never hangs up on a caller: every path ends in the queue, a transfer, or the
  caller's own hangup; a failed transfer falls back to a person;
- the operator key reaches a person and the emergency key reaches the emergency menu from any
  menu;
- callers on the accessibility list skip the menu and get priority;
- a caller re-entering after a server failure skips the menu and resumes its place in the
  queue: the engine finds it from the channel's variables (:mod:`ivr.engine.attempt`), from
  the queue's entry of its uniqueid, or from the route arguments older dialplans pass (see
  :func:`resume_args`);
- a call that was served (an operator answered) is never queued or put through again: a
  re-entry only takes the survey if it was not taken, then ends.

When the engine has served the call to its end it sets ``HOTLINE_DONE=1``; the dialplan
re-enters a call whose session ended without it (a caller merely handed to the queue, with no
waiter to keep it company, is not done either). Each session is an attempt, numbered on the
channel (``HOTLINE_SESSION``) and in the record (``record.attempt``).

It records every step in a :class:`CallRecord` and hands it to a :class:`CallStore`, also when
the caller hangs up or the session is cancelled.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ivr.config.bundle import ConfigBundle, Route
from ivr.config.models import (
    HoursNode,
    LineMode,
    LookupNode,
    MenuNode,
    MessageNode,
    PlayNode,
    QueueNode,
    TransferNode,
)
from ivr.engine.attempt import (
    CallState,
    CallTracker,
    HandedBack,
    LiveInfo,
    queue_place,
    read_state,
)
from ivr.engine.channel import CallInfo, Channel
from ivr.engine.place import HeldPlace, OfferArrived, PlaceHolder
from ivr.engine.record import CallRecord, recording_name, utcnow
from ivr.engine.store import CallStore
from ivr.errors import AGIHangup
from queueing.queue import QueueGateway, QueuePlace, QueueRequest

log = logging.getLogger(__name__)

ALL_KEYS = "0123456789*#"
MAX_STEPS = 200  # node entries per call before the engine hands the caller to a person
#: Redis unreachable: the queue may be back in a moment (a restart, a failover)
REDIS_AWAY = (RedisConnectionError, RedisTimeoutError)


def resume_args(arguments: tuple[str, ...]) -> tuple[str, int] | None:
    """The queue place a re-entering call had. The dialplan ends every AGI's arguments with
    ``${HOTLINE_ROUTE},${HOTLINE_SKILL},${HOTLINE_PRIORITY}``, so a call that was in the queue
    arrives with ``..., queue, SKILL, PRIORITY`` (a process script has its own arguments
    first)."""
    if len(arguments) < 3:
        return None
    route, skill, priority = arguments[-3:]
    if route != "queue" or not skill:
        return None
    return skill, int(priority) if priority.isdigit() else 0


class TicketLookup(Protocol):
    async def status(self, ticket_number: str, caller: str) -> str | None:
        """A status word (accepted, dispatched, handling, finished, ...) or None if unknown."""
        ...


class NoTickets:
    async def status(self, ticket_number: str, caller: str) -> str | None:
        return None


class QueueWaiter(Protocol):
    """Keeps a queued caller company until an operator answers, or the caller leaves.

    Called by the engine right after the caller was placed in the queue. It plays music on
    hold and announcements, offers a callback, dials the assigned operator, and adds its
    events to ``record`` (the engine has already finished the record as ``queue``; the waiter
    may set ``record.outcome`` to ``answered``, ``abandoned``, ``callback`` ...). It raises
    :class:`AGIHangup` when the caller hangs up, like any channel operation.
    """

    async def wait(
        self, channel: Channel, request: QueueRequest, place: QueuePlace, record: CallRecord
    ) -> None: ...


@runtime_checkable
class SurveyTaker(Protocol):
    """A waiter that can take the survey of a call an operator answered in an earlier
    attempt (:meth:`ivr.queuewait.waiter.RedisQueueWaiter.survey`)."""

    async def survey(self, channel: Channel, uniqueid: str, record: CallRecord) -> None: ...


@dataclass
class _Hop:
    """The next node to enter; ``skill``/``priority`` override the queue node's."""

    node: str


class MenuEngine:
    def __init__(
        self,
        config: ConfigBundle,
        queue: QueueGateway,
        store: CallStore,
        tickets: TicketLookup | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        waiter: QueueWaiter | None = None,
        *,
        server: str = "",
        tracker: CallTracker | None = None,
        live: dict[str, CallRecord] | None = None,
        redis_patience: float = 60.0,
    ) -> None:
        self.config = config
        self.queue = queue
        self.store = store
        self.waiter = waiter
        self.server = server  # this server's id, on every record
        self.tracker = tracker  # the live-call registry; None: none
        self.live = live if live is not None else {}  # the calls in progress, by uniqueid
        # how long the enqueue at the end of the menu retries (with music) while Redis is away
        self.redis_patience = redis_patience
        self.stopping = False  # the server is stopping: a cancelled call is handed back
        self.tickets = tickets or NoTickets()
        self.clock = clock or (lambda: dt.datetime.now(ZoneInfo(config.hours.timezone)))

    # ------------------------------------------------------------------------- entry point

    async def run(self, channel: Channel, info: CallInfo) -> CallRecord:
        cfg = self.config
        route = cfg.route(info.dnid, info.extension)
        line = route.line
        record = CallRecord(
            uniqueid=info.uniqueid,
            caller=info.caller,
            caller_name=info.caller_name,
            dialled=route.number,
            channel=info.channel,
            config_version=cfg.version,
            line_number=line.number if line else None,
            line_name=line.name if line else cfg.lines.hotline.name,
            line_mode=line.mode.value if line else None,
            department=line.department if line else None,
            accessible=cfg.is_accessible(info.caller),
            server=self.server,
        )
        call = _Call(self, channel, record, route)
        self.live[record.uniqueid] = record
        try:
            await self._attempt(call, info)
            if record.outcome != "queue":
                # Served to the end. A caller only handed to the queue (no waiter here) is
                # not: the dialplan takes it on (next server, or its static queue).
                await channel.set_variable("HOTLINE_DONE", "1")
        except AGIHangup:
            record.add("hangup", call.node)
            record.hangup_node = call.node
            if record.outcome == "in_progress":
                record.finish("hangup", f"at {call.node or 'start'}")
            elif record.outcome == "queue":
                record.finish("abandoned", f"waiting for {record.skill}")
            else:  # answered, transferred ...: the outcome stands, the call is over
                record.ended_at = utcnow()
        except HandedBack:
            # the server stops: the caller keeps its place for the next server
            record.finish("handed-back", f"waiting for {record.skill}")
        except BaseException as exc:
            # Cancellation and crashes still leave a complete record; they are re-raised.
            record.hangup_node = call.node
            if self.stopping and isinstance(exc, asyncio.CancelledError):
                record.finish("handed-back", f"at {call.node or 'start'}")
            else:
                record.add("error", call.node, type(exc).__name__)
                record.finish("error", type(exc).__name__)
            await self._done(record)
            raise
        await self._done(record)
        return record

    async def _attempt(self, call: _Call, info: CallInfo) -> None:
        """Which attempt this is, and where the call goes on: the menu, its queue place, or
        (served before) the survey or nothing."""
        record, channel = call.record, call.ch
        state = await read_state(channel)
        if state is not None:
            record.attempt = state.session + 1
            await channel.set_variable("HOTLINE_SESSION", str(record.attempt))
        live = await self.tracker.started(record) if self.tracker is not None else None
        if live is not None and state is None and live.attempt:
            record.attempt = live.attempt + 1  # a channel that cannot tell (process script)
        if (state is not None and state.served) or (live is not None and live.done):
            await call.served_before(state or CallState(), live)
            return
        resume = resume_args(info.arguments)
        if resume is None and state is not None and state.route == "queue" and state.skill:
            resume = state.skill, state.priority
        if resume is None and (record.attempt > 1 or (live is not None and live.attempt > 0)):
            resume = await queue_place(self.queue, record.uniqueid)
        if resume is not None:
            await call.resume(*resume)
        else:
            await call.run()

    async def _done(self, record: CallRecord) -> None:
        await self._save(record)
        self.live.pop(record.uniqueid, None)
        if self.tracker is not None:
            finished = record.outcome not in ("handed-back", "error")
            await self.tracker.ended(record, finished=finished)

    async def _save(self, record: CallRecord) -> None:
        try:
            await self.store.save(record)
        except Exception:
            log.exception("HL-ENG-001 could not store the call record of %s", record.uniqueid)


class _Call:
    """One call's walk through the menu."""

    def __init__(self, engine: MenuEngine, channel: Channel, record: CallRecord, route: Route):
        self.engine = engine
        self.cfg = engine.config
        self.ch = channel
        self.record = record
        self.route = route
        self.node: str | None = None
        self.settings = self.cfg.menu.settings
        self.line_skill = self.cfg.line_skill(route.line)
        self.held: HeldPlace | None = None  # the queue place held while the menu plays
        self.waiting = False  # handed to the waiter (it deals with a hangup from then on)
        self.pending_key = ""  # a key pressed during a must-hear notice: the menu's first

    # ------------------------------------------------------------------------- helpers

    async def play(self, prompts: list[str], escape: str = "", *, must_hear: bool = False) -> str:
        """Play ``prompts`` piece by piece; a key in ``escape`` ends them. While the caller
        holds a queue place, an operator reserved for it ends them between two pieces
        (:class:`OfferArrived`), unless they are ``must_hear``."""
        for name in prompts:
            self.record.add("prompt", self.node, name)
            for piece in self.cfg.prompt_pieces(name):
                if self.held is not None and not must_hear:
                    self.held.check()
                digit = await self.ch.play(piece, escape)
                if digit:
                    return digit
        return ""

    async def wait_key(self, timeout: float) -> str:
        """Wait for a key with music (never silence); while a place is held, an operator
        reserved for the caller ends the wait within a second."""
        await self.ch.music_on_hold(True, self.cfg.queue.settings.moh_class)
        try:
            steps = max(1, math.ceil(timeout))
            for _ in range(steps):
                if self.held is not None:
                    self.held.check()
                digit = await self.ch.wait_digit(timeout / steps)
                if digit:
                    return digit
            return ""
        finally:
            await self.ch.music_on_hold(False)

    async def set_vars(self, **values: str | int) -> None:
        for name, value in values.items():
            await self.ch.set_variable(name, str(value))

    # ------------------------------------------------------------------------- the walk

    async def run(self) -> None:
        try:
            await self._run()
        except OfferArrived:
            await self.take_offer()
        except AGIHangup:
            if self.held is not None and not self.waiting:
                waited = await self.held.abandon()
                self.record.add("abandon", self.node, f"waited {waited or 0:.0f}s (menu)")
            raise
        if self.held is not None and not self.waiting:
            # the walk ended without a person or self-service (a play node with no next)
            await self.held.leave(self.node or "menu", "menu-end")
            self.held = None

    async def _run(self) -> None:
        rec, route, line = self.record, self.route, self.route.line
        await self.ch.answer()
        answered_at = time.time()
        await self.set_vars(
            HOTLINE_UNIQUEID=rec.uniqueid,
            HOTLINE_LINE=route.number,
            HOTLINE_LINE_MODE=line.mode.value if line else "hotline",
        )
        skill, priority, reason = self.line_skill, self.settings.default_priority, "line"
        if rec.accessible:
            # Elderly and disabled callers skip the menu and get priority.
            rec.add("accessible", None, rec.caller)
            acc = self.cfg.accessibility
            skill, priority, reason = acc.skill or self.line_skill, acc.priority, "accessibility"
        start: str | None = None if rec.accessible else self.settings.entry
        notices: list[str] = list(self.settings.notice)
        if line is not None and line.mode is LineMode.SUBCENTRE and not rec.accessible:
            # another centre answers: its announcement, then the transfer (no place held)
            if line.announcement:
                await self.play([line.announcement])
            assert line.transfer is not None  # validation guarantees it
            if await self.transfer(line.transfer, 30.0, "subcentre"):
                return
            start = line.entry
        elif line is not None:
            if not rec.accessible:
                start = line.entry or start if line.mode is LineMode.MERGED else line.entry
            announcement = line.announcement
            if line.mode is LineMode.MERGED:
                announcement = announcement or "line_moved"
            notices = ([announcement] if announcement else []) + notices
        if isinstance(self.engine.waiter, PlaceHolder):
            # a place from the first second: the notices and the menu play while it waits
            await self.hold(self.engine.waiter, skill, priority, answered_at)
        if notices:
            # must-hear: played to the end before an operator is connected; a key counts
            self.pending_key = await self.play(notices, ALL_KEYS, must_hear=True)
        if start is None:
            # Straight to a person: priority callers, or the department's own seat group.
            await self.enqueue(skill, priority, reason)
            return
        await self.walk(start)

    async def served_before(self, state: CallState, live: LiveInfo | None) -> None:
        """An earlier attempt served the call (an operator answered, or a transfer): never
        the queue or the menu again. The survey, if it was not taken and the caller is still
        there; then the call ends (HOTLINE_DONE)."""
        rec = self.record
        agent = state.agent or (live.agent if live is not None else "")
        rec.add("resume", None, f"served {agent}".strip())
        waiter = self.engine.waiter
        if agent:
            rec.finish("answered", agent)
            if not state.surveyed and isinstance(waiter, SurveyTaker):
                await waiter.survey(self.ch, rec.uniqueid, rec)
        else:
            rec.finish(state.route or "served", "")

    async def resume(self, skill: str, priority: int) -> None:
        """Back from a failed server: no menu again, straight back to the queue place (the
        queue finds it by uniqueid and keeps the original enqueue time)."""
        self.record.add("resume", None, f"{skill} p{priority}")
        await self.enqueue(skill, priority, "resume")

    async def walk(self, start: str) -> None:
        nodes = self.cfg.menu.nodes
        current: str = start
        for _ in range(MAX_STEPS):
            self.node = current
            self.record.add("enter", current)
            node = nodes[current]
            nxt: str | None
            if isinstance(node, MenuNode):
                nxt = await self.menu(node)
            elif isinstance(node, PlayNode):
                await self.play(node.prompt)
                nxt = node.next
            elif isinstance(node, QueueNode):
                priority = node.priority
                if priority is None:
                    priority = self.settings.default_priority
                skill = node.skill or self.line_skill
                if self.held is not None:
                    # the key picked this skill: moved before its prompt, so that only an
                    # operator of this skill can end the prompt
                    await self.held.move(skill, priority, current)
                    self.record.skill, self.record.priority = skill, priority
                await self.play(node.prompt)
                await self.enqueue(skill, priority, current)
                return
            elif isinstance(node, TransferNode):
                await self.release(current, "emergency" if node.emergency else "transfer")
                nxt = await self.transfer_node(node)
            elif isinstance(node, LookupNode):
                await self.release(current, "lookup")
                nxt = await self.lookup(node)
            elif isinstance(node, MessageNode):
                await self.release(current, "message")
                nxt = await self.message(node)
            elif isinstance(node, HoursNode):
                is_open = self.cfg.department_open(node.department, self.engine.clock())
                self.record.add("hours", current, "open" if is_open else "closed")
                await self.play(node.prompt)
                nxt = node.open if is_open else node.closed
            else:  # pragma: no cover - the models admit no other node type
                nxt = None
            if nxt is None:
                return
            current = nxt
        # A caller going round in circles is handed to a person, never dropped.
        self.record.add("loop_guard", current)
        await self.walk_fallback()

    async def walk_fallback(self) -> None:
        fallback = self.cfg.menu.nodes[self.settings.fallback]
        if isinstance(fallback, QueueNode):
            self.node = self.settings.fallback
            self.record.add("enter", self.node)
            await self.play(fallback.prompt)
            await self.enqueue(
                fallback.skill or self.line_skill,
                fallback.priority or self.settings.default_priority,
                self.node,
            )
        else:
            await self.enqueue(self.line_skill, self.settings.default_priority, "fallback")

    # ------------------------------------------------------------------------- node kinds

    async def collect(self, prompts: list[str], keys: set[str], timeout: float) -> str:
        """Play the prompts, interruptible by any key; then wait for a key. Keys longer than
        one digit (``*9``) are read on with the inter-digit timeout while they are a prefix."""
        if self.pending_key:  # pressed during a must-hear notice
            digit, self.pending_key = self.pending_key, ""
        else:
            digit = await self.play(prompts, ALL_KEYS)
        if not digit:
            digit = await self.wait_key(timeout)
        if not digit:
            return ""
        buf = digit
        while buf not in keys and any(len(k) > len(buf) and k.startswith(buf) for k in keys):
            digit = await self.ch.wait_digit(self.settings.inter_digit_timeout)
            if not digit:
                break
            buf += digit
        return buf

    async def menu(self, node: MenuNode) -> str:
        s = self.settings
        timeout = node.timeout or s.timeout
        max_no_input = s.max_no_input if node.max_no_input is None else node.max_no_input
        max_invalid = s.max_invalid if node.max_invalid is None else node.max_invalid
        keys = set(node.options) | {s.operator_key}
        if s.emergency_key:
            keys.add(s.emergency_key)
        no_input = invalid = 0
        prompts = node.prompt
        again = node.prompt if node.reprompt is None else node.reprompt
        while True:
            key = await self.collect(prompts, keys, timeout)
            prompts = again
            if not key:
                no_input += 1
                self.record.add("timeout", self.node, str(no_input))
                if no_input > max_no_input:
                    return node.on_no_input or s.fallback
                continue
            self.record.add("digit", self.node, key)
            if key in node.options:
                return node.options[key]
            if key == s.operator_key:
                self.record.add("operator", self.node)
                return s.fallback
            if s.emergency_key and key == s.emergency_key:
                self.record.add("emergency", self.node)
                return s.emergency
            invalid += 1
            self.record.add("invalid", self.node, key)
            if invalid > max_invalid:
                return node.on_invalid or s.fallback
            prompts = [s.invalid_prompt, *again]

    async def transfer(self, dialstring: str, timeout: float, kind: str) -> bool:
        self.record.add("transfer", self.node, f"{kind} {dialstring}")
        await self.set_vars(HOTLINE_ROUTE=kind, HOTLINE_TRANSFER=dialstring)
        result = await self.ch.dial(dialstring, timeout)
        self.record.add("dial", self.node, result.status)
        if result.answered:
            self.record.finish(kind, dialstring)
            return True
        return False

    async def transfer_node(self, node: TransferNode) -> str | None:
        await self.play(node.prompt)
        if node.emergency is not None:
            dialstring, kind = self.cfg.menu.emergency_lines[node.emergency], "emergency"
        else:
            assert node.dial is not None  # validation guarantees one of the two
            dialstring, kind = node.dial, "transfer"
        if await self.transfer(dialstring, node.ring_timeout, kind):
            return None
        return node.on_fail or self.settings.fallback

    async def lookup(self, node: LookupNode) -> str:
        digits = ""
        first = await self.play(node.prompt, ALL_KEYS)
        if first and first != "#":
            digits = first
        while len(digits) < node.max_digits:
            digit = await self.ch.wait_digit(self.settings.timeout)
            if not digit or digit == "#":
                break
            digits += digit
        if not digits:
            self.record.add("timeout", self.node)
            return node.next
        status = await self.engine.tickets.status(digits, self.record.caller)
        self.record.add("lookup", self.node, f"{digits} {status or 'not_found'}")
        answer = f"lookup_{status}" if status else "lookup_not_found"
        if answer not in self.cfg.menu.prompts:
            answer = "lookup_found"
        await self.play([answer])
        return node.next

    async def message(self, node: MessageNode) -> str:
        await self.play(node.prompt)
        path = recording_name("messages", self.record.uniqueid)
        result = await self.ch.record(path, "wav", "#", node.max_seconds, node.silence_seconds)
        self.record.messages.append(f"{result.path}")
        self.record.add("message", self.node, f"{result.path} {result.ended_by}")
        return node.next

    async def hold(self, holder: PlaceHolder, skill: str, priority: int, at: float) -> None:
        """Place the caller now (``at``: the answer); the menu plays while it waits."""
        rec = self.record
        request = self._request(skill, priority, at)
        place = await self._enqueue(request)
        holder.hold(request)
        self.held = HeldPlace(holder, request, place)
        rec.skill, rec.priority, rec.queue_position = (
            request.skill,
            request.priority,
            place.position,
        )
        rec.add("queue", None, f"{request.skill} p{request.priority} #{place.position} (answer)")
        # From here a caller who hangs up has abandoned the queue.
        rec.finish("queue", request.skill)
        await self._announce_place(request, place)

    async def release(self, target: str, reason: str) -> None:
        """Self-service (a lookup, a message, a transfer): the caller leaves the queue."""
        if self.held is not None:
            held, self.held = self.held, None
            await held.leave(target, reason)
            self.record.add("queue_left", self.node, reason)
            self.record.outcome, self.record.outcome_detail = "in_progress", ""
            await self.set_vars(HOTLINE_ROUTE="menu", HOTLINE_HELD="")

    async def take_offer(self) -> None:
        """An operator was reserved while the menu played: to the waiter, which rings it."""
        held = self.held
        assert held is not None
        self.record.add("offer", self.node, "during the menu")
        await self._announce_place(held.request, held.place)
        await self._wait(held.request, held.place)

    async def enqueue(self, skill: str, priority: int, reason: str) -> None:
        rec = self.record
        rec.skill, rec.priority = skill, priority
        if self.held is not None:
            # already waiting since the answer: a key may have picked another skill
            await self.held.move(skill, priority, reason)
            rec.queue_position = self.held.place.position
            rec.add("queue", self.node, f"{skill} p{priority} ({reason}, held since answer)")
            rec.finish("queue", skill)
            await self._announce_place(self.held.request, self.held.place)
            await self._wait(self.held.request, self.held.place)
            return
        request = self._request(skill, priority, time.time())
        place = await self._enqueue(request)
        rec.queue_position = place.position
        rec.add("queue", self.node, f"{skill} p{priority} #{place.position} ({reason})")
        # From here a caller who hangs up has abandoned the queue.
        rec.finish("queue", skill)
        await self._announce_place(request, place)
        if self.engine.waiter is not None:
            await self._wait(request, place)

    def _request(self, skill: str, priority: int, at: float) -> QueueRequest:
        rec = self.record
        return QueueRequest(
            uniqueid=rec.uniqueid,
            caller=rec.caller,
            line=rec.dialled,
            skill=skill,
            priority=priority,
            enqueued_at=at,
        )

    async def _announce_place(self, request: QueueRequest, place: QueuePlace) -> None:
        await self.set_vars(
            HOTLINE_ROUTE="queue",
            HOTLINE_SKILL=request.skill,
            HOTLINE_PRIORITY=request.priority,
            HOTLINE_POSITION=place.position,
            # Held by our waiter: a session that breaks off now (the server died) leaves the
            # caller's place in Redis for the lease, and the dialplan tries the FastAGI
            # servers again for it. Not held: the dialplan takes the caller on at once.
            HOTLINE_HELD="1" if self.engine.waiter is not None else "",
        )
        if self.engine.tracker is not None:
            await self.engine.tracker.note(self.record)

    async def _wait(self, request: QueueRequest, place: QueuePlace) -> None:
        assert self.engine.waiter is not None
        self.waiting = True
        await self.engine.waiter.wait(self.ch, request, place, self.record)

    async def _enqueue(self, request: QueueRequest) -> QueuePlace:
        """Place the caller; while Redis is away (a restart, a failover), the caller hears
        music and the enqueue is tried again each second, up to ``redis_patience``."""
        music = False
        deadline: float | None = None
        while True:
            try:
                place = await self.engine.queue.enqueue(request)
                break
            except REDIS_AWAY as exc:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.engine.redis_patience
                    log.warning("HL-ENG-004 the queue is unreachable (%s); %s waits with "
                                "music, trying again for %.0f s", exc, request.uniqueid,
                                self.engine.redis_patience)  # fmt: skip
                if now >= deadline:
                    log.error("HL-ENG-005 the queue stayed unreachable; %s goes on in the "
                              "dialplan", request.uniqueid)  # fmt: skip
                    raise
                if not music:
                    await self.ch.music_on_hold(True, self.cfg.queue.settings.moh_class)
                    music = True
                await self.ch.wait_digit(1.0)
        if music:
            await self.ch.music_on_hold(False)
        return place
