"""The pump's lean reads (issue 13): between full reads it only reads new events, yet what a
failed hand-over left unacknowledged is read again first, and another consumer's stale events
are claimed at the next full read. On the real Redis."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from queueing.events import MemoryEventSink, QueueEvent
from queueing.pump import EventPump
from queueing.queue import RedisQueue
from tests.queueing.conftest import agent


class FlakySink(MemoryEventSink):
    """Refuses its first hand-over (the database went away), then takes everything."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse = True

    async def queue_events(self, events: Sequence[QueueEvent]) -> None:
        if self.refuse:
            self.refuse = False
            raise RuntimeError("database away")
        for e in events:
            await self.queue_event(e)


async def test_a_failed_hand_over_is_read_again_before_new_events(rq: RedisQueue) -> None:
    sink = FlakySink()
    pump = EventPump(rq.client, sink, "s1")
    await pump.pump_once(full=False)  # the first read is full: creates the group
    await rq.login(agent("a1"))
    with pytest.raises(RuntimeError):
        await pump.pump_once(full=False)
    assert sink.events == []
    # the lean read that follows is a full one: the own pending list comes first
    assert await pump.pump_once(full=False) >= 1
    assert [e.agent for e in sink.events] == ["a1"]


async def test_stale_events_of_another_consumer_wait_for_the_next_full_read(
    rq: RedisQueue,
) -> None:
    dead = EventPump(rq.client, FlakySink(), "dead", claim_idle_seconds=0.0)
    await dead.pump_once(full=False)
    await rq.login(agent("a1"))
    with pytest.raises(RuntimeError):
        await dead.pump_once(full=False)  # read, never acknowledged: the process died

    sink = MemoryEventSink()
    alive = EventPump(rq.client, sink, "alive", claim_idle_seconds=0.0)
    alive.full_every = 3600.0
    await alive.pump_once(full=False)  # its first read is full: claims the dead one's
    assert [e.agent for e in sink.events] == ["a1"]

    await rq.login(agent("a2"))
    dead.sink.refuse = True  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError):
        await dead.pump_once(full=False)  # a2 read by the dead one, never acknowledged
    assert await alive.pump_once(full=False) == 0  # no full read due: a2 not claimed yet
    alive._next_full = 0.0  # the full read is due
    assert await alive.pump_once(full=False) == 1
    assert [e.agent for e in sink.events] == ["a1", "a2"]
