"""The queue's housekeeping: the reaper (``tick``), the epoch that tells a server Redis
forgot, the live-call registry (what another server needs to close a call whose server
died) and the re-assertion of what a server knows after Redis forgot (``restore``).
A base of :class:`~queueing.queue.RedisQueue`; every method is one Redis round trip.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from queueing.client import LiveMemo, QueueClient, _s
from queueing.model import AgentMirror, LiveCall, LostCall, QueueRequest, TickResult

log = logging.getLogger(__name__)


def _lost_calls(flat: list[Any]) -> Iterable[LostCall]:
    for i in range(0, len(flat), 5):
        uid, server, attempt, done, snapshot = (_s(x) for x in flat[i : i + 5])
        yield LostCall(uid, server, int(attempt or 0), done == "1", snapshot)


def _mirror(flat: list[Any]) -> Iterable[AgentMirror]:
    for i in range(0, len(flat), 8):
        yield AgentMirror(*(_s(x) for x in flat[i : i + 8]))


class Housekeeping(QueueClient):
    """The reaper, the epoch, the live calls, the re-assertion (see the module)."""

    # -- the reaper and the epoch ----------------------------------------------------------

    async def tick(
        self, limit: int = 500, *, lost: int = 0, epoch: str = "", mirror: bool = False
    ) -> TickResult:
        """The reaper: end due wrap-ups, log out agents whose heartbeat stopped, close entries
        whose lease expired; take up to ``lost`` live calls whose lease expired (each goes
        to exactly one caller of tick). Safe to run on every server at once. ``limit`` 0:
        no reaping. A gap of more than max(5 s, 3 ticks) since the last reaper ran means
        every server was away: each heartbeat deadline then gets a full interval again.

        ``epoch``: the epoch token this server knows; the result says whether Redis forgot
        (the token missing - a new one is set - or another), or may have (on a Redis Cluster,
        another node serves the centre since the last tick: a failover, whose new master may
        lack the writes the old one had not replicated yet). ``mirror``: also list the
        logged-in agents."""
        gap = max(5000, 3 * self._ms(self.settings.tick_seconds))
        hb = self._ms(self.settings.heartbeat_seconds)
        fresh = uuid.uuid4().hex if epoch else ""
        w, lo, r, status, token, flat, agents = await self._call(
            "tick", limit, lost, gap, hb, epoch, fresh, 1 if mirror else 0
        )
        return TickResult(
            int(w),
            int(lo),
            int(r),
            lost=tuple(_lost_calls(flat)),
            epoch=_s(token),
            forgot=_s(status) in ("missing", "changed") or self._failed_over(),
            agents=tuple(_mirror(agents)) if mirror else None,
        )

    def _failed_over(self) -> bool:
        """Whether another Redis Cluster node serves the centre than at the last call."""
        now = self.shard()
        was, self._shard = self._shard, now
        if was and now and was != now:
            log.warning(
                "[HL-CLU-011] Redis node of centre %s changed from %s to %s (failover): "
                "re-asserting what this server knows",
                self.centre,
                was,
                now,
            )
            return True
        return False

    async def epoch(self) -> str:
        """The epoch token in Redis, set to a new one when missing."""
        fresh = uuid.uuid4().hex
        _, token = await self._call("epoch", fresh, fresh)
        return _s(token)

    # -- live calls (what another server needs to close a call whose server died) -----------

    async def call_started(self, uniqueid: str, attempt: int, snapshot: str) -> LiveCall:
        """Register the call as served by this server (lease ``lease_seconds``, renewed by
        the hub while tracked). Returns what was known of it before."""
        server, prev, done, agent, before = await self._call(
            "call_start",
            uniqueid,
            self.server,
            attempt,
            self._ms(self.settings.lease_seconds),
            snapshot,
        )
        was = LiveCall(_s(server), int(prev), _s(done) == "1", _s(agent), _s(before))
        self.live[uniqueid] = LiveMemo(attempt, snapshot, was.done, was.agent)
        return was

    async def call_note(self, uniqueid: str, snapshot: str, *, done: bool = False) -> None:
        """Update the stored snapshot; ``done`` marks the call served (sticky)."""
        self._noted(uniqueid, snapshot, done)
        await self._call("call_note", uniqueid, snapshot, 1 if done else 0)

    def _noted(self, uniqueid: str, snapshot: str, done: bool) -> None:
        """What this process told Redis of its live call (re-asserted should Redis forget)."""
        memo = self.live.get(uniqueid)
        if memo is not None:
            memo.snapshot = snapshot
            memo.done = memo.done or done

    async def call_ended(self, uniqueid: str) -> None:
        """The call's record is safely stored: forget it."""
        self.live.pop(uniqueid, None)
        await self._call("call_end", uniqueid)

    async def restore(
        self,
        *,
        callers: Iterable[QueueRequest] = (),
        bridged: Iterable[tuple[QueueRequest, str]] = (),
        calls: Iterable[LostCall] = (),
        agents: Iterable[AgentMirror] = (),
        lease_seconds: float | None = None,
    ) -> tuple[int, int, int, int]:
        """Re-assert what this server knows after Redis forgot: waiting callers (original
        places), callers talking to an agent, live calls, logged-in agents (in their state,
        ready agents then take the head callers). Each is created only when missing; no
        event, no counter. One round trip. Returns how many of each were re-created."""
        pm = self.settings.priority_ms()

        def full(r: QueueRequest) -> list[str]:
            at = str(int(r.enqueued_at * 1000))
            fate = self.fate.get(r.uniqueid, "")
            skill = fate[6:] if fate.startswith("skill:") else r.skill
            row = [r.uniqueid, str(r.score(pm)), skill, at, r.caller, r.line]
            return [*row, str(r.priority), repr(r.enqueued_at)]

        def agent_of(uniqueid: str) -> str:
            memo = self.live.get(uniqueid)
            return "" if memo is None else memo.agent

        lease = self.settings.lease_seconds if lease_seconds is None else lease_seconds
        payload = {
            "server": self.server,
            "lease_ms": str(self._ms(lease)),
            "heartbeat_ms": str(self._ms(self.settings.heartbeat_seconds)),
            "callers": [full(r) for r in callers],
            "bridged": [[*full(r), agent] for r, agent in bridged],
            "calls": [
                [
                    c.uniqueid,
                    c.server,
                    str(c.attempt),
                    "1" if c.done else "0",
                    agent_of(c.uniqueid),
                    c.snapshot,
                ]
                for c in calls
            ],
            "agents": [
                [a.id, a.name, a.interface, a.skills, a.state, a.reason, a.idle_since, a.call]
                for a in agents
            ],
        }
        n = await self._call("restore", json.dumps(payload))
        return int(n[0]), int(n[1]), int(n[2]), int(n[3])
