"""Redis may forget; the hotline does not. Callers waiting, one talking, operators ready and
paused, a live call; then Redis is flushed, or restarted without persistence, or restarted
with its append-only file. Afterwards the callers keep their order, the operators their
states, the talking caller can be completed, the live call is registered, and the event
sink has every event exactly once (those Redis lost come from the server's journal)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from ivr.config.queue_models import QueueSettings
from queueing import keys
from queueing.events import MemoryEventSink, QueueEvent
from queueing.hub import QueueHub
from queueing.queue import Offer, QueueRequest, RedisQueue
from tests.queueing.conftest import agent
from tests.queueing.own_redis import OwnRedis, apoll

SETTINGS = QueueSettings(tick_seconds=0.2, wrapup_seconds=0)


class GatedSink(MemoryEventSink):
    """A sink that can be held (as a slow database would be)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()

    async def queue_event(self, event: QueueEvent) -> None:
        await self.gate.wait()
        await super().queue_event(event)

    async def queue_events(self, events: Sequence[QueueEvent]) -> None:
        await self.gate.wait()
        await super().queue_events(events)


@pytest.fixture(params=["flushall", "restart", "restart-aof"])
async def lose(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OwnRedis]:
    own = OwnRedis(tmp_path, appendonly=request.param == "restart-aof").start()
    own.how = request.param  # type: ignore[attr-defined]
    yield own
    own.stop()


def req(uid: str, at: float, skill: str = "general") -> QueueRequest:
    return QueueRequest(uid, "13800000000", "12345", skill, 0, at)


async def test_redis_forgets_and_the_hotline_does_not(lose: OwnRedis) -> None:
    client = aioredis.Redis.from_url(lose.url)
    q = RedisQueue(client, SETTINGS, server="s1")
    sink = GatedSink()
    hub = QueueHub(q, sink)
    await hub.start()
    t0 = time.time() - 100
    try:
        await q.login(agent("e1", enterprise=5), ready=True)  # ready, nobody to take
        await q.login(agent("g1", general=5))
        await q.pause("g1", "lunch")
        await q.login(agent("g2", general=5), ready=True)
        hub.register("c0", req("c0", t0))
        await q.enqueue(req("c0", t0))  # g2 takes it
        await q.connect("c0", "g2")
        hub.bridged("c0", "g2")
        offers = {}
        for i in range(1, 4):
            offers[f"c{i}"] = hub.register(f"c{i}", req(f"c{i}", t0 + i))
            await q.enqueue(req(f"c{i}", t0 + i))
        await q.call_started("c1", 1, '{"path": "menu"}')
        hub.track_call("c1")
        await apoll(lambda: _journal_empty(q), "the sink to have every event so far")
        sink.gate.clear()  # the database is slow: what follows stays in Redis for a while
        for i in (4, 5):
            offers[f"c{i}"] = hub.register(f"c{i}", req(f"c{i}", t0 + i))
            await q.enqueue(req(f"c{i}", t0 + i))
        await q.call_note("c1", '{"path": "menu queue"}')
        await hub.tick_now(mirror=True)

        if lose.how == "flushall":  # type: ignore[attr-defined]
            lose.flushall()
        else:
            lose.restart()
        if lose.how != "restart-aof":  # type: ignore[attr-defined]
            await apoll(lambda: _restored(hub), "the hub to re-assert what it knows")
        sink.gate.set()

        expect = [f"c{i}" for i in range(1, 6)]
        assert await _retry(lambda: q.waiting("general")) == expect
        assert (await q.agent("e1")).state == "ready"
        g1 = await q.agent("g1")
        assert (g1.state, g1.reason) == ("paused", "lunch")
        assert ((await q.agent("g2")).state, (await q.agent("g2")).call) == ("busy", "c0")
        assert await client.zscore(keys.calls(), "c1") is not None
        assert await client.hget(keys.call("c1"), "snapshot") == b'{"path": "menu queue"}'
        # the talking caller hangs up; g2 takes the head of the queue
        assert await q.complete("c0", "g2") == "reserved"
        assert await asyncio.wait_for(offers["c1"].get(), 10) == Offer("c1", "g2", "PJSIP/g2")
        await apoll(lambda: _journal_empty(q), "the sink to have every event")
    finally:
        await hub.stop()
        await q.close()

    seen = Counter((e.callid, e.agent, e.event) for e in sink.events)
    assert seen == Counter(
        [("NONE", "e1", "ADDMEMBER"), ("NONE", "e1", "UNPAUSE")]
        + [("NONE", "g1", "ADDMEMBER"), ("NONE", "g1", "PAUSE")]
        + [("NONE", "g2", "ADDMEMBER"), ("NONE", "g2", "UNPAUSE")]
        + [(f"c{i}", "NONE", "ENTERQUEUE") for i in range(6)]
        + [("c0", "g2", "CONNECT"), ("c0", "g2", "COMPLETECALLER")]
    )
    assert len(set(sink.events)) == len(sink.events)  # nothing twice under the queue_log key


async def _journal_empty(q: RedisQueue) -> bool:
    return q.journal is not None and len(q.journal) == 0


async def _restored(hub: QueueHub) -> bool:
    return hub.restores > 0


async def _retry(fetch):  # type: ignore[no-untyped-def]
    """Redis is back, but the client may meet the broken connection first."""
    for _ in range(50):
        try:
            return await fetch()
        except (aioredis.ConnectionError, ConnectionError):
            await asyncio.sleep(0.1)
    return await fetch()
