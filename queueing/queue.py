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

import json
from collections.abc import Iterable
from typing import Any, Protocol

from queueing import keys
from queueing.client import _s, default_server_id
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
from queueing.options import AgentProfile
from queueing.recovery import Housekeeping

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


class QueueGateway(Protocol):
    async def enqueue(self, request: QueueRequest) -> QueuePlace: ...


class RedisQueue(Housekeeping):
    """The queue's Python API. Every method is one Redis round trip. The connection, the
    clock and the local day are :class:`~queueing.client.QueueClient`'s; the reaper, the
    live calls and the re-assertion after Redis forgot are
    :class:`~queueing.recovery.Housekeeping`'s."""

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
        return _after_call(raw)

    async def answered(
        self,
        uniqueid: str,
        agent: str,
        answered_at: float,
        who: str = "caller",
        snapshot: str | None = None,
    ) -> tuple[float, AfterCall]:
        """The agent answered at ``answered_at`` and the conversation is over: in one round
        trip, the live call's ``snapshot`` marked served (:meth:`call_note` with ``done``;
        none given: left alone), :meth:`connect` (the first report stands) and
        :meth:`complete_call`. Returns the wait in seconds and the agent's state after."""
        at = int(answered_at * 1000)
        sl = self._ms(self.settings.service_level_seconds)
        wrapup = self._ms(self.settings.wrapup_seconds)
        if snapshot is not None:
            self._noted(uniqueid, snapshot, True)
        wait_ms, raw = await self._call(
            "answered", uniqueid, agent, at, sl, wrapup, who, snapshot or ""
        )
        self._fated(uniqueid)
        return int(wait_ms) / 1000, _after_call(raw)

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

    async def pbx_lost(self, uniqueid: str, box: str) -> float | None:
        """The caller's Asterisk box went away while it waited or its operator rang: out of
        the queue as PBXLOST (offered, not abandoned; the operator rung is freed). Returns the
        wait in seconds, None if the caller was not queued; HL-QUE-012 when it is connected
        (complete that call instead)."""
        return await self.leave(uniqueid, "pbx-lost", box, "pbx-lost")

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


def _after_call(raw: object) -> AfterCall:
    """The agent's state as the complete step returns it: "reserved TAB uniqueid" when the
    agent was offered its next caller in the same step, else the state alone."""
    state, _, next_call = _s(raw).partition("\t")
    return AfterCall(state, next_call)
