"""What the menu engine is given and how a call's walk sees it: the ticket lookup, the
queue waiter, the survey taker (interfaces the server fills in), and the constants of the walk."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ivr.config.bundle import ConfigBundle
from ivr.engine.attempt import (
    CallTracker,
)
from ivr.engine.channel import Channel
from ivr.engine.record import CallRecord
from queueing.queue import QueueGateway, QueuePlace, QueueRequest

ALL_KEYS = "0123456789*#"
MAX_STEPS = 200  # node entries per call before the engine hands the caller to a person
#: Redis unreachable: the queue may be back in a moment (a restart, a failover)
REDIS_AWAY = (RedisConnectionError, RedisTimeoutError)


class TicketLookup(Protocol):
    async def status(self, ticket_number: str, caller: str) -> str | None:
        """A status word (accepted, dispatched, handling, finished, ...) or None if unknown."""
        ...


class NoTickets:
    async def status(self, ticket_number: str, caller: str) -> str | None:
        return None


class QueueWaiter(Protocol):
    """Keeps a queued caller company until an operator answers, or the caller leaves.

    Called by the engine right after the caller was placed in the queue. It plays music on
    hold and announcements, offers a callback, dials the assigned operator, and adds its
    events to ``record`` (the engine has already finished the record as ``queue``; the waiter
    may set ``record.outcome`` to ``answered``, ``abandoned``, ``callback`` ...). It raises
    :class:`AGIHangup` when the caller hangs up, like any channel operation.
    """

    async def wait(
        self, channel: Channel, request: QueueRequest, place: QueuePlace, record: CallRecord
    ) -> None: ...


@runtime_checkable
class SurveyTaker(Protocol):
    """A waiter that can take the survey of a call an operator answered in an earlier
    attempt (:meth:`ivr.queuewait.waiter.RedisQueueWaiter.survey`)."""

    async def survey(self, channel: Channel, uniqueid: str, record: CallRecord) -> None: ...


class EngineParts(Protocol):
    """What a call's walk uses of its :class:`~ivr.engine.menu.MenuEngine`."""

    config: ConfigBundle
    queue: QueueGateway
    waiter: QueueWaiter | None
    tracker: CallTracker | None
    tickets: TicketLookup
    clock: Callable[[], dt.datetime]
    redis_patience: float
