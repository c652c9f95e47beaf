"""Fixtures of the queue tests: a queue on the suite's real Redis, with a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from ivr.config.queue_models import AgentSpec, Announce, QueueSettings
from ivr.queuewait.waiter import QueueHub
from queueing.events import MemoryEventSink
from queueing.queue import RedisQueue
from tests.queueing.fake_ami import FakeAMI

T0 = 1_790_000_000.0


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def rq(redis_url: str, clock: Clock) -> AsyncIterator[RedisQueue]:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    q = RedisQueue(client, QueueSettings(wrapup_seconds=10), clock=clock, server="s1")
    yield q
    await q.close()


def agent(aid: str, **skills: int) -> AgentSpec:
    return AgentSpec(
        id=aid, name=f"Agent {aid}", interface=f"PJSIP/{aid}", skills=skills or {"general": 5}
    )


SETTINGS = QueueSettings(
    wrapup_seconds=0,
    wait_chunk_seconds=1.0,
    announce=Announce(interval_seconds=30, first_after_seconds=10),
)


@pytest.fixture
async def hub(redis_url: str) -> AsyncIterator[QueueHub]:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    queue = RedisQueue(client, SETTINGS, server="agi-1")
    h = QueueHub(queue, MemoryEventSink(), reaper=False)
    await h.start()
    yield h
    await h.stop()
    await queue.close()


@pytest.fixture
async def ami() -> AsyncIterator[FakeAMI]:
    """A fake AMI listening on a port of its own for the test."""
    fake = FakeAMI()
    await fake.start()
    yield fake
    await fake.stop()
