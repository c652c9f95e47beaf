"""A call's steps in the operator queue: held from the answer while the menu plays, moved by a
key that picks a skill, left for self-service, handed to the waiter when an operator is
reserved; the enqueue that waits (with music) while Redis is away."""

from __future__ import annotations

import logging
import time

from ivr.config.bundle import ConfigBundle
from ivr.engine.channel import Channel
from ivr.engine.parts import REDIS_AWAY, EngineParts
from ivr.engine.place import HeldPlace, PlaceHolder
from ivr.engine.record import CallRecord
from queueing.queue import QueuePlace, QueueRequest

log = logging.getLogger(__name__)


class QueueSteps:
    """The queue half of :class:`ivr.engine.call.MenuCall`."""

    engine: EngineParts
    cfg: ConfigBundle
    ch: Channel
    record: CallRecord
    node: str | None
    held: HeldPlace | None
    waiting: bool

    async def set_vars(self, **values: str | int) -> None:
        for name, value in values.items():
            await self.ch.set_variable(name, str(value))

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
        # the channel's variables and the registry have this place since hold() or move()
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
                    log.warning("[HL-ENG-004] the queue is unreachable (%s); %s waits with "
                                "music, trying again for %.0f s", exc, request.uniqueid,
                                self.engine.redis_patience)  # fmt: skip
                if now >= deadline:
                    log.error("[HL-ENG-005] the queue stayed unreachable; %s goes on in the "
                              "dialplan", request.uniqueid)  # fmt: skip
                    raise
                if not music:
                    await self.ch.music_on_hold(True, self.cfg.queue.settings.moh_class)
                    music = True
                await self.ch.wait_digit(1.0)
        if music:
            await self.ch.music_on_hold(False)
        return place
