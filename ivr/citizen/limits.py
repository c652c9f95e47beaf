"""The rate limits of the citizens' pages, in Redis: a counter per limit and subject in a
fixed window (``SET NX EX`` then ``INCR``, in one transaction). The subject is a digest
(client address, phone number, ticket number), never the number in clear. Redis away raises
redis' ConnectionError / TimeoutError: the caller refuses the request (no limit, no intake)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from redis.asyncio import Redis

from queueing import keys


@dataclass(frozen=True)
class Limit:
    kind: str  # submit-address, submit-phone, lookup-address, lookup-ticket
    count: int  # at most this many in a window (0: no limit)
    window: int  # seconds


@dataclass(frozen=True)
class Limits:
    """The limits from the settings (``HOTLINE_CITIZEN_*``, docs/citizen.md)."""

    submit_address: Limit = Limit("submit-address", 10, 3600)
    submit_phone: Limit = Limit("submit-phone", 5, 86400)
    lookup_address: Limit = Limit("lookup-address", 60, 3600)
    lookup_ticket: Limit = Limit("lookup-ticket", 10, 3600)

    @classmethod
    def of(
        cls, submits_address: int, submits_phone: int, lookups_address: int, lookups_ticket: int
    ) -> Limits:
        return cls(
            Limit("submit-address", submits_address, 3600),
            Limit("submit-phone", submits_phone, 86400),
            Limit("lookup-address", lookups_address, 3600),
            Limit("lookup-ticket", lookups_ticket, 3600),
        )


def digest(subject: str) -> str:
    return hashlib.sha256(subject.encode()).hexdigest()[:24]


class RateLimiter:
    def __init__(self, client: Redis, centre: str = keys.DEFAULT_CENTRE) -> None:
        self.client = client
        self.centre = centre

    async def hit(self, limit: Limit, subject: str) -> int | None:
        """Count one request of ``subject``: None if within ``limit``, else the seconds to
        wait before the window ends (at least 1)."""
        if limit.count <= 0:
            return None
        key = keys.citizen_limit(limit.kind, digest(subject), self.centre)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=limit.window, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, count, ttl = await pipe.execute()
        if int(count) <= limit.count:
            return None
        return max(1, int(ttl))
