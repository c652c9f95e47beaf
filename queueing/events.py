"""Queue events, compatible in spirit with Asterisk's ``queue_log``.

Every queue event (a caller enters, is connected, abandons, completes; an agent logs in,
pauses, misses a ring ...) is handed to a :class:`QueueEventSink`. The ticket store writes them
to the database, so that reports and ``queue_log`` readers can follow the queue.

Event names follow app_queue's queue_log: ENTERQUEUE, CONNECT, ABANDON, COMPLETECALLER,
COMPLETEAGENT, RINGNOANSWER, EXITWITHTIMEOUT, EXITWITHKEY (callback chosen), ADDMEMBER,
REMOVEMEMBER, PAUSE, UNPAUSE; plus our own CALLBACKREQUEST, CALLBACKDIAL, OVERFLOW, RESUME.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class QueueEvent:
    at: dt.datetime  # UTC
    callid: str  # the Asterisk uniqueid, or "NONE" for agent events
    queue: str  # the skill
    agent: str  # the agent id, or "NONE"
    event: str  # ENTERQUEUE, CONNECT, ...
    data: tuple[str, ...] = ()  # data1..data5 as in queue_log

    def queue_log_line(self) -> str:
        """``epoch|callid|queue|agent|event|data1|data2...``, as Asterisk writes queue_log."""
        parts = [str(int(self.at.timestamp())), self.callid, self.queue, self.agent, self.event]
        return "|".join([*parts, *self.data])


class QueueEventSink(Protocol):
    async def queue_event(self, event: QueueEvent) -> None: ...


class MemoryEventSink:
    def __init__(self) -> None:
        self.events: list[QueueEvent] = []

    async def queue_event(self, event: QueueEvent) -> None:
        self.events.append(event)


class QueueLogFileSink:
    """Appends each event as a ``queue_log`` line to a file, for tools that read one."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    async def queue_event(self, event: QueueEvent) -> None:
        await asyncio.to_thread(self._append, event.queue_log_line())


class TeeSink:
    """Hands each event to every sink, in order (the database first: it is the record)."""

    def __init__(self, *sinks: QueueEventSink) -> None:
        self.sinks = sinks

    async def queue_event(self, event: QueueEvent) -> None:
        for sink in self.sinks:
            await sink.queue_event(event)
