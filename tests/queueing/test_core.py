"""The queue's Lua operations against the real Redis: ordering, assignment, agent states,
no-answer, abandon, wrap-up, the reaper and the events they write."""

from __future__ import annotations

import pytest

from ivr.config.queue_models import QueueSettings
from queueing import keys
from queueing.queue import QueueError, QueueRequest, RedisQueue
from tests.queueing.conftest import T0, Clock, agent
from tests.redis_clients import redis_client


def req(uid: str, priority: int = 0, at: float = T0, skill: str = "general") -> QueueRequest:
    return QueueRequest(uid, "13800000000", "12345", skill, priority, at)


async def offers(q: RedisQueue) -> list[tuple[str, str, str]]:
    out = []
    while (raw := await q.client.lpop(keys.inbox(q.server))) is not None:
        uid, aid, iface = raw.decode().split("\t")
        out.append((uid, aid, iface))
    return out


async def events(q: RedisQueue) -> list[str]:
    rows = await q.client.xrange(keys.events())
    return [f[b"event"].decode() for _, f in rows]


async def test_assignment_takes_head_caller_and_best_level_then_longest_idle(
    rq: RedisQueue, clock: Clock
) -> None:
    await rq.login(agent("a1", general=5), ready=True)
    clock.advance(1)
    await rq.login(agent("a2", general=5), ready=True)  # idle for less time than a1
    await rq.login(agent("a3", general=8), ready=True)  # best level
    await rq.pause("a3", "lunch")
    place = await rq.enqueue(req("c1"))
    assert (place.state, place.agent, place.position) == ("offered", "a1", 0)
    place = await rq.enqueue(req("c2", at=T0 + 1))
    assert place.agent == "a2"
    await rq.ready("a3")
    place = await rq.enqueue(req("c3", at=T0 + 2))
    assert place.agent == "a3"
    assert await offers(rq) == [
        ("c1", "a1", "PJSIP/a1"),
        ("c2", "a2", "PJSIP/a2"),
        ("c3", "a3", "PJSIP/a3"),
    ]


async def test_level_beats_idle_time(rq: RedisQueue, clock: Clock) -> None:
    await rq.login(agent("junior", general=2), ready=True)
    clock.advance(100)
    await rq.login(agent("senior", general=9), ready=True)
    assert (await rq.enqueue(req("c1"))).agent == "senior"


async def test_agent_only_gets_callers_of_its_skills(rq: RedisQueue) -> None:
    await rq.enqueue(req("heat", skill="heating"))
    await rq.enqueue(req("tax", skill="tax", at=T0 + 5))
    assert await rq.login(agent("a1", tax=5), ready=True) == "reserved"
    assert (await rq.agent("a1")).call == "tax"
    assert await rq.waiting("heating") == ["heat"]


async def test_ready_agent_takes_the_oldest_placed_caller_across_its_skills(rq: RedisQueue) -> None:
    await rq.enqueue(req("young", skill="heating", at=T0 + 10))
    await rq.enqueue(req("old", skill="tax", at=T0))
    await rq.login(agent("a1", heating=9, tax=1), ready=True)
    assert (await rq.agent("a1")).call == "old"


async def test_anti_starvation_priority_counts_as_waiting_time(queue_url: str) -> None:
    client = redis_client(queue_url)
    await client.flushdb()
    q = RedisQueue(client, QueueSettings(priority_seconds=2), server="s1")
    await q.enqueue(req("low", 0, T0))
    await q.enqueue(req("vip_early", 10, T0 + 15))  # 10 points = 20 s: goes ahead
    await q.enqueue(req("vip_late", 10, T0 + 25))  # low has waited 25 s > 20 s: stays behind
    assert await q.waiting("general") == ["vip_early", "low", "vip_late"]
    await q.close()


async def test_strict_priority_when_priority_seconds_is_null(queue_url: str) -> None:
    client = redis_client(queue_url)
    await client.flushdb()
    q = RedisQueue(client, QueueSettings(priority_seconds=None), server="s1")
    await q.enqueue(req("low", 0, T0))
    await q.enqueue(req("vip", 1, T0 + 10_000))
    assert await q.waiting("general") == ["vip", "low"]
    await q.close()


async def test_no_answer_pauses_the_agent_and_keeps_the_callers_place(
    rq: RedisQueue, clock: Clock
) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(req("first"))
    await rq.enqueue(req("second", at=T0 + 1))
    await rq.enqueue(req("third", at=T0 + 2))
    clock.advance(20)
    place = await rq.no_answer("first", "a1")
    assert (place.position, place.state) == (1, "waiting")
    assert await rq.waiting("general") == ["first", "second", "third"]
    a = await rq.agent("a1")
    assert (a.state, a.reason) == ("paused", "no answer")
    # another agent takes the caller at its original place
    assert await rq.login(agent("a2"), ready=True) == "reserved"
    assert (await rq.agent("a2")).call == "first"
    assert "RINGNOANSWER" in await events(rq) and "PAUSE" in await events(rq)


