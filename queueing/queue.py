"""The Redis operator queue: the hand-off from the menu engine.

This is the first slice: a caller is placed by priority, then original enqueue time, and a
re-entering caller (same uniqueid) keeps its place. Agents, assignment and bridging build on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

import redis.asyncio as aioredis

from queueing import keys

# Scores order by priority first (higher first), then by enqueue time in milliseconds.
_PRIORITY_SPAN = 10**13  # larger than any epoch-milliseconds value until the year 2286


@dataclass(frozen=True)
class QueueRequest:
    uniqueid: str
    caller: str
    line: str
    skill: str
    priority: int
    enqueued_at: float  # epoch seconds of the original enqueue

    def score(self) -> int:
        return (100 - self.priority) * _PRIORITY_SPAN + int(self.enqueued_at * 1000)


@dataclass(frozen=True)
class QueuePlace:
    position: int  # 1 = next to be answered
    resumed: bool  # True when the caller already held this place


class QueueGateway(Protocol):
    async def enqueue(self, request: QueueRequest) -> QueuePlace: ...


def _script(name: str) -> str:
    return resources.files("queueing").joinpath("lua", name).read_text()


class RedisQueue:
    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._enqueue = client.register_script(_script("enqueue.lua"))

    @classmethod
    def from_url(cls, url: str) -> RedisQueue:
        return cls(aioredis.Redis.from_url(url))

    async def enqueue(self, request: QueueRequest) -> QueuePlace:
        fields: list[str | int] = [
            "uniqueid",
            request.uniqueid,
            "caller",
            request.caller,
            "line",
            request.line,
            "skill",
            request.skill,
            "priority",
            request.priority,
            "enqueued_at",
            repr(request.enqueued_at),
            "written_at",
            repr(time.time()),
        ]
        rank, existing = await self._enqueue(
            keys=[keys.waiting(request.skill), keys.entry(request.skill, request.uniqueid)],
            args=[request.uniqueid, request.score(), *fields],
        )
        return QueuePlace(position=int(rank) + 1, resumed=bool(existing))

    async def waiting(self, skill: str) -> list[str]:
        members = await self.client.zrange(keys.waiting(skill), 0, -1)
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    async def close(self) -> None:
        await self.client.aclose()
