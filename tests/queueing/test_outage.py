"""Server outages cost no logins: when every hotline server was away for longer than the
heartbeat interval, no operator is logged out when one comes back; an operator whose own
heartbeats stop while a server runs still is. And a heartbeat after the reaper marked an
operator on a call keeps the operator logged in."""

from __future__ import annotations

from queueing.queue import QueueRequest, RedisQueue
from tests.queueing.conftest import T0, Clock, agent


async def run_reaper(rq: RedisQueue, clock: Clock, seconds: int, *held: str) -> int:
    """The reaper running every second for ``seconds`` (the server renewing the leases of
    the callers it holds): how many agents it logged out."""
    out = 0
    for _ in range(seconds):
        clock.advance(1)
        await rq.renew(held)
        out += (await rq.tick()).logouts
    return out


async def test_an_outage_of_every_server_logs_nobody_out(rq: RedisQueue, clock: Clock) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.login(agent("a2"))
    await rq.tick()
    clock.advance(150)  # every server down for 150 s; heartbeats are 60 s
    assert (await rq.tick()).logouts == 0
    assert (await rq.agent("a1")).state == "ready"
    assert (await rq.agent("a2")).state == "paused"
    # the servers run again: a2's desk sends heartbeats, a1's does not
    assert await run_reaper(rq, clock, 25) == 0
    await rq.heartbeat("a2")
    assert await run_reaper(rq, clock, 25) == 0
    await rq.heartbeat("a2")
    assert (await rq.agent("a1")).state == "ready"  # 50 s after the outage
    assert await run_reaper(rq, clock, 25) == 1
    assert (await rq.agent("a1")).state == "offline"
    assert (await rq.agent("a1")).reason == "heartbeat"
    assert (await rq.agent("a2")).state == "paused"


async def test_a_heartbeat_after_the_reaper_marked_an_agent_on_a_call_keeps_it_in(
    rq: RedisQueue, clock: Clock
) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(QueueRequest("c1", "13800000000", "12345", "general", 0, T0))
    await rq.connect("c1", "a1")
    await run_reaper(rq, clock, 61, "c1")  # the desk was silent while the server ran
    assert (await rq.agent("a1")).pending == "logout"
    await rq.heartbeat("a1")  # ... and is there after all
    assert (await rq.agent("a1")).pending == ""
    assert await rq.complete("c1", "a1") == "wrapup"
    await run_reaper(rq, clock, 30)
    assert (await rq.agent("a1")).state == "ready"


async def test_a_heartbeat_does_not_undo_the_operators_own_logout(
    rq: RedisQueue, clock: Clock
) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(QueueRequest("c1", "13800000000", "12345", "general", 0, T0))
    await rq.connect("c1", "a1")
    await rq.logout("a1", "end of shift")
    await rq.heartbeat("a1")
    assert await rq.complete("c1", "a1") == "offline"


async def test_restore_takes_the_head_caller_and_writes_no_event(
    rq: RedisQueue, clock: Clock
) -> None:
    from queueing import keys
    from queueing.queue import AgentMirror

    def mirror(aid: str, state: str, call: str = "") -> AgentMirror:
        return AgentMirror(
            aid, aid, f"PJSIP/{aid}", "general:5", state, "", str(int(T0 * 1000)), call
        )

    def caller(uid: str, at: float) -> QueueRequest:
        return QueueRequest(uid, "13800000000", "12345", "general", 0, at)

    done = await rq.restore(
        callers=[caller("c2", T0 + 2), caller("c1", T0 + 1), caller("c3", T0 + 3)],
        agents=[mirror("a1", "busy", "gone"), mirror("a2", "wrapup"), mirror("a3", "paused")],
    )
    assert done == (3, 0, 0, 3)
    # a1's call was not re-asserted: ready again; a1 and a2 take the two head callers
    assert {(await rq.agent(a)).call for a in ("a1", "a2")} == {"c1", "c2"}
    assert (await rq.agent("a3")).state == "paused"
    assert await rq.waiting("general") == ["c3"]
    assert await rq.client.xlen(keys.events()) == 0
    assert await rq.client.hgetall(keys.stats(rq.today())) == {}
    # a second re-assertion changes nothing
    assert await rq.restore(callers=[caller("c3", T0 + 3)], agents=[mirror("a3", "ready")]) == (
        0,
        0,
        0,
        0,
    )
