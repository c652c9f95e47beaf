"""Fixtures of the queue tests: a queue on the suite's real Redis, with a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ivr.config.queue_models import AgentSpec, Announce, QueueSettings
from ivr.queuewait.waiter import QueueHub
from queueing.events import MemoryEventSink
from queueing.queue import RedisQueue
from tests.queueing.fake_ami import FakeAMI
from tests.redis_clients import redis_client

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


#: The modules whose ``rq`` and ``hub`` tests also run on the session's Redis Cluster (a
#: quick subset; ``HOTLINE_TEST_REDIS=cluster`` runs every test that takes ``redis_url`` on
#: the cluster instead).
ON_THE_CLUSTER = {"test_core", "test_waiter", "test_notices", "test_live_calls", "test_callback"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``rq`` and ``hub`` on a single Redis, and in :data:`ON_THE_CLUSTER` on the cluster."""
    if "queue_url" not in metafunc.fixturenames:
        return
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    kinds = ["redis", "cluster"] if module in ON_THE_CLUSTER else ["redis"]
    metafunc.parametrize("queue_url", kinds, indirect=True)


@pytest.fixture
async def rq(queue_url: str, clock: Clock) -> AsyncIterator[RedisQueue]:
    client = redis_client(queue_url)
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
async def hub(queue_url: str) -> AsyncIterator[QueueHub]:
    client = redis_client(queue_url)
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
