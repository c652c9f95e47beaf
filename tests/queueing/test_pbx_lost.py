"""The Asterisk box dies under a call (issue 18): over a real FastAGI socket, with the real
engine, waiter, queue (Redis) and hub. A box that is killed just closes the socket, without the
``HANGUP`` a living Asterisk always sends first: the call is recorded ``pbx-lost`` (not
``abandoned``), the caller leaves the queue as PBXLOST and is never offered again, an operator
being rung for it is freed, one talking to it is completed. A caller who hangs up (``HANGUP``
then the close) stays an abandon.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from ivr.agi.channel import AGIChannel, call_info_from_env
from ivr.agi.fake_asterisk import FakeAsterisk
from ivr.agi.server import FastAGIServer
from ivr.agi.session import AGISession
from ivr.config.bundle import ConfigBundle
from ivr.engine.callstore import MemoryStore
from ivr.engine.menu import MenuEngine
from ivr.engine.record import PBX_LOST, CallRecord
from ivr.queuewait.waiter import QueueHub, RedisQueueWaiter
from queueing.events import MemoryEventSink
from tests.queueing.conftest import agent

WAIT = 20.0
#: what the box does on a command line: None answers it, "die" closes the socket (killed),
#: "hangup" ends the command with the caller's hangup (HANGUP follows), as Asterisk 22 does
Fate = Callable[[str], Awaitable[str | None]]


class Rig:
    def __init__(self, engine: MenuEngine, server: FastAGIServer) -> None:
        self.engine = engine
        self.server = server
        self.records: asyncio.Queue[CallRecord] = asyncio.Queue()

    def in_waiter(self, uid: str) -> bool:
        """The call went past the menu into the waiter (the enqueue of the held caller)."""
        record = self.engine.live.get(uid)
        return record is not None and any(
            e.kind == "queue" and "held since answer" in e.detail for e in record.events
        )

    async def call(self, uid: str, fate: Fate, digits: str = "0") -> CallRecord:
        """One call from the box; ``digits`` "0": the operator key, straight to the queue."""
        port = self.server.port
        fake = FakeAsterisk(
            to="12345", caller="13700000001", uniqueid=uid, digits=digits, host="127.0.0.1",
            port=port,
        )  # fmt: skip
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(fake.header().encode())
        try:
            async with asyncio.timeout(WAIT):
                await self._play(fake, fate, reader, writer)
        finally:
            writer.close()
        async with asyncio.timeout(WAIT):
            return await self.records.get()

    @staticmethod
    async def _play(
        fake: FakeAsterisk, fate: Fate, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            raw = await reader.readline()
            if not raw:
                writer.write(("\n".join(fake.end()) + "\n").encode())
                return
            line = raw.decode().rstrip("\n")
            what = await fate(line) if not fake.dead else None
            if what == "die":
                return  # the box is gone: the socket closes with nothing more said
            if what == "hangup":
                fake.respond(line)
                out = ["200 result=-1", *fake.hang_up()]
            else:
                out = fake.respond(line)
            writer.write(("\n".join(out) + "\n").encode())


@pytest.fixture
async def rig(hub: QueueHub, config: ConfigBundle) -> AsyncIterator[Rig]:
    engine = MenuEngine(config, hub.queue, MemoryStore(), waiter=RedisQueueWaiter(hub))
    holder: list[Rig] = []

    async def handler(session: AGISession) -> None:
        record = await engine.run(AGIChannel(session), call_info_from_env(session.env))
        holder[0].records.put_nowait(record)

    server = FastAGIServer(handler, "127.0.0.1", 0)
    await server.start()
    holder.append(Rig(engine, server))
    yield holder[0]
    await server.stop(grace=0.0)


async def events(hub: QueueHub, uid: str) -> list[str]:
    assert hub.pump is not None
    await hub.pump.drain()
    assert isinstance(hub.sink, MemoryEventSink)
    return [e.event for e in hub.sink.events if e.callid == uid]


async def test_box_killed_while_the_caller_waits(hub: QueueHub, rig: Rig) -> None:
    async def fate(line: str) -> str | None:
        return "die" if line.startswith("WAIT FOR DIGIT") and rig.in_waiter("u1") else None

    record = await rig.call("u1", fate)
    assert record.outcome == PBX_LOST, record.events
    assert "127.0.0.1" in record.outcome_detail
    assert ("pbx_lost", "127.0.0.1") in [(e.kind, e.detail) for e in record.events]
    assert not any(e.kind == "abandon" for e in record.events)
    assert not await hub.queue.entry("u1"), "out of the queue"
    assert await events(hub, "u1") == ["ENTERQUEUE", "PBXLOST"]
    # never offered afterwards: an operator of its skill who logs in stays free
    assert record.skill
    await hub.queue.login(agent("a1", **{record.skill: 5}), ready=True)
    a1 = await hub.queue.agent("a1")
    assert a1.state == "ready" and not a1.call


async def test_box_killed_during_the_menu(hub: QueueHub, rig: Rig) -> None:
    async def fate(line: str) -> str | None:
        return "die" if line.startswith("STREAM FILE") else None  # the first notice

    record = await rig.call("u2", fate, digits="")
    assert record.outcome == PBX_LOST, record.events
    assert not await hub.queue.entry("u2")
    assert await events(hub, "u2") == ["ENTERQUEUE", "PBXLOST"]
    today = (await hub.queue.snapshot())["skills"]["general"]["today"]
    assert (today["offered"], today["abandoned"], today["pbx_lost"]) == (1, 0, 1)


async def test_box_killed_while_the_operator_rings(hub: QueueHub, rig: Rig) -> None:
    async def fate(line: str) -> str | None:
        return "die" if line.startswith('EXEC "Dial"') else None

    await hub.queue.login(agent("a1", general=5), ready=True)
    record = await rig.call("u3", fate, digits="")
    assert record.outcome == PBX_LOST, record.events
    assert await events(hub, "u3") == ["ENTERQUEUE", "PBXLOST"]
    a1 = await hub.queue.agent("a1")
    assert a1.state == "ready" and not a1.call, "the operator rung is freed"


async def test_box_killed_while_the_operator_talks(hub: QueueHub, rig: Rig) -> None:
    async def fate(line: str) -> str | None:
        if line.startswith('EXEC "Dial"'):
            await hub.queue.connect("u4", "a1")  # the answered gosub said so
            return "die"
        return None

    await hub.queue.login(agent("a1", general=5), ready=True)
    record = await rig.call("u4", fate, digits="")
    assert record.outcome == "answered" and record.outcome_detail == "a1", record.events
    assert any(e.kind == "pbx_lost" for e in record.events)
    assert await events(hub, "u4") == ["ENTERQUEUE", "CONNECT", "COMPLETECALLER"]
    assert (await hub.queue.agent("a1")).state == "ready"  # wrap-up 0


async def test_a_caller_who_hangs_up_still_abandons(hub: QueueHub, rig: Rig) -> None:
    async def fate(line: str) -> str | None:
        return "hangup" if line.startswith("WAIT FOR DIGIT") and rig.in_waiter("u5") else None

    record = await rig.call("u5", fate)
    assert record.outcome == "abandoned", record.events
    assert not any(e.kind == "pbx_lost" for e in record.events)
    assert await events(hub, "u5") == ["ENTERQUEUE", "ABANDON"]
