"""Virtual hold: the callback keeps the caller's original place (its score), one callback
per number, dialled through AMI (agent first) only when an agent is free for it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from queueing import keys
from queueing.ami import AMIClient, AMIError, resolve_secret
from queueing.callback import CallbackDialler
from queueing.config import Announce, CallbackSettings, DiallerSettings, QueueFile, QueueSettings
from queueing.events import MemoryEventSink
from queueing.queue import QueueRequest, RedisQueue
from queueing.waiter import QueueHub, RedisQueueWaiter
from tests.queueing.channel import WaitingChannel
from tests.queueing.conftest import Clock, agent
from tests.queueing.fake_ami import FakeAMI
from tests.queueing.test_waiter import record_for, until


def req(uid: str, t: float, caller: str = "13800000000", priority: int = 0) -> QueueRequest:
    return QueueRequest(uid, caller, "12345", "general", priority, t)


async def events(q: RedisQueue, uid: str | None = None) -> list[tuple[str, str, str]]:
    rows = await q.client.xrange(q.events_key)
    out = []
    for _, f in rows:
        f = {k.decode(): v.decode() for k, v in f.items()}
        if uid is None or f["callid"] == uid:
            out.append((f["callid"], f["event"], f["data"]))
    return out


async def test_a_callback_keeps_its_place_and_is_dialled_when_an_agent_is_free(
    rq: RedisQueue, clock: Clock
) -> None:
    for i, uid in enumerate(["c1", "c2", "c3"]):
        await rq.enqueue(req(uid, clock() - 10 + i, caller=f"1380000000{i}"))
    result = await rq.request_callback("c2")
    assert (result.status, result.ref, result.position) == ("callback", "c2", 2)
    assert await rq.waiting("general") == ["c1", "c2", "c3"]  # the same place
    entry = await rq.entry("c2")
    assert entry["kind"] == "callback" and entry["server"] == ""
    assert await rq.client.zscore(keys.leases(rq.centre), "c2") is None  # nobody holds it
    assert (await events(rq, "c2"))[-1][1:] == ("CALLBACKREQUEST", "1|2|2|9|")
    await rq.login(agent("a1"), ready=True)  # takes c1, a live caller: to its server's inbox
    assert await rq.client.llen(keys.callbacks(rq.centre)) == 0
    await rq.connect("c1", "a1")
    await rq.complete("c1", "a1")
    clock.advance(11)
    await rq.tick()  # wrap-up over: a1 ready, the head is the callback c2
    assert (await rq.entry("c2"))["state"] == "offered"
    offer = await rq.client.lpop(keys.callbacks(rq.centre))
    assert offer == b"c2\ta1\tPJSIP/a1"
    assert await rq.client.zscore(keys.leases(rq.centre), "c2") is not None  # the dialler's
    assert [e[1] for e in await events(rq, "c2")][-1] == "CALLBACKDIAL"


async def test_one_callback_per_number_keeps_the_earlier_place(
    rq: RedisQueue, clock: Clock
) -> None:
    await rq.enqueue(req("early", clock(), caller="13900000001"))
    await rq.enqueue(req("other", clock() + 1, caller="13900000002"))
    await rq.enqueue(req("late", clock() + 2, caller="13900000001"))
    assert (await rq.request_callback("late")).status == "callback"
    merged = await rq.request_callback("early")
    assert (merged.status, merged.ref, merged.position) == ("merged", "late", 1)
    assert await rq.waiting("general") == ["late", "other"]  # took the earlier place
    assert await rq.entry("early") == {}
    third = await rq.enqueue(req("again", clock() + 3, caller="13900000001"))
    assert (await rq.request_callback("again")).status == "merged"
    assert third.position == 3 and await rq.waiting("general") == ["late", "other"]


async def test_no_callback_once_an_agent_is_reserved(rq: RedisQueue, clock: Clock) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(req("c1", clock()))
    assert (await rq.request_callback("c1")).status == "offered"
    assert (await rq.request_callback("nobody")).status == "gone"


async def test_a_callback_whose_dialler_died_goes_back_to_its_place(
    rq: RedisQueue, clock: Clock
) -> None:
    await rq.enqueue(req("c1", clock()))
    await rq.request_callback("c1")
    await rq.login(agent("a1"), ready=True)
    assert (await rq.entry("c1"))["state"] == "offered"
    clock.advance(rq.settings.lease_seconds + 1)  # nobody renewed it
    await rq.tick()
    names = [e[1:] for e in await events(rq, "c1")]
    assert ("RINGNOANSWER", "0|lease") in names
    # a1 was not to blame: ready again, and offered the callback again at once
    assert (await rq.agent("a1")).state == "reserved"
    assert await rq.client.llen(keys.callbacks(rq.centre)) == 2


SETTINGS = QueueSettings(
    wrapup_seconds=0, announce=Announce(interval_seconds=30, first_after_seconds=10)
)


@pytest.fixture
async def ami() -> AsyncIterator[FakeAMI]:
    fake = FakeAMI()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def hub(redis_url: str, ami: FakeAMI) -> AsyncIterator[QueueHub]:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    queue = RedisQueue(client, SETTINGS, server="agi-1")
    dialler = CallbackDialler(
        queue,
        DiallerSettings(enabled=True, port=ami.port),
        AMIClient("127.0.0.1", ami.port, "hotline", ami.secret),
    )
    h = QueueHub(queue, MemoryEventSink(), reaper=False, dialler=dialler)
    await h.start()
    yield h
    await h.stop()
    await queue.close()


async def test_virtual_hold_through_the_waiter_then_ami_originate(
    hub: QueueHub, ami: FakeAMI
) -> None:
    options = QueueFile(settings=SETTINGS, callback=CallbackSettings(offer_after_seconds=0))
    waiter = RedisQueueWaiter(hub, options=options)
    assert waiter.callbacks  # the hub has a dialler
    ch = WaitingChannel(press={"queue_callback_offer": "1"})
    request = QueueRequest("c1", "13812345678", "12345", "general", 0, time.time())
    place = await hub.queue.enqueue(request)
    record = record_for("c1")
    await asyncio.wait_for(waiter.wait(ch, request, place, record), 10)  # type: ignore[arg-type]
    assert ch.played == ["queue_callback_offer", "queue_callback_confirm"]
    assert record.outcome == "callback" and ch.variables["HOTLINE_ROUTE"] == "callback"
    assert ch.dialled == []
    # nobody staffed: nothing is dialled until an agent is free for it
    await asyncio.sleep(0.05)
    assert ami.originates == []
    await hub.queue.login(agent("a1"), ready=True)
    await until(lambda: len(ami.answered) == 1, "the agent to answer the callback")
    sent = ami.originates[0]
    assert sent["Channel"] == ["PJSIP/a1"] and sent["Exten"] == ["13812345678"]
    assert sent["Context"] == ["hotline-callback"] and sent["Async"] == ["true"]
    assert "HOTLINE_CALLBACK=c1" in sent["Variable"] and "HOTLINE_AGENT=a1" in sent["Variable"]
    for _ in range(200):
        if (await hub.queue.entry("c1")).get("state") == "connected":
            break
        await asyncio.sleep(0.01)
    assert (await hub.queue.agent("a1")).state == "busy"
    assert "c1" in hub.sessions  # its lease is renewed while the call lasts
    ami.hangup(ami.answered[0])
    for _ in range(200):
        if (await hub.queue.agent("a1")).state == "ready":
            break
        await asyncio.sleep(0.01)
    assert (await hub.queue.agent("a1")).state == "ready" and await hub.queue.entry("c1") == {}
    names = [e[1] for e in await events(hub.queue, "c1")]
    assert names == ["ENTERQUEUE", "CALLBACKREQUEST", "CALLBACKDIAL", "CONNECT", "COMPLETEAGENT"]
    assert await hub.queue.client.hlen(keys.callback_callers(hub.queue.centre)) == 0


async def test_an_agent_who_misses_a_callback_is_paused_and_the_callback_waits_on(
    hub: QueueHub, ami: FakeAMI
) -> None:
    ami.outcomes = ["NOANSWER", "ANSWER"]
    q = hub.queue
    await q.enqueue(QueueRequest("c1", "13812345678", "12345", "general", 0, time.time()))
    await q.request_callback("c1")
    await q.login(agent("a1"), ready=True)
    await until(lambda: len(ami.originates) == 1, "the first originate")
    for _ in range(200):
        if (await q.agent("a1")).state == "paused":
            break
        await asyncio.sleep(0.01)
    a1 = await q.agent("a1")
    assert (a1.state, a1.reason) == ("paused", "no answer")
    assert await q.waiting("general") == ["c1"]
    await q.login(agent("a2"), ready=True)
    await until(lambda: len(ami.answered) == 1, "a2 to answer")
    assert ami.originates[1]["Channel"] == ["PJSIP/a2"]
    assert hub.dialler is not None and hub.dialler.dialled[0] == ("c1", "NOANSWER")


async def test_ami_login_refused(ami: FakeAMI) -> None:
    client = AMIClient("127.0.0.1", ami.port, "hotline", "wrong")
    with pytest.raises(AMIError, match="refused"):
        await client.connect()
    await client.close()


def test_secret_references(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "x1")
    assert resolve_secret("env:HOTLINE_AMI_SECRET") == "x1"
    monkeypatch.delenv("HOTLINE_AMI_SECRET")
    with pytest.raises(AMIError):
        resolve_secret("env:HOTLINE_AMI_SECRET")
