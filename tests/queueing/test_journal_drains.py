"""Issue 13 (the soak): the server's event journal holds the events its pump has not yet
handed to the sink, so it stays near empty only while the pump keeps up with the calls. The
sink the server runs (the ticket store) pays one database commit per hand-over, however many
events it carries: a pump that hands events over one at a time (and acknowledges them one at
a time) falls behind at a few dozen calls per second, and the journal grows to its bound."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from ivr.queuewait.waiter import QueueHub
from queueing.events import EventJournal, QueueEvent
from queueing.pump import event_from_fields
from queueing.queue import QueueRequest, RedisQueue
from tests.queueing.conftest import SETTINGS, agent
from tests.redis_clients import redis_client

COMMIT = 0.02  # seconds per hand-over, as a group commit of the ticket store costs
CALLERS = 200
AGENTS = 40


class GroupCommitSink:
    """One commit per hand-over: one event (``queue_event``) or several (``queue_events``)."""

    def __init__(self) -> None:
        self.events: list[QueueEvent] = []
        self.commits = 0

    async def queue_event(self, event: QueueEvent) -> None:
        await self.queue_events([event])

    async def queue_events(self, events: Sequence[QueueEvent]) -> None:
        await asyncio.sleep(COMMIT)
        self.commits += 1
        self.events.extend(events)


async def test_the_pump_keeps_up_with_the_calls_and_the_journal_stays_near_empty(
    redis_url: str,
) -> None:
    client = redis_client(redis_url)
    await client.flushdb()
    queue = RedisQueue(client, SETTINGS, server="agi-1")
    sink = GroupCommitSink()
    hub = QueueHub(queue, sink, reaper=False)
    await hub.start()
    try:
        for i in range(AGENTS):
            await queue.login(agent(f"a{i}"), ready=True)
        gate = asyncio.Semaphore(AGENTS // 2)

        async def caller(i: int) -> None:
            async with gate:
                uid = f"c{i}"
                offers = hub.register(uid)
                await queue.enqueue(QueueRequest(uid, "138", "12345", "general", 0, time.time()))
                offer = await asyncio.wait_for(offers.get(), 10)
                await queue.connect(uid, offer.agent)
                await queue.complete(uid, offer.agent)

        await asyncio.gather(*(caller(i) for i in range(CALLERS)))
        journal = queue.journal
        assert journal is not None
        written = await client.xlen(queue.events_key)
        # one by one, the pump would need written * COMMIT (about 15 s) to catch up
        deadline = time.monotonic() + 3.0
        while len(journal) or len(sink.events) < written:
            assert time.monotonic() < deadline, (
                f"the pump fell behind: {len(sink.events)} of {written} events in the sink "
                f"({sink.commits} commits), {len(journal)} rows left in the journal"
            )
            await asyncio.sleep(0.05)
        # in stream order, each once
        stream = await client.xrange(queue.events_key)
        assert sink.events == [event_from_fields(fields) for _, fields in stream]
    finally:
        await hub.stop()
        await queue.close()


def test_an_event_the_pump_delivered_before_the_journal_had_it_is_not_kept() -> None:
    """The pump may read an event before the operation that appended it has recorded the
    script's reply (the pump's blocked read is answered on another connection, and may be
    read first): the row that comes after its delivery is not kept (nor handed over again
    should Redis forget)."""
    journal = EventJournal()
    journal.delivered("5-0", "c1", "ENTERQUEUE")
    journal.delivered("6-0", "NONE", "ADDMEMBER")  # another server's event: never added here
    journal.add(1_000, "5-0\x1fc1\x1fgeneral\x1fNONE\x1fENTERQUEUE\x1f12345|138|1")
    journal.add(1_000, "7-0\x1fc2\x1fgeneral\x1fNONE\x1fENTERQUEUE\x1f12345|138|2")
    assert [msg_id for msg_id, _ in journal.pending()] == ["7-0"]
    # an id delivered as another event (a stream Redis began again) is not taken for it
    journal.delivered("8-0", "c9", "ABANDON")
    journal.add(1_000, "8-0\x1fc3\x1fgeneral\x1fNONE\x1fENTERQUEUE\x1f12345|138|3")
    assert [msg_id for msg_id, _ in journal.pending()] == ["7-0", "8-0"]
