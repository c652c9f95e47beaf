"""Many agents and callers racing through every queue operation, against the real Redis.

After every step: no caller or agent is assigned twice, no caller is lost, positions follow
the ordering rule, every offer reached the caller's server, and no skill has both a waiting
caller and a ready agent (a match is always made at once).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ivr.config.queue_models import AgentSpec, QueueSettings
from queueing import keys
from queueing.queue import QueueRequest, RedisQueue
from tests.queueing.conftest import Clock
from tests.redis_clients import redis_client

SKILLS = ["heating", "tax", "water"]
AGENTS = [f"a{i}" for i in range(6)]
AGENT_SKILLS = [
    {"heating": 5},
    {"heating": 9, "tax": 3},
    {"tax": 5},
    {"water": 2, "heating": 2},
    {"tax": 7, "water": 7},
    {"water": 1},
]


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class QueueMachine(RuleBasedStateMachine):
    redis_url = ""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = Clock()
        self.client = redis_client(self.redis_url)
        self.run(self.client.flushdb())
        self.q = RedisQueue(
            self.client, QueueSettings(wrapup_seconds=5), clock=self.clock, server="sm"
        )
        self.alive: dict[str, str] = {}  # uid -> skill, callers that must be in the queue
        self.offers: dict[str, str] = {}  # uid -> agent, from the inbox
        self.logged_in: set[str] = set()
        self.n = 0

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(self.client.aclose())
        self.loop.close()

    def drain_offers(self) -> list[tuple[str, str]]:
        got = []
        while (raw := self.run(self.client.lpop(keys.inbox("sm")))) is not None:
            uid, aid, iface = _s(raw).split("\t")
            assert iface == f"PJSIP/{aid}"
            assert uid not in self.offers, f"{uid} offered twice"
            self.offers[uid] = aid
            got.append((uid, aid))
        return got

    def sync_logins(self) -> None:
        # an agent that asked to log out during a call is logged out when the call ends
        for aid in sorted(self.logged_in):
            if self.run(self.q.agent(aid)).state == "offline":
                self.logged_in.discard(aid)

    def entry(self, uid: str) -> dict[str, str]:
        return self.run(self.q.entry(uid))

    def callers_in(self, state: str) -> list[str]:
        return sorted(u for u in self.alive if self.entry(u).get("state") == state)

    # -- rules ----------------------------------------------------------------------------

    @rule(i=st.integers(0, len(AGENTS) - 1), ready=st.booleans())
    def login(self, i: int, ready: bool) -> None:
        spec = AgentSpec(
            id=AGENTS[i], name=AGENTS[i], interface=f"PJSIP/{AGENTS[i]}", skills=AGENT_SKILLS[i]
        )
        self.run(self.q.login(spec, ready=ready))
        self.logged_in.add(AGENTS[i])

    @rule(i=st.integers(0, len(AGENTS) - 1))
    def ready(self, i: int) -> None:
        self.sync_logins()
        if AGENTS[i] in self.logged_in:
            self.run(self.q.ready(AGENTS[i]))

    @rule(i=st.integers(0, len(AGENTS) - 1))
    def pause(self, i: int) -> None:
        self.sync_logins()
        if AGENTS[i] in self.logged_in:
            self.run(self.q.pause(AGENTS[i], "break"))

    @rule(i=st.integers(0, len(AGENTS) - 1))
    def logout(self, i: int) -> None:
        if self.run(self.q.logout(AGENTS[i])) == "offline":
            self.logged_in.discard(AGENTS[i])

    @rule(skill=st.sampled_from(SKILLS), priority=st.sampled_from([0, 0, 10, 60]))
    def enqueue(self, skill: str, priority: int) -> None:
        self.n += 1
        uid = f"c{self.n}"
        place = self.run(
            self.q.enqueue(QueueRequest(uid, "138", "12345", skill, priority, self.clock()))
        )
        assert not place.resumed
        self.alive[uid] = skill

    @rule(data=st.data())
    def reenter(self, data: st.DataObject) -> None:
        if not self.alive:
            return
        uid = data.draw(st.sampled_from(sorted(self.alive)))
        before = self.entry(uid)
        place = self.run(
            self.q.enqueue(QueueRequest(uid, "138", "12345", "water", 0, self.clock() + 99))
        )
        assert place.resumed and place.skill == self.alive[uid]
        assert self.entry(uid)["score"] == before["score"]

    @rule(data=st.data())
    def hangup(self, data: st.DataObject) -> None:
        callers = [u for u in self.alive if self.entry(u).get("state") != "connected"]
        if not callers:
            return
        uid = data.draw(st.sampled_from(sorted(callers)))
        assert self.run(self.q.abandon(uid)) is not None
        del self.alive[uid]
        self.offers.pop(uid, None)

    @rule(data=st.data())
    def answer(self, data: st.DataObject) -> None:
        offered = self.callers_in("offered")
        if offered:
            uid = data.draw(st.sampled_from(offered))
            self.run(self.q.connect(uid, self.offers[uid]))

    @rule(data=st.data())
    def no_answer(self, data: st.DataObject) -> None:
        offered = self.callers_in("offered")
        if offered:
            uid = data.draw(st.sampled_from(offered))
            self.run(self.q.no_answer(uid, self.offers.pop(uid)))

    @rule(data=st.data(), by_agent=st.booleans())
    def complete(self, data: st.DataObject, by_agent: bool) -> None:
        connected = self.callers_in("connected")
        if connected:
            uid = data.draw(st.sampled_from(connected))
            who = "agent" if by_agent else "caller"
            self.run(self.q.complete(uid, self.offers.pop(uid), who))
            del self.alive[uid]

    @rule(seconds=st.sampled_from([1, 3, 6]))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds)
        # live sessions renew their leases, live desks their heartbeats
        self.run(self.q.renew(list(self.alive)))
        for aid in sorted(self.logged_in):
            if self.run(self.q.agent(aid)).state == "offline":
                self.logged_in.discard(aid)  # logged out when its call ended
            else:
                self.run(self.q.heartbeat(aid))
        result = self.run(self.q.tick())
        assert (result.logouts, result.reaped) == (0, 0)

    @invariant()
    def consistent(self) -> None:
        self.drain_offers()
        waiting_sets = {
            s: [_s(m) for m in self.run(self.client.zrange(keys.waiting(s), 0, -1))] for s in SKILLS
        }
        everywhere = [u for members in waiting_sets.values() for u in members]
        assert len(everywhere) == len(set(everywhere)), "a caller waits twice"
        assert set(everywhere) <= set(self.alive), "a gone caller still waits"
        busy_agents: dict[str, str] = {}
        for uid, skill in self.alive.items():
            e = self.entry(uid)
            assert e, f"caller {uid} was lost"
            assert e["skill"] == skill
            if e["state"] == "waiting":
                assert uid in waiting_sets[skill]
                assert uid not in self.offers
            else:
                assert e["state"] in ("offered", "connected")
                assert uid not in everywhere
                aid = e["agent"]
                assert self.offers.get(uid) == aid, f"{uid} was not told of its offer"
                assert aid not in busy_agents, f"agent {aid} has two callers"
                busy_agents[aid] = uid
                a = self.run(self.q.agent(aid))
                assert a.call == uid
                assert a.state == ("reserved" if e["state"] == "offered" else "busy")
        for skill, members in waiting_sets.items():
            scores = [float(self.entry(u)["score"]) for u in members]
            assert scores == sorted(scores), "positions out of order"
            for pos, uid in enumerate(members, start=1):
                assert self.run(self.q.wait_info(uid)).position == pos
            ready = [_s(m) for m in self.run(self.client.zrange(keys.ready(skill), 0, -1))]
            assert not (members and ready), f"{skill}: callers wait while agents are ready"
            for aid in ready:
                assert self.run(self.q.agent(aid)).state == "ready"
        for aid in AGENTS:
            a = self.run(self.q.agent(aid))
            if a.state in ("reserved", "busy"):
                assert busy_agents.get(aid) == a.call, f"agent {aid} is stuck {a.state}"
            staffed = {s for s in SKILLS if self.run(self.client.sismember(keys.staffed(s), aid))}
            expect = set(a.skills) if a.state not in ("offline", "paused") else set()
            assert staffed == expect


def test_queue_state_machine(redis_url: str) -> None:
    QueueMachine.redis_url = redis_url
    QueueMachine.TestCase.settings = settings(
        max_examples=int(os.environ.get("HOTLINE_SM_EXAMPLES", "25")),
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    QueueMachine.TestCase().runTest()
