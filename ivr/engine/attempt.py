"""One AGI session of a call is an *attempt*: what the engine learns about the call before it
does anything, and what it tells the rest of the hotline while the attempt runs.

Every hotline AGI session starts by reading the channel's state in one round trip (``GET FULL
VARIABLE`` of :data:`STATE_EXPRESSION`, which res_agi also answers on a hung-up channel). The
variables were left there by earlier sessions of the same call (on any server, or the process
script): the attempt number (``HOTLINE_SESSION``), whether the call was served
(``HOTLINE_DONE``, or an answered ``DIALSTATUS``), the queue place (``HOTLINE_ROUTE``,
``HOTLINE_SKILL``, ``HOTLINE_PRIORITY``), the operator, and whether the survey was taken. So
a plain re-entry (``AGI(agi://host/hotline)``, no arguments) finds where the call was.

The live-call registry (:class:`CallTracker`) is told when an attempt starts, what it knows
so far (the snapshot: the call record as JSON), when the caller was served, and when the
attempt's record is safely stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol, TypeGuard, runtime_checkable

import orjson

from ivr.engine.provides import provides
from ivr.engine.record import CallRecord

log = logging.getLogger(__name__)

__all__ = [
    "STATE_EXPRESSION",
    "STATE_VARIABLES",
    "CallState",
    "CallTracker",
    "ChannelState",
    "HandedBack",
    "LiveInfo",
    "snapshot",
]

#: The channel variables an attempt reads first, in this order, ``|`` between them.
STATE_VARIABLES = (
    "HOTLINE_SESSION",
    "HOTLINE_DONE",
    "HOTLINE_ROUTE",
    "HOTLINE_SKILL",
    "HOTLINE_PRIORITY",
    "DIALSTATUS",
    "HOTLINE_AGENT",
    "HOTLINE_SURVEYED",
)
STATE_EXPRESSION = "|".join(f"${{{name}}}" for name in STATE_VARIABLES)


class HandedBack(Exception):
    """The server is stopping: the waiting caller goes back to the dialplan with its place
    (no HOTLINE_DONE, HOTLINE_HELD=1), for the next server to take it up."""


@runtime_checkable
class ChannelState(Protocol):
    """What a channel driver offers beyond :class:`~ivr.engine.channel.Channel` for
    re-entries: both work on a hung-up channel."""

    async def evaluate(self, expression: str) -> str:
        """``GET FULL VARIABLE``: the expression with its ``${...}`` substituted."""
        ...

    async def caller_present(self) -> bool:
        """Whether the caller's channel is still up."""
        ...


def has_state(channel: object) -> TypeGuard[ChannelState]:
    """Whether ``channel`` is a :class:`ChannelState` (known once per channel class)."""
    return provides(channel, ChannelState)


@dataclass(frozen=True)
class CallState:
    """The channel variables of :data:`STATE_VARIABLES`, as the attempt found them."""

    session: int = 0  # attempts before this one (0: the first)
    done: bool = False  # HOTLINE_DONE=1
    route: str = ""
    skill: str = ""
    priority: int = 0
    dialstatus: str = ""
    agent: str = ""
    surveyed: bool = False

    @classmethod
    def parse(cls, text: str) -> CallState:
        parts = (text.split("|") + [""] * len(STATE_VARIABLES))[: len(STATE_VARIABLES)]
        session, done, route, skill, priority, dialstatus, agent, surveyed = parts
        return cls(
            session=int(session) if session.isdigit() else 0,
            done=done == "1",
            route=route,
            skill=skill,
            priority=int(priority) if priority.lstrip("-").isdigit() else 0,
            dialstatus=dialstatus,
            agent=agent,
            surveyed=surveyed == "1",
        )

    @property
    def served(self) -> bool:
        """An earlier attempt served the call: it said so, or its Dial was answered (an
        operator or a transfer) and the session ended before it could say so."""
        return self.done or self.dialstatus == "ANSWER"


@dataclass(frozen=True)
class LiveInfo:
    """What the live-call registry knew of the call before this attempt registered it."""

    server: str = ""
    attempt: int = 0
    done: bool = False
    agent: str = ""
    # that attempt's record as its server last noted it (JSON, "" if none): what a server
    # that died before it could write the record knew of the call
    snapshot: str = ""


class CallTracker(Protocol):
    """The live-call registry (Redis), as the engine and the queue waiter use it. Every
    method logs its own failures: the call goes on whatever happens to the registry."""

    async def started(self, record: CallRecord) -> LiveInfo | None:
        """This attempt serves the call now (None: the registry is unreachable)."""
        ...

    async def note(self, record: CallRecord, *, done: bool = False) -> None:
        """What the attempt knows so far; ``done``: an operator answered (sticky)."""
        ...

    async def ended(self, record: CallRecord, *, finished: bool) -> None:
        """The attempt's record is stored. ``finished``: the call is over (the registry
        forgets it); otherwise it is handed on, and stays registered for the next attempt
        (or for the reaper, should the caller not come back)."""
        ...


def snapshot(record: CallRecord) -> str:
    """The JSON text the registry keeps for a call: its record so far. Four per call, by
    orjson (a tenth of the json module's time; compact, UTF-8 as it is)."""
    return orjson.dumps(record.to_dict()).decode()


async def read_state(channel: object) -> CallState | None:
    """The call's state on the channel, in one round trip; None when the channel driver
    cannot read variables (then every session is a first attempt)."""
    if not has_state(channel):
        return None
    return CallState.parse(await channel.evaluate(STATE_EXPRESSION))


@runtime_checkable
class EntryLookup(Protocol):
    """A queue that can tell a caller's entry (:meth:`queueing.queue.RedisQueue.entry`)."""

    async def entry(self, uniqueid: str) -> dict[str, str]: ...


async def queue_place(queue: object, uniqueid: str) -> tuple[str, int] | None:
    """The skill and priority of the caller's entry when it still waits (or is being
    offered) in the queue; None otherwise, also when the queue cannot be asked."""
    if not isinstance(queue, EntryLookup):
        return None
    try:
        entry = await queue.entry(uniqueid)
    except Exception as exc:
        log.warning("[HL-ENG-003] could not look up the queue place of %s (%s): menu", uniqueid,
                    exc)  # fmt: skip
        return None
    if entry.get("state") not in ("waiting", "offered") or not entry.get("skill"):
        return None
    priority = entry.get("priority", "0")
    return entry["skill"], int(priority) if priority.lstrip("-").isdigit() else 0
