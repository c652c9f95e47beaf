"""Live notices over Redis pub/sub (queueing/notices.py): published by the queue script in the
step that makes the change, read by a subscriber that survives a Redis restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.config.queue_models import QueueSettings
from queueing import keys
from queueing.notices import Notice, NoticeSubscriber, current_call, parse_notice
from queueing.queue import QueueRequest, RedisQueue
from tests.queueing.conftest import T0, Clock, agent
from tests.queueing.own_redis import OwnRedis
from tests.redis_clients import redis_client


class Listener:
    """A subscriber running in a task, its notices in a queue."""

    def __init__(self, url: str, **kwargs: float) -> None:
        self.sub = NoticeSubscriber(url, **kwargs)
        self.got: asyncio.Queue[Notice] = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for notice in self.sub.notices():
            await self.got.put(notice)

    async def next(self, kind: str | None = None, timeout: float = 5.0) -> Notice:
        """The next notice (of ``kind``: those of other kinds before it are skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                notice = await self.got.get()
                if kind is None or notice.kind == kind:
                    return notice

    def drain(self) -> list[Notice]:
        out = []
        while not self.got.empty():
            out.append(self.got.get_nowait())
        return out

    async def close(self) -> None:
        await self.sub.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, 5)


@pytest.fixture
async def listener(queue_url: str, rq: RedisQueue) -> AsyncIterator[Listener]:
    ear = Listener(queue_url, poll=0.2)
    await asyncio.wait_for(ear.sub.subscribed.wait(), 5)
    yield ear
    await ear.close()


def caller(uid: str, number: str = "13800000001") -> QueueRequest:
    return QueueRequest(uid, number, "12393", "general", 0, T0)


async def test_an_offer_is_announced_with_its_agent_and_caller(
    rq: RedisQueue, listener: Listener, clock: Clock
) -> None:
    await rq.login(agent("a1"), ready=True)
    ready = await listener.next("agent")
    assert (ready.agent, ready.state) == ("a1", "ready")
    clock.advance(2)
    await rq.enqueue(caller("u1"))
    offer = await listener.next("offer")
    assert offer == Notice(
        "offer",
        T0 + 2,
        "a1",
        "u1",
        "reserved",
        skill="general",
        caller="13800000001",
        entry="call",
    )
    # a desk that connects now finds the same offer
    now = await listener.sub.current_call("a1")
    assert now is not None and now.offered and now.uniqueid == "u1"
    assert await current_call(rq.client, "a2") is None


async def test_an_abandoned_offer_ends_and_the_agent_is_ready_again(
    rq: RedisQueue, listener: Listener
) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(caller("u1"))
    await listener.next("offer")
    await rq.abandon("u1", "hangup")
    ended = await listener.next()
    assert (ended.kind, ended.agent, ended.uniqueid) == ("offer-ended", "a1", "u1")
    assert (ended.reason, ended.detail) == ("abandon", "hangup")
    back = await listener.next()
    assert (back.kind, back.agent, back.state) == ("agent", "a1", "ready")
    assert await listener.sub.current_call("a1") is None


async def test_a_reaped_offer_ends(rq: RedisQueue, listener: Listener, clock: Clock) -> None:
    """The caller's server died while its offer rang: the reaper closes the entry when the
    lease expires, and the desk hears the offer ended."""
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(caller("u1"))
    await listener.next("offer")
    clock.advance(rq.settings.lease_seconds + 1)
    await rq.heartbeat("a1")
    await rq.tick()
    ended = await listener.next("offer-ended")
    assert (ended.agent, ended.uniqueid, ended.reason, ended.detail) == (
        "a1",
        "u1",
        "abandon",
        "lease",
    )


async def test_no_answer_ends_the_offer_and_pauses_the_agent(
    rq: RedisQueue, listener: Listener
) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(caller("u1"))
    await listener.next("offer")
    await rq.no_answer("u1", "a1", "NOANSWER")
    ended = await listener.next("offer-ended")
    assert (ended.reason, ended.detail) == ("noanswer", "NOANSWER")
    paused = await listener.next("agent")
    assert (paused.state, paused.reason) == ("paused", "no answer")


async def test_answer_and_end_of_the_call(rq: RedisQueue, listener: Listener) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(caller("u1"))
    await listener.next("offer")
    await rq.connect("u1", "a1")
    connected = await listener.next()
    assert (connected.kind, connected.uniqueid, connected.state) == ("connected", "u1", "busy")
    now = await listener.sub.current_call("a1")
    assert now is not None and not now.offered and now.state == "busy"
    await rq.complete("u1", "a1")  # wrap-up of 10 s (the rq fixture)
    after = await listener.next()
    assert (after.kind, after.state) == ("agent", "wrapup")
    await rq.pause("a1", "lunch")
    assert (await listener.next()).reason == "lunch"
    await rq.logout("a1", "shift")
    gone = await listener.next()
    assert (gone.state, gone.reason) == ("offline", "shift")


async def test_a_login_that_stays_paused_says_so(rq: RedisQueue, listener: Listener) -> None:
    await rq.login(agent("a1"))
    n = await listener.next()
    assert (n.kind, n.agent, n.state, n.reason) == ("agent", "a1", "paused", "login")


async def test_only_the_centres_channel(queue_url: str, listener: Listener) -> None:
    client = redis_client(queue_url)
    other = RedisQueue(client, QueueSettings(centre="training"), server="t")
    await other.login(agent("t1"), ready=True)
    await client.publish(keys.notices(), "not a notice")
    await client.publish(keys.notices(), "agent\t1000\tz\t\tready\t\t")
    n = await listener.next()
    assert (n.agent, n.at) == ("z", 1.0)  # neither the training centre's nor the stray one
    await other.close()


def test_parse_rejects_what_it_does_not_know() -> None:
    assert parse_notice(b"agent\tx\ta\t\tready\t\t") is None
    assert parse_notice("who\t1\ta\t\t\t\t") is None
    assert parse_notice("offer\t5\ta\tu\ts\tc\t") == Notice(
        "offer", 0.005, "a", "u", "reserved", skill="s", caller="c", entry="call"
    )


async def test_the_subscriber_survives_a_redis_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    own = OwnRedis(tmp_path).start()
    ear = Listener(own.url, poll=0.2, backoff=0.05, backoff_max=0.2)
    try:
        await asyncio.wait_for(ear.sub.subscribed.wait(), 5)
        q = RedisQueue.from_url(own.url, QueueSettings(wrapup_seconds=0))
        await q.login(agent("a1"), ready=True)
        assert (await ear.next("agent")).state == "ready"
        caplog.set_level(logging.INFO)
        own.stop()
        await asyncio.sleep(0.5)  # a few failed attempts: logged once
        own.start()
        assert (await ear.next(timeout=10)).kind == "resync"
        assert ear.sub.resubscribed == 1
        await q.login(agent("a2"), ready=True)  # Redis forgot a1; a2 is new
        n = await ear.next("agent")
        assert (n.agent, n.state) == ("a2", "ready")
        await q.enqueue(caller("u9"))
        assert (await ear.next("offer")).uniqueid == "u9"
        lost = [r for r in caplog.records if "HL-QUE-029" in r.getMessage()]
        assert len(lost) == 2, [r.getMessage() for r in lost]  # once lost, once back
        assert "works again" in lost[1].getMessage()
        await q.close()
    finally:
        await ear.close()
        own.stop()
