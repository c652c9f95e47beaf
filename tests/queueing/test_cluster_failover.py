"""A Redis Cluster master dies with callers waiting (issue 18): its replica takes over, no
caller is lost and the order holds; also when the replica had not yet received the last
writes (asynchronous replication lost them): the server re-asserts what its live calls know
(HL-CLU-011) and the callers it placed last are back at their places.

Each test has a cluster of its own (3 masters, 3 replicas, node timeout 1 s): the master
serving the centre's hash tag is killed with SIGKILL; the cluster promotes its replica."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from ivr.config.queue_models import QueueSettings
from ivr.devtools.redis_cluster import LocalRedisCluster, Node
from ivr.engine.record import CallRecord
from ivr.queuewait.waiter import RedisQueueWaiter
from queueing import keys
from queueing.client import redis_client
from queueing.events import MemoryEventSink
from queueing.hub import QueueHub
from queueing.queue import QueueRequest, RedisQueue
from tests.queueing.channel import WaitingChannel
from tests.queueing.conftest import agent
from tests.queueing.test_notices import Listener

SETTINGS = QueueSettings(tick_seconds=0.2, wrapup_seconds=0)
FAILOVER_SECONDS = 30.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalRedisCluster]:
    c = LocalRedisCluster(tmp_path / "cluster").start()
    yield c
    c.stop()


def req(uid: str, at: float) -> QueueRequest:
    return QueueRequest(uid, "13800000000", "12345", "general", 0, at)


async def poll(check: Callable[[], Awaitable[bool]], what: str, deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while True:
        try:
            if await check():
                return
        except Exception:  # the cluster is failing over: ask again
            pass
        assert time.monotonic() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def promoted(cluster: LocalRedisCluster, replica: Node) -> bool:
    return replica.role() == "master" and cluster.healthy()


def cut_replica(cluster: LocalRedisCluster, master: Node, replica: Node) -> None:
    """The replica stops (SIGSTOP) and the master drops its link: what the master takes from
    now on never reaches the replica (asynchronous replication's lost writes)."""
    cluster.kill(replica, signal.SIGSTOP)
    with master.client() as c:
        assert c.client_kill_filter(_type="replica") == 1


async def fail_over(
    cluster: LocalRedisCluster, master: Node, replica: Node, replicated: bool
) -> None:
    """SIGKILL the master (what it had not sent its replica is gone); the replica (woken if
    it was cut) takes over."""
    cluster.kill(master)
    if not replicated:
        cluster.kill(replica, signal.SIGCONT)
    await poll(lambda: promoted(cluster, replica), "the replica to take over", FAILOVER_SECONDS)


@pytest.fixture
async def hub(cluster: LocalRedisCluster) -> AsyncIterator[QueueHub]:
    q = RedisQueue(redis_client(cluster.url), SETTINGS, server="s1")
    h = QueueHub(q, MemoryEventSink())
    await h.start()
    yield h
    await h.stop()
    await q.close()


async def _restored(hub: QueueHub, before: int) -> bool:
    return hub.restores > before


async def _waiting(q: RedisQueue, expect: list[str]) -> bool:
    return await q.waiting("general") == expect


@pytest.mark.parametrize("replicated", [True, False], ids=["replicated", "writes-lost"])
async def test_callers_waiting_with_music_ride_out_the_failover(
    cluster: LocalRedisCluster, hub: QueueHub, replicated: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The callers' sessions (the waiter, music on) keep waiting while the centre's master
    is away, and are put through in their order by the operator who goes ready after; the
    two callers the new master never had are re-asserted by the server at their places."""
    caplog.set_level(logging.WARNING)
    q = hub.queue
    waiter = RedisQueueWaiter(hub)
    answered: list[str] = []
    tasks = []

    async def caller(uid: str, at: float) -> None:
        async def dialled(_: str) -> None:
            answered.append(uid)

        ch = WaitingChannel(dial_results=["ANSWER"], on_dial=dialled)
        request = QueueRequest(uid, "13800000000", "12345", "general", 0, at)
        place = await q.enqueue(request)
        record = CallRecord(uid, "13800000000", "", "12345", "PJSIP/trunk", "v1")
        tasks.append(asyncio.create_task(waiter.wait(ch, request, place, record)))  # type: ignore[arg-type]
        await poll(lambda: _registered(hub, uid), f"{uid} to wait")

    t0 = time.time() - 100
    for i in range(1, 4):
        await caller(f"w{i}", t0 + i)
    await q.login(agent("g1", general=5))
    await hub.tick_now(mirror=True)
    master = cluster.master_of(keys.events(q.centre))
    replica = cluster.replica_of(master)
    with master.client() as c:
        assert c.wait(1, 5000) == 1
    if not replicated:
        cut_replica(cluster, master, replica)
        for i in (4, 5):
            await caller(f"w{i}", t0 + i)
    restores = hub.restores
    await fail_over(cluster, master, replica, replicated)
    if not replicated:
        await poll(lambda: _restored(hub, restores), "the server to re-assert its callers")
        said = [r.getMessage() for r in caplog.records if "re-asserted" in r.getMessage()]
        assert said and said[-1].startswith("[HL-QUE-061] re-asserted 2 waiting callers")
        assert any("[HL-CLU-011]" in r.getMessage() for r in caplog.records)
    expect = [f"w{i}" for i in range(1, 4 if replicated else 6)]
    await poll(lambda: _waiting(q, expect), "every caller back in order")
    assert not any(t.done() for t in tasks), "no session gave up"
    assert await q.ready("g1") == "reserved"
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert answered == expect


async def _registered(hub: QueueHub, uid: str) -> bool:
    return uid in hub.sessions


async def test_the_desks_notices_move_to_another_node(
    cluster: LocalRedisCluster, hub: QueueHub
) -> None:
    """The notices subscriber listens on one node of the URL; that node and the centre's
    master die: it says ``resync`` (the desks read the state back) and hears the notices the
    scripts publish on the promoted replica."""
    q = hub.queue
    master = cluster.master_of(keys.events(q.centre))
    replica = cluster.replica_of(master)
    # the subscriber listens on the first node of its URL: here the centre's master
    url = "redis+cluster://" + ",".join(
        n.address for n in sorted(cluster.nodes, key=lambda n: n is not master)
    )
    ear = Listener(url, poll=0.2)
    try:
        await asyncio.wait_for(ear.sub.subscribed.wait(), 5)
        await q.login(agent("g1", general=5), ready=True)
        assert (await ear.next("agent")).state == "ready"
        with master.client() as c:
            assert c.wait(1, 5000) == 1
        cluster.kill(master)
        await poll(lambda: promoted(cluster, replica), "the replica to take over")
        await ear.next("resync", timeout=20)
        await poll(lambda: _paused(q), "the operator to pause on the new master")
        notice = await ear.next("agent", timeout=10)
        assert (notice.agent, notice.state, notice.reason) == ("g1", "paused", "lunch")
    finally:
        await ear.close()


async def _paused(q: RedisQueue) -> bool:
    return await q.pause("g1", "lunch") == "paused"
