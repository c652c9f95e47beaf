"""Queue events, compatible in spirit with Asterisk's ``queue_log``.

Every queue event (a caller enters, is connected, abandons, completes; an agent logs in,
pauses, misses a ring ...) is handed to a :class:`QueueEventSink`. The ticket store writes them
to the database, so that reports and ``queue_log`` readers can follow the queue.

Event names follow app_queue's queue_log: ENTERQUEUE, CONNECT, ABANDON, COMPLETECALLER,
COMPLETEAGENT, RINGNOANSWER, EXITWITHTIMEOUT, EXITWITHKEY (callback chosen), ADDMEMBER,
REMOVEMEMBER, PAUSE, UNPAUSE; plus our own CALLBACKREQUEST, CALLBACKDIAL, OVERFLOW, RESUME
and PBXLOST (the caller's Asterisk box went away: offered, not abandoned).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import OrderedDict
from collections.abc import Sequence
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
    """Takes queue events, one at a time. A sink may also have ``async def
    queue_events(events)``, which takes several in one hand-over, in their order (one commit
    for all where each ``queue_event`` costs one): the pump then hands it what it read at once
    (:func:`hand_over`), so that it keeps up with the calls."""

    async def queue_event(self, event: QueueEvent) -> None: ...


async def hand_over(sink: QueueEventSink, events: Sequence[QueueEvent]) -> None:
    """Give ``sink`` the events, in order: in one hand-over when it takes several
    (``queue_events``), else one by one."""
    many = getattr(sink, "queue_events", None)
    if many is not None:
        await many(events)
        return
    for event in events:
        await sink.queue_event(event)


class MemoryEventSink:
    def __init__(self) -> None:
        self.events: list[QueueEvent] = []

    async def queue_event(self, event: QueueEvent) -> None:
        self.events.append(event)

    async def queue_events(self, events: Sequence[QueueEvent]) -> None:
        self.events.extend(events)


class QueueLogFileSink:
    """Appends each event as a ``queue_log`` line to a file, for tools that read one."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _append(self, lines: list[str]) -> None:
        text = "".join(line + "\n" for line in lines)
        try:
            f = self.path.open("a", encoding="utf-8")
        except FileNotFoundError:  # its folder is made when first missing, not every time
            self.path.parent.mkdir(parents=True, exist_ok=True)
            f = self.path.open("a", encoding="utf-8")
        with f:
            f.write(text)

    async def queue_event(self, event: QueueEvent) -> None:
        await asyncio.to_thread(self._append, [event.queue_log_line()])

    async def queue_events(self, events: Sequence[QueueEvent]) -> None:
        await asyncio.to_thread(self._append, [e.queue_log_line() for e in events])


class TeeSink:
    """Hands each event to every sink, in order (the database first: it is the record)."""

    def __init__(self, *sinks: QueueEventSink) -> None:
        self.sinks = sinks

    async def queue_event(self, event: QueueEvent) -> None:
        for sink in self.sinks:
            await sink.queue_event(event)

    async def queue_events(self, events: Sequence[QueueEvent]) -> None:
        for sink in self.sinks:
            await hand_over(sink, events)


def _text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def stream_id(raw: object) -> tuple[int, int]:
    """A stream id (``ms-seq``) as a pair that sorts as Redis does."""
    ms, _, seq = _text(raw).partition("-")
    return int(ms), int(seq or 0)


def make_event(
    at_ms: int, callid: str, queue: str, agent: str, event: str, data: str
) -> QueueEvent:
    return QueueEvent(
        at=dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC),
        callid=callid,
        queue=queue,
        agent=agent,
        event=event,
        data=tuple(data.split("|")) if data else (),
    )


EARLY_MAX = 4096  # delivered events the journal does not (yet) hold, remembered


class EventJournal:
    """The events this process appended to the Redis stream, kept (in order, by stream id)
    until the event sink has them: delivered by this process's pump, or acknowledged by the
    sink's consumer group (any server's pump). When Redis forgot (restarted without
    persistence, FLUSHALL, a failover that lost writes), those not yet delivered are handed
    to the sink from here. Bounded: past ``maxlen`` the oldest are dropped (and counted).

    :meth:`add` only keeps the script's reply (on every queue operation's path); it is read
    into events when the journal is next looked at (by the pump, about once a second)."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self.maxlen = maxlen
        self._raw: list[tuple[int, bytes | str]] = []  # (time ms, the script's event text)
        # stream id -> (time ms, callid, queue, agent, event, data)
        self._rows: OrderedDict[str, tuple[int, str, str, str, str, str]] = OrderedDict()
        # stream id -> (callid, event) delivered before add() brought them: the pump's read
        # may be answered before the reply of the operation that appended them is read
        self._early: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self.dropped = 0

    def __len__(self) -> int:
        self._read()
        return len(self._rows)

    def add(self, at_ms: int, text: bytes | str) -> None:
        """``text``: the events of one operation, as the script returns them (events
        separated by \\x1e, their stream id, callid, queue, agent, event, data by \\x1f)."""
        self._raw.append((at_ms, text))
        if len(self._raw) > self.maxlen:
            self._read()

    def _read(self) -> None:
        if not self._raw:
            return
        raw, self._raw = self._raw, []
        rows = self._rows
        for at_ms, text in raw:
            blob = text.decode() if isinstance(text, bytes) else text
            for one in blob.split("\x1e"):
                f = one.split("\x1f")
                if self._early and self._early.pop(f[0], None) == (f[1], f[4]):
                    continue  # the sink has it already
                rows[f[0]] = (at_ms, f[1], f[2], f[3], f[4], f[5])
        while len(rows) > self.maxlen:
            rows.popitem(last=False)
            self.dropped += 1

    def delivered(self, msg_id: object, callid: str, event: str) -> None:
        """The sink has this one (this process's pump delivered it)."""
        self._read()
        key = _text(msg_id)
        row = self._rows.get(key)
        if row is None:  # another server's event, or add() has not brought it yet
            self._early[key] = (callid, event)
            if len(self._early) > EARLY_MAX:  # a row comes within moments of its delivery
                self._early.popitem(last=False)
        elif row[1] == callid and row[4] == event:
            del self._rows[key]

    def acknowledged(self, upto: tuple[int, int], *, inclusive: bool) -> int:
        """Every event up to the stream id ``upto`` is acknowledged: forget them."""
        self._read()
        n = 0
        rows = self._rows
        while rows:
            sid = stream_id(next(iter(rows)))
            if sid > upto or (sid == upto and not inclusive):
                break
            rows.popitem(last=False)
            n += 1
        return n

    def pending(self) -> list[tuple[str, QueueEvent]]:
        """The events not known to be delivered, oldest first, with their stream ids."""
        self._read()
        return [(msg_id, make_event(*row)) for msg_id, row in self._rows.items()]

    def forget(self, msg_id: object) -> None:
        self._rows.pop(_text(msg_id), None)
