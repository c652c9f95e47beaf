"""One call's walk through the menu (:class:`MenuCall`), run by :class:`ivr.engine.menu.MenuEngine`:
the must-hear notices, the nodes of menu.yaml, keys, transfers, lookups, messages; its steps
in the queue are :class:`ivr.engine.queue_steps.QueueSteps`."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from ivr.config.bundle import Route
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
    LiveInfo,
)
from ivr.engine.channel import Channel
from ivr.engine.parts import ALL_KEYS, MAX_STEPS, EngineParts, SurveyTaker
from ivr.engine.place import HeldPlace, OfferArrived, holds_places
from ivr.engine.queue_steps import QueueSteps
from ivr.engine.record import CallRecord, recording_name
from ivr.errors import AGIHangup, PBXLost

log = logging.getLogger(__name__)


@dataclass
class _Hop:
    """The next node to enter; ``skill``/``priority`` override the queue node's."""

    node: str


class MenuCall(QueueSteps):
    """One call's walk through the menu."""

    def __init__(self, engine: EngineParts, channel: Channel, record: CallRecord, route: Route):
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

    # ------------------------------------------------------------------------- the walk

    async def run(self) -> None:
        try:
            await self._run()
        except OfferArrived:
            await self.take_offer()
        except AGIHangup as exc:
            if self.held is not None and not self.waiting:
                box = exc.box if isinstance(exc, PBXLost) else None
                waited = await self.held.abandon(box)
                kind = "abandon" if box is None else "queue_left"
                self.record.add(kind, self.node, f"waited {waited or 0:.0f}s (menu)")
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
        if holds_places(self.engine.waiter):
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