async def test_connect_complete_wrapup_then_ready(rq: RedisQueue, clock: Clock) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(req("c1"))
    clock.advance(3)
    assert await rq.connect("c1", "a1") == 3.0
    assert (await rq.agent("a1")).state == "busy"
    clock.advance(50)
    await rq.heartbeat("a1")
    assert await rq.complete("c1", "a1") == "wrapup"
    await rq.enqueue(req("c2", at=clock()))
    assert (await rq.agent("a1")).state == "wrapup"  # not offered during wrap-up
    clock.advance(9)
    assert (await rq.tick()).wrapups == 0
    clock.advance(1)
    assert (await rq.tick()).wrapups == 1
    a = await rq.agent("a1")
    assert (a.state, a.call) == ("reserved", "c2")
    assert await events(rq) == [
        "ADDMEMBER", "UNPAUSE", "ENTERQUEUE", "CONNECT", "COMPLETECALLER", "ENTERQUEUE",
    ]  # fmt: skip


async def test_pause_during_call_applies_after_it(rq: RedisQueue) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(req("c1"))
    await rq.connect("c1", "a1")
    assert await rq.pause("a1", "meeting") == "busy"
    assert await rq.complete("c1", "a1") == "paused"
    assert (await rq.agent("a1")).reason == "meeting"


async def test_abandon_of_an_offered_caller_frees_the_agent_at_its_idle_place(
    rq: RedisQueue, clock: Clock
) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(req("c1"))
    clock.advance(7)
    assert await rq.abandon("c1") == 7.0
    assert (await rq.agent("a1")).state == "ready"
    assert await rq.abandon("c1") is None
    rows = await rq.client.xrange(keys.events())
    ab = next(f for _, f in rows if f[b"event"] == b"ABANDON")
    assert ab[b"data"].decode() == "0|1|7|hangup"


async def test_errors_carry_a_code(rq: RedisQueue) -> None:
    with pytest.raises(QueueError) as err:
        await rq.ready("ghost")
    assert err.value.code == "HL-QUE-002" and "not logged in" in err.value.message
    await rq.enqueue(req("c1"))
    with pytest.raises(QueueError) as err:
        await rq.connect("c1", "nobody")
    assert err.value.code == "HL-QUE-010"


async def reaper_running(rq: RedisQueue, clock: Clock, seconds: int) -> int:
    """The reaper ticking every second for ``seconds`` (a server runs: a reaper that did not
    run for a while means every server was away, and heartbeats are not held against the
    agents then). Returns how many agents it logged out."""
    out = 0
    for _ in range(seconds):
        clock.advance(1)
        out += (await rq.tick()).logouts
    return out


async def test_reaper_logs_out_agents_without_heartbeat(rq: RedisQueue, clock: Clock) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.login(agent("a2"), ready=True)
    await rq.tick()
    assert await reaper_running(rq, clock, 50) == 0
    await rq.heartbeat("a2")
    assert await reaper_running(rq, clock, 11) == 1
    assert (await rq.agent("a1")).state == "offline"
    assert (await rq.agent("a2")).state == "ready"
    assert await rq.client.zcard(keys.ready("general")) == 1


async def test_reaper_logs_out_a_busy_agent_only_after_the_call(
    rq: RedisQueue, clock: Clock
) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(req("c1"))
    await rq.connect("c1", "a1")
    await rq.tick()
    assert await reaper_running(rq, clock, 29) == 0
    await rq.renew(["c1"])  # the session bridging the call renews its lease
    assert await reaper_running(rq, clock, 29) == 0
    await rq.renew(["c1"])
    assert await reaper_running(rq, clock, 3) == 1
    assert (await rq.agent("a1")).state == "busy"
    assert await rq.complete("c1", "a1") == "offline"


async def test_reaper_closes_entries_whose_lease_expired(rq: RedisQueue, clock: Clock) -> None:
    await rq.enqueue(req("gone"))
    await rq.enqueue(req("alive", at=T0 + 1))
    clock.advance(25)
    assert await rq.renew(["alive"]) == 1
    clock.advance(10)
    assert (await rq.tick()).reaped == 1
    assert await rq.waiting("general") == ["alive"]
    assert await rq.renew(["gone"]) == 0  # a reaped entry is not brought back by a renewal


async def test_reentry_after_a_crash_keeps_the_place_and_the_pending_offer(
    rq: RedisQueue, queue_url: str, clock: Clock
) -> None:
    await rq.enqueue(req("c1"))
    await rq.login(agent("a1"), ready=True)  # offered to c1 on server s1, which then dies
    other = RedisQueue(redis_client(queue_url), rq.settings, clock=clock, server="s2")
    place = await other.enqueue(req("c1", at=T0 + 30))
    assert (place.resumed, place.state, place.agent) == (True, "offered", "a1")
    assert await offers(other) == [("c1", "a1", "PJSIP/a1")]
    assert (await other.entry("c1"))["enqueued_at"] == repr(T0)
    await other.close()


async def test_snapshot_counts_today(rq: RedisQueue, clock: Clock) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.login(agent("a2"))
    await rq.enqueue(req("c1"))
    clock.advance(20)
    await rq.connect("c1", "a1")
    await rq.enqueue(req("c2", at=clock()))
    clock.advance(5)
    snap = await rq.snapshot()
    g = snap["skills"]["general"]
    assert g["waiting"] == 1 and g["longest_wait_ms"] == 5000
    assert g["agents"] == {"busy": 1, "paused": 1}
    assert g["today"]["offered"] == 2 and g["today"]["answered"] == 1
    assert g["today"]["answered_in_sl"] == 0 and g["today"]["wait_ms"] == 20000
    assert sorted(a["id"] for a in snap["agents"]) == ["a1", "a2"]
