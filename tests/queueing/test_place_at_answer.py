"""A place from the first second: the engine puts the caller in the operator queue when the
call is answered, and the notices and the menu play while the caller waits there (issue 11).

With the real queue (Redis), hub and waiter: an operator free during the menu takes the call
without the caller pressing anything or sitting through the menu; a key that picks a skill
moves the caller there with its original enqueue time; a self-service key leaves the queue;
a hangup during the menu is an abandon.
"""

from __future__ import annotations

import asyncio

from ivr.config.bundle import ConfigBundle
from ivr.config.models import LookupNode, QueueNode
from ivr.engine.callstore import MemoryStore
from ivr.engine.channel import CallInfo
from ivr.engine.menu import MenuEngine
from ivr.engine.record import CallRecord
from ivr.queuewait.waiter import QueueHub, RedisQueueWaiter
from queueing import keys
from queueing.events import MemoryEventSink
from tests.queueing.channel import WaitingChannel
from tests.queueing.conftest import SETTINGS, agent
from tests.redis_clients import sync_client
from tests.test_engine import keys_to


async def events(hub: QueueHub, uid: str) -> list[str]:
    assert hub.pump is not None
    await hub.pump.drain()
    sink = hub.sink
    assert isinstance(sink, MemoryEventSink)
    return [e.event for e in sink.events if e.callid == uid]


async def run(
    hub: QueueHub, config: ConfigBundle, ch: WaitingChannel, uid: str, number: str = "12345"
) -> CallRecord:
    engine = MenuEngine(config, hub.queue, MemoryStore(), waiter=RedisQueueWaiter(hub))
    info = CallInfo(uniqueid=uid, caller="13700000001", dnid=number, extension=number)
    return await asyncio.wait_for(engine.run(ch, info), 20)  # type: ignore[arg-type]


async def test_a_free_operator_takes_the_call_during_the_menu(
    hub: QueueHub, config: ConfigBundle
) -> None:
    await hub.queue.login(agent("a1", general=5), ready=True)
    ch = WaitingChannel()
    record = await run(hub, config, ch, "u1")
    assert record.outcome == "answered" and record.outcome_detail == "a1", record.events
    # the recording notice played to its end before the operator was rung
    notice = config.menu.settings.notice
    assert ch.played[: len(notice)] == notice
    # placed at answer: ENTERQUEUE before anything else; the menu ended by the offer, not by
    # the caller's silence (no fallback node entered)
    assert (await events(hub, "u1"))[0] == "ENTERQUEUE"
    assert ("offer", "during the menu") in [(e.kind, e.detail) for e in record.events]
    assert config.menu.settings.fallback not in record.path
    assert ch.dialled == ["PJSIP/a1"]


async def test_a_key_that_picks_a_skill_keeps_the_enqueue_time(
    hub: QueueHub, config: ConfigBundle, redis_url: str
) -> None:
    node_id, node = next(
        (nid, n)
        for nid, n in config.menu.nodes.items()
        if isinstance(n, QueueNode) and n.skill and n.skill != config.menu.settings.default_skill
    )
    path = keys_to(config, node_id)
    assert path and node.prompt, node_id
    # an operator of that skill is logged in (paused): its callers wait for it, nothing
    # widens them back to the general operators during the test
    assert node.skill
    await hub.queue.login(agent("e1", **{node.skill: 5}), ready=False)
    client = sync_client(redis_url, decode_responses=True)
    entry = keys.entry("u2", SETTINGS.centre)
    seen: list[dict[str, str]] = []

    def watch(ch: WaitingChannel) -> bool:
        """Note the caller's entry at every command; hang up once the skill's prompt plays."""
        seen.append(client.hgetall(entry))
        return bool(ch.played) and ch.played[-1] == node.prompt[0]

    ch = WaitingChannel(keys=list(path), hangup=watch)
    try:
        record = await run(hub, config, ch, "u2")
    finally:
        client.close()
    first = next(e for e in seen if e)
    last = [e for e in seen if e][-1]
    assert first["skill"] == config.menu.settings.default_skill
    assert last["skill"] == node.skill, "moved to the skill the key picked"
    assert last["enqueued_ms"] == first["enqueued_ms"], "with its original enqueue time"
    assert record.outcome == "abandoned" and record.skill == node.skill
    names = await events(hub, "u2")
    assert names[0] == "ENTERQUEUE" and names[-1] == "ABANDON"


async def test_a_self_service_key_leaves_the_queue(hub: QueueHub, config: ConfigBundle) -> None:
    lookup = next(nid for nid, n in config.menu.nodes.items() if isinstance(n, LookupNode))
    path = keys_to(config, lookup)
    assert path
    ch = WaitingChannel(keys=list(path), hangup=lambda ch: "lookup" in str(ch.played[-1:]))
    record = await run(hub, config, ch, "u3")
    assert ("queue_left", "lookup") in [(e.kind, e.detail) for e in record.events]
    assert not await hub.queue.entry("u3"), "out of the queue once self-service was chosen"
    assert "ABANDON" not in (await events(hub, "u3")), "leaving for self-service is not an abandon"
    assert record.outcome == "hangup"


async def test_a_hangup_during_the_menu_is_an_abandon(hub: QueueHub, config: ConfigBundle) -> None:
    ch = WaitingChannel(hangup=lambda ch: len(ch.played) >= 2)
    record = await run(hub, config, ch, "u4")
    assert record.outcome == "abandoned", record.events
    assert (await events(hub, "u4")) == ["ENTERQUEUE", "ABANDON"]
    assert not await hub.queue.entry("u4")
