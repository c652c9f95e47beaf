"""The first slice of the Redis queue: placing callers by priority, then enqueue time."""

from __future__ import annotations

from queueing import keys
from queueing.queue import QueueRequest, RedisQueue


def req(uid: str, priority: int, at: float, skill: str = "general") -> QueueRequest:
    return QueueRequest(uid, "13800000000", "12345", skill, priority, at)


async def test_priority_first_then_original_enqueue_time(queue: RedisQueue) -> None:
    t = 1_790_000_000.0
    assert (await queue.enqueue(req("a", 0, t))).position == 1
    assert (await queue.enqueue(req("b", 0, t + 1))).position == 2
    assert (await queue.enqueue(req("c", 60, t + 2))).position == 1
    assert (await queue.enqueue(req("d", 0, t - 5))).position == 2  # older than a and b
    assert await queue.waiting("general") == ["c", "d", "a", "b"]


async def test_reentry_keeps_the_original_place_and_details(queue: RedisQueue) -> None:
    t = 1_790_000_000.0
    await queue.enqueue(req("a", 0, t))
    await queue.enqueue(req("b", 0, t + 1))
    place = await queue.enqueue(req("a", 0, t + 100))  # re-entering after a server restart
    assert (place.position, place.resumed) == (1, True)
    stored = await queue.client.hget(keys.entry("a"), "enqueued_at")
    assert stored is not None and float(stored) == t


async def test_queue_keys_of_one_skill_share_a_cluster_slot() -> None:
    # One hash tag per centre (not per skill): a multi-skill agent's assignment is one script.
    tag = "{q:hotline}"
    assert tag in keys.waiting("heating") and tag in keys.entry("x") and tag in keys.agent("a")
