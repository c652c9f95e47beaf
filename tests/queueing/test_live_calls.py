"""The live-call registry: every call a server serves is registered with a lease renewed by
its hub; when the server dies and the call does not come back, another server's reaper takes
it (each exactly once) and closes it through ``on_lost``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from ivr.config.queue_models import QueueSettings
from queueing.hub import QueueHub
from queueing.queue import LiveCall, LostCall, QueueRequest, RedisQueue
from tests.queueing.conftest import T0, Clock, agent
from tests.redis_clients import redis_client

SETTINGS = QueueSettings(lease_seconds=30, wrapup_seconds=0)

HubMaker = Callable[..., QueueHub]


@pytest.fixture
async def make_hub(queue_url: str, clock: Clock) -> AsyncIterator[HubMaker]:
    """Hubs on one Redis and one clock, driven by the test (renew_now, tick_now)."""
    client = redis_client(queue_url)
    await client.flushdb()
    made: list[QueueHub] = []

    def make(server: str, **kw: object) -> QueueHub:
        hub = QueueHub(RedisQueue(client, SETTINGS, clock=clock, server=server), **kw)  # type: ignore[arg-type]
        made.append(hub)
        return hub

    yield make
    await client.aclose()


async def test_a_call_is_registered_and_known_to_the_next_server(
    make_hub: HubMaker,
) -> None:
    q1, q2 = make_hub("s1").queue, make_hub("s2").queue
    assert await q1.call_started("u1", 1, '{"a": 1}') == LiveCall("", 0, False, "")
    await q1.call_note("u1", '{"a": 2}')
    # the server died; the call re-enters on s2
    assert await q2.call_started("u1", 2, '{"a": 3}') == LiveCall("s1", 1, False, "", '{"a": 2}')
    await q2.call_ended("u1")
    assert await q1.call_started("u1", 3, "{}") == LiveCall("", 0, False, "")


async def test_done_is_sticky_and_set_by_the_operators_answer(make_hub: HubMaker) -> None:
    q = make_hub("s1").queue
    await q.call_started("u1", 1, "{}")
    await q.call_note("u1", "{}", done=True)
    await q.call_note("u1", "{}")  # not done: does not undo it
    assert (await q.call_started("u1", 2, "{}")).done
    # an operator answering marks the call done, with the agent
    await q.call_started("u2", 1, "{}")
    await q.login(agent("a1"), ready=True)
    await q.enqueue(QueueRequest("u2", "13800000000", "12345", "general", 0, T0))
    await q.connect("u2", "a1")
    assert await q.call_started("u2", 2, "{}") == LiveCall("s1", 1, True, "a1", "{}")


async def test_the_calls_of_a_dead_server_are_each_closed_once(
    make_hub: HubMaker, clock: Clock
) -> None:
    lost: list[LostCall] = []

    async def on_lost(call: LostCall) -> None:
        lost.append(call)

    dead = make_hub("s1")
    alive = [make_hub("s2", on_lost=on_lost), make_hub("s3", on_lost=on_lost)]
    for uid in ("u1", "u2", "u3"):
        await dead.queue.call_started(uid, 1, f'{{"uid": "{uid}"}}')
        dead.track_call(uid)
    await dead.queue.call_note("u2", '{"uid": "u2", "menu": "1"}', done=True)
    clock.advance(20)
    await dead.renew_now()
    # u3 re-enters on s2 (a plain AGI() re-entry after the server died)
    await alive[0].queue.call_started("u3", 2, "{}")
    alive[0].track_call("u3")
    for _ in range(40):  # s1 is dead: nobody renews its calls
        clock.advance(1)
        for hub in alive:
            await hub.renew_now()
            await hub.tick_now()
    assert sorted(lost, key=lambda c: c.uniqueid) == [
        LostCall("u1", "s1", 1, False, '{"uid": "u1"}'),
        LostCall("u2", "s1", 1, True, '{"uid": "u2", "menu": "1"}'),
    ]


async def test_a_lost_call_that_could_not_be_closed_is_tried_again(
    make_hub: HubMaker, clock: Clock
) -> None:
    tries: list[str] = []

    async def on_lost(call: LostCall) -> None:
        tries.append(call.uniqueid)
        if len(tries) == 1:
            raise RuntimeError("the database is away")

    dead, alive = make_hub("s1"), make_hub("s2", on_lost=on_lost)
    await dead.queue.call_started("u1", 1, "{}")
    for _ in range(60):
        clock.advance(1)
        await alive.tick_now()
    assert tries == ["u1", "u1"]
    # and then it is gone for good
    for _ in range(60):
        clock.advance(1)
        await alive.tick_now()
    assert tries == ["u1", "u1"]


async def test_a_hub_without_on_lost_leaves_lost_calls_to_the_others(
    make_hub: HubMaker, clock: Clock
) -> None:
    lost: list[str] = []

    async def on_lost(call: LostCall) -> None:
        lost.append(call.uniqueid)

    dead, plain, closer = make_hub("s1"), make_hub("s2"), make_hub("s3", on_lost=on_lost)
    await dead.queue.call_started("u1", 1, "{}")
    clock.advance(31)
    assert (await plain.tick_now()).lost == ()
    await closer.tick_now()
    assert lost == ["u1"]
