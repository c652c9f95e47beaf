"""The Redis operator queue.

Callers wait in one sorted set per skill; agents log in with skills and levels; a Lua script
(:file:`lua/queue.lua`) does every operation that touches several keys, atomically and in one
round trip. Ordering, assignment and crash safety are described in ``docs/queue.md``.

The short version:

- **Order**: lowest score first, ``score = enqueue_ms - priority * priority_seconds * 1000``.
  One priority point is worth ``priority_seconds`` of waiting, so a higher priority goes first
  but can never overtake a caller who has waited longer than the priority difference times
  that step: nobody starves. ``priority_seconds: null`` orders by priority strictly.
- **Assignment** runs inside every operation that can create a match (enqueue, agent ready,
  no-answer, abandon of an offered caller, end of wrap-up, login as ready). It takes the head
  caller and the best ready agent of the skill: highest level, then the longest idle. The
  offer is pushed to the inbox list of the FastAGI process that holds the caller
  (:mod:`queueing.hub`), which reacts at once.
- **Crash safety**: entries hold a lease renewed by their process; a re-entering caller (same
  uniqueid, another process) keeps its entry, its place and a pending offer. The reaper
  (``tick``) ends wrap-ups, logs out agents whose heartbeat stopped and closes entries whose
  lease expired (recorded as ABANDON with reason ``lease``).
- **Events** are appended to a Redis stream inside the same scripts and pumped into the
  event sink (:mod:`queueing.pump`), so that no event is lost when a process dies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from queueing import keys
from queueing.events import EventJournal
from queueing.model import (
    AfterCall,
    AgentMirror,
    AgentState,
    CallbackFailure,
    CallbackResult,
    LiveCall,
    LostCall,
    Offer,
    QueueError,
    QueuePlace,
    QueueRequest,
    TickResult,
    WaitInfo,
)
from queueing.options import AgentProfile, PlainQueueOptions, QueueOptions

__all__ = [  # the values live in queueing.model; importing them from here keeps working
    "AfterCall",
    "AgentMirror",
    "AgentState",
    "CallbackFailure",
    "CallbackResult",
    "LiveCall",
    "LostCall",
    "Offer",
    "QueueError",
    "QueueGateway",
    "QueuePlace",
    "QueueRequest",
    "RedisQueue",
    "TickResult",
    "WaitInfo",
    "default_server_id",
]

_FATE_MAX = 20_000  # callers whose fate is remembered (see RedisQueue.fate)


@dataclass
class _Live:
    attempt: int
    snapshot: str
    done: bool
    agent: str


class QueueGateway(Protocol):
    async def enqueue(self, request: QueueRequest) -> QueuePlace: ...


def _script(name: str) -> str:
    return resources.files("queueing").joinpath("lua", name).read_text()


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _lost_calls(flat: list[Any]) -> Iterable[LostCall]:
    for i in range(0, len(flat), 5):
        uid, server, attempt, done, snapshot = (_s(x) for x in flat[i : i + 5])
        yield LostCall(uid, server, int(attempt or 0), done == "1", snapshot)


def _mirror(flat: list[Any]) -> Iterable[AgentMirror]:
    for i in range(0, len(flat), 8):
        yield AgentMirror(*(_s(x) for x in flat[i : i + 8]))


def default_server_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class RedisQueue:
    """The queue's Python API. Every method is one Redis round trip."""

    client: aioredis.Redis
    settings: QueueOptions = field(default_factory=PlainQueueOptions)
    clock: Callable[[], float] = time.time
    server: str = field(default_factory=default_server_id)

    #: events this process wrote, until the sink has them (set by the hub that pumps them)
    journal: EventJournal | None = None

    def __post_init__(self) -> None:
        # an agent was logged in, readied, paused or logged out through this client: the
        # hub refreshes its mirror of the operators at its next tick, not a few seconds later
        self.agents_changed = False
        self.live: dict[str, _Live] = {}  # live calls registered here (call_started)
        # what became of callers this process handled: "closed" (completed, abandoned, left,
        # callback) or "skill:NAME" (moved), so that a re-assertion after Redis forgot does
        # not bring a closed caller back, and puts a moved one in its new skill
        self.fate: OrderedDict[str, str] = OrderedDict()
        self.centre = self.settings.centre
        self.base = keys.base(self.centre)
        self.events_key = keys.events(self.centre)
        self._tz = ZoneInfo(self.settings.timezone)
        self._lua = keys.LUA_PRELUDE + _script("queue.lua")
        self._sha = hashlib.sha1(self._lua.encode()).hexdigest()
        # today's date string, valid while the clock is in [_day_from, _day_until)
        self._day = ""
        self._day_from = self._day_until = 0.0

    @classmethod
    def from_url(cls, url: str, settings: QueueOptions | None = None) -> RedisQueue:
        # A command on a pooled connection that a Redis restart broke is sent again on a
        # fresh one (redis-py's from_url retries nothing): after a restart the first request
        # of each connection does not fail.
        retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), 3)
        client = aioredis.Redis.from_url(
            url, retry=retry, retry_on_error=[RedisConnectionError, RedisTimeoutError]
        )
        return cls(client, settings or PlainQueueOptions())

    async def close(self) -> None:
        await self.client.aclose()

    # -- plumbing -------------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def today(self) -> str:
        return self._today(self.clock())

    def _today(self, t: float) -> str:
        """The local date at epoch ``t`` (YYYY-MM-DD), worked out once a day: the string is
        kept until the next local midnight."""
        if self._day_from <= t < self._day_until:
            return self._day
        day = dt.datetime.fromtimestamp(t, self._tz).date()
        start = dt.datetime.combine(day, dt.time(), self._tz).timestamp()
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), self._tz).timestamp()
        self._day = day.isoformat()
        if self._date(start) == day and self._date(end) != day and self._date(end - 0.001) == day:
            self._day_from, self._day_until = start, end
        else:  # the clocks changed around midnight and the bounds are off: no shortcut
            self._day_from = self._day_until = 0.0
        return self._day

    def _date(self, t: float) -> dt.date:
        return dt.datetime.fromtimestamp(t, self._tz).date()

    async def _call(self, op: str, *args: str | int | float) -> Any:
        t = self.clock()
        now_ms = int(t * 1000)
        argv = (self.events_key, self.base, op, now_ms, self._today(t), *args)
        try:
            try:
                reply = await self.client.evalsha(self._sha, 1, *argv)
            except NoScriptError:  # a restarted or flushed server: load it and go on
                self._sha = await self.client.script_load(self._lua)
                reply = await self.client.evalsha(self._sha, 1, *argv)
        except ResponseError as exc:
            text = str(exc)
            if text.startswith("HL-QUE-"):
                code, _, message = text.partition(" ")
                raise QueueError(message, code=code) from None
            raise
        # {events, result}: the events this operation appended to the stream
        if reply[0] and self.journal is not None:
            self.journal.add(now_ms, reply[0])
        return reply[1] if len(reply) > 1 else None

    def _fated(self, uniqueid: str, fate: str = "closed") -> None:
        self.fate[uniqueid] = fate
        self.fate.move_to_end(uniqueid)
        if len(self.fate) > _FATE_MAX:
            self.fate.popitem(last=False)

    # -- callers --------------------------------------------------------------------------

    async def enqueue(self, request: QueueRequest) -> QueuePlace:
        """Place a caller, or find the place it already holds (same uniqueid): a caller
        re-entering after a server crash keeps its original place and a pending offer."""
        fields: list[str | int] = [
            "uniqueid",
            request.uniqueid,
            "caller",
            request.caller,
            "line",
            request.line,
            "priority",
            request.priority,
            "enqueued_at",
            repr(request.enqueued_at),
        ]
        pos, existing, state, agent, skill = await self._call(
            "enqueue",
            request.uniqueid,
            request.score(self.settings.priority_ms()),
            self.server,
            self._ms(self.settings.lease_seconds),
            request.skill,
            int(request.enqueued_at * 1000),
            *fields,
        )
        return QueuePlace(int(pos), bool(existing), _s(state), _s(agent), _s(skill))

    async def connect(self, uniqueid: str, agent: str, answered_at: float | None = None) -> float:
        """The agent answered (at ``answered_at``, default now). Returns the wait in seconds."""
        at = int((self.clock() if answered_at is None else answered_at) * 1000)
        sl = self._ms(self.settings.service_level_seconds)
        wait_ms = await self._call("connect", uniqueid, agent, at, sl)
        return int(wait_ms) / 1000

    async def complete(self, uniqueid: str, agent: str, who: str = "caller") -> str:
        """The call ended; the agent goes to wrap-up (or what it asked for). Returns the
        agent's new state."""
        return (await self.complete_call(uniqueid, agent, who)).state

    async def complete_call(self, uniqueid: str, agent: str, who: str = "caller") -> AfterCall:
        """:meth:`complete`, also telling which caller the agent was offered in the same
        step (with no wrap-up, an agent who goes ready takes the head caller at once), so
        that its desk needs no second read."""
        wrapup = self._ms(self.settings.wrapup_seconds)
        raw = await self._call("complete", uniqueid, agent, wrapup, who)
        self._fated(uniqueid)
        state, _, next_call = _s(raw).partition("\t")  # "reserved TAB uniqueid"
        return AfterCall(state, next_call)

    async def no_answer(self, uniqueid: str, agent: str, status: str = "NOANSWER") -> QueuePlace:
        """The agent did not answer: the agent is paused ("no answer"), the caller goes back
        to its original place (and may be offered to another agent at once)."""
        pos, state, new_agent = await self._call("noanswer", uniqueid, agent, status)
        return QueuePlace(int(pos), True, _s(state), _s(new_agent))

    async def abandon(self, uniqueid: str, reason: str = "hangup") -> float | None:
        """The caller left. Returns the wait in seconds, None if the caller was not queued."""
        wait_ms = int(await self._call("abandon", uniqueid, reason))
        self._fated(uniqueid)
        return None if wait_ms < 0 else wait_ms / 1000

    async def request_callback(self, uniqueid: str, key: str = "1") -> CallbackResult:
        """Virtual hold: the waiting caller becomes a callback entry at the same place (its
        score, i.e. its original enqueue time, is kept). A second request from the same
        number merges into the pending callback, which keeps the earlier place."""
        status, ref, pos = await self._call(
            "callback", uniqueid, key, self._ms(self.settings.lease_seconds)
        )
        result = CallbackResult(_s(status), _s(ref), int(pos))
        if result.ok:
            self._fated(uniqueid)
        return result

    async def move(
        self, uniqueid: str, skill: str, reason: str, *, from_skill: str = ""
    ) -> QueuePlace:
        """Overflow by widening (or a key that picked another skill): the waiting caller
        moves to ``skill`` with its score. With ``from_skill``, only while it is still in
        that skill: otherwise nothing changes and the state is ``moved`` (the place's skill
        is then the one it is in)."""
        pos, state, agent = await self._call("move", uniqueid, skill, reason, from_skill)
        if _s(state) == "moved":
            return QueuePlace(int(pos), True, "moved", "", "")
        if _s(state) in ("waiting", "offered"):
            self._fated(uniqueid, f"skill:{skill}")
        return QueuePlace(int(pos), True, _s(state), _s(agent), skill)

    async def leave(self, uniqueid: str, action: str, target: str, reason: str) -> float | None:
        """The caller leaves the queue by an overflow rule (OVERFLOW, not ABANDON), or by a
        self-service key in the menu (``action`` ``key``: EXITWITHKEY, no longer counted as
        offered to the operators). Returns the wait in seconds, None if the caller was not
        queued."""
        wait_ms = int(await self._call("leave", uniqueid, action, target, reason))
        self._fated(uniqueid)
        return None if wait_ms < 0 else wait_ms / 1000

    async def renew(self, uniqueids: Iterable[str], calls: Iterable[str] = ()) -> int:
        """Renew the leases of these callers and of these live calls (all of one process,
        in one round trip)."""
        ids, live = list(uniqueids), list(calls)
        if not ids and not live:
            return 0
        lease = self._ms(self.settings.lease_seconds)
        return int(await self._call("renew", lease, len(ids), *ids, *live))

    async def wait_info(self, uniqueid: str) -> WaitInfo:
        pos, state, skill, agent, staffed, completed, talk_ms, waiting, there = await self._call(
            "position", uniqueid
        )
        staffed, pos = int(staffed), int(pos)
        if int(completed) > 0:
            handle = int(talk_ms) / 1000 / int(completed) + self.settings.wrapup_seconds
        else:
            handle = self.settings.default_handle_seconds
        eta = None if staffed == 0 else pos * handle / staffed
        return WaitInfo(
            pos, _s(state), _s(skill), _s(agent), staffed, int(waiting), eta, int(there) == 1
        )

    async def waiting(self, skill: str) -> list[str]:
        members = await self.client.zrange(keys.waiting(skill, self.centre), 0, -1)
        return [_s(m) for m in members]

    async def entry(self, uniqueid: str) -> dict[str, str]:
        raw = await self.client.hgetall(keys.entry(uniqueid, self.centre))
        return {_s(k): _s(v) for k, v in raw.items()}

    # -- agents ---------------------------------------------------------------------------

    async def login(self, agent: AgentProfile, *, ready: bool = False) -> str:
        """Log an agent in (paused, reason ``login``, unless ``ready``). Logging in again
        refreshes the heartbeat and takes new skills and interface. Returns the state."""
        self.agents_changed = True
        return _s(
            await self._call(
                "login",
                agent.id,
                agent.name,
                agent.interface,
                agent.skills_arg(),
                self._ms(self.settings.heartbeat_seconds),
                1 if ready else 0,
            )
        )

    async def ready(self, agent_id: str) -> str:
        """Ready for calls (ends a pause or the wrap-up early); may be offered a call at once."""
        self.agents_changed = True
        return _s(await self._call("ready", agent_id))

    async def pause(self, agent_id: str, reason: str = "pause") -> str:
        """Pause now, or after the current call (returns ``reserved``/``busy`` then)."""
        self.agents_changed = True
        return _s(await self._call("pause", agent_id, reason))

    async def logout(self, agent_id: str, reason: str = "logout") -> str:
        """Log out now, or after the current call."""
        self.agents_changed = True
        return _s(await self._call("logout", agent_id, reason))

    async def heartbeat(self, agent_id: str) -> str:
        return _s(
            await self._call("heartbeat", agent_id, self._ms(self.settings.heartbeat_seconds))
        )

    async def agent(self, agent_id: str) -> AgentState:
        raw = await self.client.hgetall(keys.agent(agent_id, self.centre))
        h = {_s(k): _s(v) for k, v in raw.items()}
        skills = {}
        for part in h.get("skills", "").split(","):
            if ":" in part:
                name, level = part.split(":", 1)
                skills[name] = int(level)
        return AgentState(
            id=agent_id,
            name=h.get("name", ""),
            interface=h.get("interface", ""),
            skills=skills,
            state=h.get("state", "offline"),
            reason=h.get("reason", ""),
            since=int(h.get("since", "0") or 0) / 1000,
            call=h.get("call", ""),
            pending=h.get("pending", ""),
        )

    # -- housekeeping and metrics ----------------------------------------------------------

    async def tick(
        self, limit: int = 500, *, lost: int = 0, epoch: str = "", mirror: bool = False
    ) -> TickResult:
        """The reaper: end due wrap-ups, log out agents whose heartbeat stopped, close entries
        whose lease expired; take up to ``lost`` live calls whose lease expired (each goes
        to exactly one caller of tick). Safe to run on every server at once. ``limit`` 0:
        no reaping. A gap of more than max(5 s, 3 ticks) since the last reaper ran means
        every server was away: each heartbeat deadline then gets a full interval again.

        ``epoch``: the epoch token this server knows; the result says whether Redis forgot
        (the token missing - a new one is set - or another). ``mirror``: also list the
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
            forgot=_s(status) in ("missing", "changed"),
            agents=tuple(_mirror(agents)) if mirror else None,
        )

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
        self.live[uniqueid] = _Live(attempt, snapshot, was.done, was.agent)
        return was

    async def call_note(self, uniqueid: str, snapshot: str, *, done: bool = False) -> None:
        """Update the stored snapshot; ``done`` marks the call served (sticky)."""
        memo = self.live.get(uniqueid)
        if memo is not None:
            memo.snapshot = snapshot
            memo.done = memo.done or done
        await self._call("call_note", uniqueid, snapshot, 1 if done else 0)

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

    async def snapshot(self) -> dict[str, Any]:
        """The live picture: per skill waiting, longest wait, agents by state, today's
        counters; and every logged-in agent."""
        data: dict[str, Any] = json.loads(_s(await self._call("snapshot")))
        if not isinstance(data.get("skills"), dict):
            data["skills"] = {}
        if not isinstance(data.get("agents"), list):
            data["agents"] = []
        for skill in data["skills"].values():
            if not isinstance(skill.get("agents"), dict):
                skill["agents"] = {}
        return data

    @staticmethod
    def _ms(seconds: float) -> int:
        return int(seconds * 1000)

    # -- the callback dialler (queueing/callback.py) ----------------------------------------

    async def callback_failed(
        self,
        uniqueid: str,
        agent: str,
        status: str,
        *,
        counted: bool,
        max_attempts: int,
        retry_seconds: float,
    ) -> CallbackFailure:
        """A callback offered to ``agent`` did not reach its caller. ``counted``: the caller
        was dialled and did not answer (``status`` is the DIALSTATUS), which is an attempt;
        otherwise it was not dialled at all (AMI away). The callback goes back to its place
        in ``retry_seconds``, or after ``max_attempts`` attempts is closed like an abandoned
        call (a missed-call task). The agent is free at once."""
        state, attempts = await self._call(
            "cbfail",
            uniqueid,
            agent,
            status,
            1 if counted else 0,
            max_attempts,
            self._ms(retry_seconds),
        )
        return CallbackFailure(_s(state), int(attempts))

    async def dialler_alive(self, ttl_seconds: float) -> int:
        """This server's dialler is logged in to AMI for ``ttl_seconds`` (0: not any more).
        Callbacks due again return to the waiting set only while some dialler is. Returns
        how many are."""
        return int(await self._call("dialler", self.server, self._ms(ttl_seconds)))

    async def diallers_alive(self) -> int:
        """How many callback diallers (of any server) are logged in to AMI."""
        return int(await self._call("dialler", self.server, -1))
