"""The event pump after Redis lost its stream (FLUSHALL, a restart without persistence): it
recreates its consumer group and the events written after the loss reach the sink. And the
server's event journal forgets what the sink's group acknowledged."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio as aioredis

from ivr.config.queue_models import QueueSettings
from queueing.events import EventJournal, MemoryEventSink
from queueing.pump import EventPump
from queueing.queue import RedisQueue
from queueing.stopping import stop_task
from tests.queueing.conftest import agent
from tests.queueing.own_redis import OwnRedis, apoll
from tests.redis_clients import redis_client


async def _pump_after_loss(own: OwnRedis, lose: str) -> None:
    client = aioredis.Redis.from_url(own.url)
    q = RedisQueue(client, QueueSettings(), server="s1")
    sink = MemoryEventSink()
    pump = EventPump(client, sink, "s1")
    task = asyncio.create_task(pump.run(block_ms=100))
    try:
        await q.login(agent("a1"))

        async def seen(name: str) -> bool:
            return any(e.agent == name for e in sink.events)

        await apoll(lambda: seen("a1"), "the first login event")
        if lose == "flush":
            own.flushall()
        else:
            own.restart()
        # the next operations may meet the restart; retried as a caller of the queue would
        await apoll(lambda: _login(q, "a2"), "Redis back")
        await apoll(lambda: seen("a2"), "an event written after the loss")
        assert [e.event for e in sink.events if e.agent == "a2"] == ["ADDMEMBER"]
    finally:
        pump.closing = True
        await stop_task(task)
        await q.close()


async def _login(q: RedisQueue, aid: str) -> bool:
    try:
        await q.login(agent(aid))
    except (ConnectionError, OSError, aioredis.ConnectionError):
        return False
    return True


async def test_the_pump_recreates_its_group_after_a_flushall(tmp_path: Path) -> None:
    own = OwnRedis(tmp_path).start()
    try:
        await _pump_after_loss(own, "flush")
    finally:
        own.stop()


async def test_the_pump_recreates_its_group_after_a_restart_without_persistence(
    tmp_path: Path,
) -> None:
    own = OwnRedis(tmp_path).start()
    try:
        await _pump_after_loss(own, "restart")
    finally:
        own.stop()


async def test_the_journal_forgets_what_any_pump_delivered_while_the_epoch_holds(
    redis_url: str,
) -> None:
    client = redis_client(redis_url)
    await client.flushdb()
    q = RedisQueue(client, QueueSettings(), server="s1", journal=EventJournal())
    assert q.journal is not None
    token = await q.epoch()
    await q.login(agent("a1"))
    await q.login(agent("a2"), ready=True)
    assert len(q.journal) == 3
    # s1's own pump is not running; s2's delivers (another consumer of the same group)
    other = EventPump(client, MemoryEventSink(), "s2")
    assert await other.drain() == 3
    mine = EventPump(client, MemoryEventSink(), "s1", journal=q.journal, epoch=lambda: "other")
    assert await mine.prune() == 0  # Redis is not at the epoch this server knows: keep them
    mine.epoch = lambda: token
    assert await mine.prune() == 3
    assert len(q.journal) == 0
    # one read and not yet acknowledged by s2 (it died): kept until then
    await q.pause("a2", "lunch")
    await q.login(agent("a3"))
    await client.xreadgroup("sink", "s2", {q.events_key: ">"}, count=1)
    assert await mine.prune() == 0
    assert len(q.journal) == 2
    await client.aclose()
