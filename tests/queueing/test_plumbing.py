"""How the queue talks to Redis: complete handing the next caller, the day of the counters,
a server that lost the script, the counters' expiry, and skills changed by a new login."""

from __future__ import annotations

import asyncio
import datetime as dt

from ivr.config.queue_models import QueueSettings
from queueing import keys
from queueing.client import POOL_CONNECTIONS
from queueing.queue import AfterCall, QueueRequest, RedisQueue
from tests.queueing.conftest import T0, Clock, agent
from tests.redis_clients import redis_client


def req(uid: str, at: float = T0, skill: str = "general") -> QueueRequest:
    return QueueRequest(uid, "13800000000", "12345", skill, 0, at)


async def test_complete_call_tells_the_next_caller_without_wrapup(
    redis_url: str, clock: Clock
) -> None:
    client = redis_client(redis_url)
    await client.flushdb()
    q = RedisQueue(client, QueueSettings(wrapup_seconds=0), clock=clock, server="s1")
    try:
        await q.login(agent("a1"), ready=True)
        await q.enqueue(req("c1"))
        await q.enqueue(req("c2", at=T0 + 1))
        await q.connect("c1", "a1")
        assert await q.complete_call("c1", "a1") == AfterCall("reserved", "c2")
        assert (await q.agent("a1")).call == "c2"
        await q.connect("c2", "a1")
        # nobody left waiting: ready, and no next caller
        assert await q.complete_call("c2", "a1") == AfterCall("ready", "")
        await q.enqueue(req("c3", at=T0 + 2))
        await q.connect("c3", "a1")
        assert await q.complete("c3", "a1") == "ready"
    finally:
        await q.close()


async def test_complete_call_with_wrapup_or_a_pending_pause(rq: RedisQueue) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(req("c1"))
    await rq.enqueue(req("c2", at=T0 + 1))
    await rq.connect("c1", "a1")
    assert await rq.complete_call("c1", "a1") == AfterCall("wrapup", "")
    await rq.ready("a1")  # ends the wrap-up: takes c2
    await rq.connect("c2", "a1")
    await rq.pause("a1", "lunch")
    assert await rq.complete_call("c2", "a1", "agent") == AfterCall("paused", "")


async def test_today_follows_the_local_midnight(redis_url: str) -> None:
    # 2026-09-14 23:59:59 in Shanghai (UTC+8), then one second later
    shanghai = dt.timezone(dt.timedelta(hours=8))
    before = dt.datetime(2026, 9, 14, 23, 59, 59, tzinfo=shanghai).timestamp()
    clock = Clock(before)
    q = RedisQueue(redis_client(redis_url), QueueSettings(), clock=clock)
    try:
        assert q.today() == "2026-09-14"
        clock.advance(1)
        assert q.today() == "2026-09-15"
        clock.advance(-2)  # a clock set back
        assert q.today() == "2026-09-14"
        clock.advance(86400 * 3)
        assert q.today() == "2026-09-17"
    finally:
        await q.close()


async def test_today_on_a_day_that_begins_at_one_in_the_morning(redis_url: str) -> None:
    # Santiago moved its clocks from 00:00 to 01:00 on 2022-09-11: that day began at 01:00
    settings = QueueSettings(timezone="America/Santiago")
    start = dt.datetime(2022, 9, 11, 4, 0, tzinfo=dt.UTC).timestamp()  # 01:00 local
    clock = Clock(start - 1)
    q = RedisQueue(redis_client(redis_url), settings, clock=clock)
    try:
        assert q.today() == "2022-09-10"
        clock.advance(1)
        assert q.today() == "2022-09-11"
        clock.advance(-1)
        assert q.today() == "2022-09-10"
    finally:
        await q.close()


async def test_the_counters_of_each_local_day(rq: RedisQueue, clock: Clock) -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    clock.t = dt.datetime(2026, 9, 14, 23, 59, 59, tzinfo=shanghai).timestamp()
    await rq.enqueue(req("c1", at=clock()))
    clock.advance(2)
    await rq.enqueue(req("c2", at=clock()))
    await rq.enqueue(req("c3", at=clock()))
    assert await rq.client.hget(keys.stats("2026-09-14"), "general:offered") == b"1"
    assert await rq.client.hget(keys.stats("2026-09-15"), "general:offered") == b"2"


async def test_a_server_without_the_script_gets_it_again(rq: RedisQueue) -> None:
    await rq.enqueue(req("c1"))
    await rq.client.script_flush()
    place = await rq.enqueue(req("c2", at=T0 + 1))
    assert place.position == 2
    assert await rq.waiting("general") == ["c1", "c2"]


async def test_the_counters_expire_even_on_a_day_without_enqueues(
    rq: RedisQueue, clock: Clock
) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(req("c1"))
    assert await rq.client.ttl(keys.stats(rq.today())) > 2 * 86400
    clock.advance(86400)  # the call is answered the next day: a new day's counters
    await rq.connect("c1", "a1")
    ttl = await rq.client.ttl(keys.stats(rq.today()))
    assert 2 * 86400 < ttl <= 3 * 86400


async def test_a_new_login_with_other_skills_takes_effect_at_once(rq: RedisQueue) -> None:
    await rq.login(agent("a1", general=5), ready=True)
    await rq.enqueue(req("t1", skill="tax"))
    assert (await rq.agent("a1")).state == "ready"
    # logging in again with new skills: in one call the agent leaves general's sets, joins
    # tax's, and takes the tax caller
    await rq.login(agent("a1", tax=3))
    a1 = await rq.agent("a1")
    assert (a1.state, a1.call, a1.skills) == ("reserved", "t1", {"tax": 3})
    assert await rq.client.zcard(keys.ready("general")) == 0
    assert await rq.client.smembers(keys.staffed("general")) == set()
    assert await rq.client.smembers(keys.staffed("tax")) == {b"a1"}


async def test_more_commands_at_once_than_connections_wait_instead_of_failing(
    redis_url: str,
) -> None:
    """redis-py's default pool refuses the 101st concurrent command ("Too many connections");
    200 desks opening their sockets at once reached it. The queue's pool makes a command
    wait for a free connection instead: 300 blocking commands at once all complete."""
    q = RedisQueue.from_url(redis_url)
    try:
        many = POOL_CONNECTIONS + 44
        done = await asyncio.gather(
            *(q.client.blpop([f"plumbing:nothing:{i}"], timeout=0.2) for i in range(many))
        )
        assert done == [None] * many
    finally:
        await q.close()
