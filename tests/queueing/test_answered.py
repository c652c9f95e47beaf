"""The operator's answer is recorded the moment it happens: the waiter dials with the
``U(hotline-answered^<caller>^<agent>)`` option, Asterisk runs that gosub on the operator's
channel when the operator picks up, and the gosub's FastAGI request (path ``/answered``) makes
the queue record CONNECT. So the operator shows as busy during the whole conversation (not as
"reserved" until the call ends), and the second report, when Dial returns, changes nothing."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from ivr.agi.server import FastAGIServer
from ivr.agi.simulator import simulate_call
from ivr.config.queue_models import QueueFile
from ivr.engine.callstore import MemoryStore
from ivr.engine.channel import DialResult
from ivr.hotline import HotlineService
from ivr.queuewait import bridge as bridge_module
from ivr.queuewait.waiter import QueueHub, RedisQueueWaiter
from ivr.runtime import ConfigHolder
from queueing.errors import QueueError
from queueing.events import MemoryEventSink
from queueing.queue import QueueRequest, RedisQueue
from tests.queueing.channel import WaitingChannel
from tests.queueing.conftest import SETTINGS, agent
from tests.queueing.test_waiter import record_for, until
from tests.redis_clients import redis_client

PROJECT = Path(__file__).resolve().parents[2]


class AnsweringChannel(WaitingChannel):
    """Dial runs the answered gosub as Asterisk would, then the conversation takes place."""

    def __init__(self, hub: QueueHub) -> None:
        super().__init__(dial_results=["ANSWER"])
        self.hub = hub
        self.options: list[str] = []
        self.during_talk: list[str] = []

    async def dial(self, dialstring: str, timeout: float, options: str = "") -> DialResult:
        self.options.append(options)
        uid, agent_id = options.split("U(hotline-answered^", 1)[1].rstrip(")").split("^")
        await self.hub.answered(uid, agent_id)  # the operator picked up
        self.during_talk.append((await self.hub.queue.agent(agent_id)).state)
        return await super().dial(dialstring, timeout, options)


async def test_connect_is_idempotent_and_the_first_report_stands(rq: RedisQueue) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(QueueRequest("c1", "13800000000", "12345", "general", 0, rq.clock() - 5))
    assert (await rq.agent("a1")).state == "reserved"
    first = await rq.connect("c1", "a1")
    assert (await rq.agent("a1")).state == "busy"
    again = await rq.connect("c1", "a1", answered_at=rq.clock() + 60)
    assert again == first  # the live report stands
    connects = [e for e in await _events(rq) if e == "CONNECT"]
    assert connects == ["CONNECT"]


async def test_note_connect_and_complete_go_in_one_round_trip(
    rq: RedisQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When Dial returns answered, the live call's snapshot (marked served), CONNECT and
    COMPLETE are one command to Redis, with the events, states and registry the three
    steps left."""
    await rq.login(agent("a1"), ready=True)
    await rq.call_started("c1", 1, '{"path": ["main"]}')
    await rq.enqueue(QueueRequest("c1", "13800000000", "12345", "general", 0, rq.clock() - 5))
    sent: list[object] = []
    evalsha = rq.client.evalsha

    def counted(*args: object) -> object:
        sent.append(args[2:5])
        return evalsha(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(rq.client, "evalsha", counted)
    wait, after = await rq.answered("c1", "a1", rq.clock(), "agent", '{"path": ["main"], "x": 1}')
    monkeypatch.undo()
    assert len(sent) == 1
    assert wait == 5.0
    assert after.state == "wrapup" == (await rq.agent("a1")).state
    assert (await _events(rq))[-3:] == ["ENTERQUEUE", "CONNECT", "COMPLETEAGENT"]
    assert rq.fate["c1"] == "closed"
    again = await rq.call_started("c1", 2, "{}")  # what a next server would find
    assert again.done and again.agent == "a1" and again.snapshot == '{"path": ["main"], "x": 1}'


async def test_a_refused_connect_in_the_one_step_leaves_the_note_done(rq: RedisQueue) -> None:
    """The caller is not offered to that operator (any more): HL-QUE-010 as from connect, the
    snapshot noted as served before it, no COMPLETE."""
    await rq.login(agent("a1"), ready=True)
    await rq.login(agent("a2"), ready=False)
    await rq.call_started("c1", 1, "{}")
    await rq.enqueue(QueueRequest("c1", "13800000000", "12345", "general", 0, rq.clock() - 5))
    with pytest.raises(QueueError) as refused:
        await rq.answered("c1", "a2", rq.clock(), "caller", '{"noted": 1}')
    assert refused.value.code == "HL-QUE-010"
    assert (await _events(rq))[-1] == "ENTERQUEUE"
    assert (await rq.agent("a1")).state == "reserved"
    again = await rq.call_started("c1", 2, "{}")
    assert again.done and again.snapshot == '{"noted": 1}'


async def _events(rq: RedisQueue) -> list[str]:
    raw = await rq.client.xrange(rq.events_key)
    return [fields[b"event"].decode() for _, fields in raw]


async def test_the_operator_is_busy_while_talking(hub: QueueHub) -> None:
    waiter = RedisQueueWaiter(hub, options=QueueFile(settings=SETTINGS))
    ch = AnsweringChannel(hub)
    request = QueueRequest("c1", "13800000000", "12345", "general", 0, time.time())
    place = await hub.queue.enqueue(request)
    record = record_for("c1")
    task = asyncio.create_task(waiter.wait(ch, request, place, record))  # type: ignore[arg-type]
    await until(lambda: ch.waits >= 2, "the caller to wait")
    await hub.queue.login(agent("a1"), ready=True)
    await asyncio.wait_for(task, 10)
    assert ch.options == ["U(hotline-answered^c1^a1)"]
    assert ch.during_talk == ["busy"]
    assert record.outcome == "answered"
    assert (await hub.queue.agent("a1")).state == "ready"  # wrap-up 0, after the call


async def test_no_gosub_when_the_setting_is_off(hub: QueueHub) -> None:
    settings = SETTINGS.model_copy(update={"answered_gosub": None, "dial_options": "t"})
    waiter = RedisQueueWaiter(hub, options=QueueFile(settings=settings))
    seen: list[str] = []

    class Plain(WaitingChannel):
        async def dial(self, dialstring: str, timeout: float, options: str = "") -> DialResult:
            seen.append(options)
            return await super().dial(dialstring, timeout, options)

    ch = Plain(dial_results=["ANSWER"])
    request = QueueRequest("c2", "13800000000", "12345", "general", 0, time.time())
    place = await hub.queue.enqueue(request)
    await hub.queue.login(agent("a2"), ready=True)
    await asyncio.wait_for(waiter.wait(ch, request, place, record_for("c2")), 10)  # type: ignore[arg-type]
    assert seen == ["t"]


async def test_no_gosub_when_the_dialplan_lacks_its_context(
    hub: QueueHub, caplog: pytest.LogCaptureFixture
) -> None:
    """An admin's own dialplan without [hotline-answered]: the Dial gets no U() (Asterisk
    would log an ERROR on every answered call), the answer is recorded when Dial returns,
    and the hotline says once what to do."""
    bridge_module._MISSING_GOSUB.clear()
    waiter = RedisQueueWaiter(hub, options=QueueFile(settings=SETTINGS))
    seen: list[str] = []
    asked: list[str] = []

    class NoContext(WaitingChannel):
        async def evaluate(self, expression: str) -> str:
            asked.append(expression)
            return "0" if "DIALPLAN_EXISTS" in expression else ""

        async def caller_present(self) -> bool:
            return False

        async def dial(self, dialstring: str, timeout: float, options: str = "") -> DialResult:
            seen.append(options)
            return await super().dial(dialstring, timeout, options)

    for uid in ("c3", "c4"):
        ch = NoContext(dial_results=["ANSWER"])
        request = QueueRequest(uid, "13800000000", "12345", "general", 0, time.time())
        place = await hub.queue.enqueue(request)
        await hub.queue.login(agent("a3"), ready=True)
        record = record_for(uid)
        with caplog.at_level(logging.WARNING):
            await asyncio.wait_for(waiter.wait(ch, request, place, record), 10)  # type: ignore[arg-type]
        assert record.outcome == "answered"
    # asked once per call (HOTLINE_TRANSFER is read after each answered call: a transfer?)
    gosubs = [a for a in asked if "DIALPLAN_EXISTS" in a]
    assert seen == ["", ""] and gosubs == ["${DIALPLAN_EXISTS(hotline-answered,s,1)}"] * 2
    assert [a for a in asked if a not in gosubs] == ["${HOTLINE_TRANSFER}"] * 2
    assert sum("HL-QUE-071" in r.getMessage() for r in caplog.records) == 1  # said once


async def test_the_answered_request_reaches_the_queue_through_the_server(
    redis_url: str, tmp_path: Path
) -> None:
    """What the gosub's ``AGI(agi://.../answered,<caller>,<agent>)`` does on our server."""

    client = redis_client(redis_url)
    await client.flushdb()
    queue = RedisQueue(client, SETTINGS, server="agi-1")
    hub = QueueHub(queue, MemoryEventSink(), reaper=False)
    holder = ConfigHolder(PROJECT / "config", PROJECT / "recordings")
    service = HotlineService(holder, queue, MemoryStore(), answered=hub.answered)
    server = FastAGIServer(service.handle, "127.0.0.1", 0)
    await server.start()
    try:
        await queue.login(agent("a1"), ready=True)
        await queue.enqueue(QueueRequest("c1", "13800000000", "12345", "general", 0, time.time()))
        assert (await queue.agent("a1")).state == "reserved"
        # the caller's notice, then a stale one (the caller is gone: logged, and the bridge
        # still goes ahead)
        for uid, state in (("c1", "busy"), ("gone", "busy")):
            result = await simulate_call(
                "127.0.0.1", server.port, to="1001", caller="12345", script="answered",
                args=[uid, "a1"],
            )  # fmt: skip
            assert result.variables == {"HOTLINE_ANSWERED": "1"}
            assert result.played == [] and result.dialled == []  # no menu for the operator
            assert (await queue.agent("a1")).state == state
    finally:
        await server.stop()
        await queue.close()


class Numbers:
    """The ticket store's reserve_ticket: one number per call, kept."""

    def __init__(self) -> None:
        self.numbers: dict[str, str] = {}

    async def reserve_ticket(self, uniqueid: str) -> str | None:
        return self.numbers.setdefault(uniqueid, f"20261123{len(self.numbers) + 1:06d}")


async def test_the_call_carries_its_ticket_number_to_every_operator_it_rings(
    hub: QueueHub,
) -> None:
    numbers = Numbers()
    waiter = RedisQueueWaiter(hub, options=QueueFile(settings=SETTINGS), tickets=numbers)
    ch = WaitingChannel(dial_results=["NOANSWER", "ANSWER"])
    request = QueueRequest("c3", "13800000000", "12345", "general", 0, time.time())
    place = await hub.queue.enqueue(request)
    record = record_for("c3")
    await hub.queue.login(agent("a1"), ready=True)
    await hub.queue.login(agent("a2"), ready=True)
    await asyncio.wait_for(waiter.wait(ch, request, place, record), 10)  # type: ignore[arg-type]
    assert len(ch.dialled) == 2  # the first operator did not answer, the second did
    assert ch.variables["HOTLINE_TICKET"] == "20261123000001"
    assert [e.detail for e in record.events if e.kind == "ticket"] == ["20261123000001"]
