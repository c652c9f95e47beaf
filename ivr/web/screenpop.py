"""The screen-pop: what an operator's desk shows the moment the queue offers it a call
(ringing, before the answer). Plain: no HTTP here; the WebSocket route sends the model.

:meth:`ScreenPops.build` reads, for one uniqueid:

- from Redis, in one round trip: the queue entry (caller, dialled number, skill, priority,
  enqueue time, state, agent), the live call's snapshot (the call record so far, written by
  the call's server at enqueue, at the offer and at the answer: the legacy line, its
  department and mode, the accessibility flag, the menu path and keys), and the ticket
  number reserved for the call (``keys.ticket_numbers``, as ``HOTLINE_TICKET``). The call's
  server notes the offer in the snapshot and reserves the ticket number a few milliseconds
  after the offer: a pop built at the ``offer`` notice waits up to ``settle`` seconds for
  that note and, given the server's ticket numbers, reserves the number itself (the same
  number: a call keeps its number; never for a callback, whose dialler carries none);
- from the database (off the event loop): the caller's earlier tickets and calls, newest
  first, at most :data:`HISTORY` of each. None for an anonymous or withheld number.

:meth:`ScreenPops.for_agent` is the pop of the call an agent is offered or talking to now
(:func:`queueing.notices.current_call`), for a desk that connects or reconnects.

The repeat rule. The issue asks to flag a repeat when an earlier ticket shares the category
and is unresolved; the category of the call that rings is not known until the operator files
its ticket. So each earlier ticket says whether it is unresolved (``open``), with the same
rule as the automatic 督办 of repeated requests (:mod:`ivr.tickets.supervision`): open
(受理, 派单, 签收, 办理, 退单), or finished/visited (办结, 回访) with the citizen not satisfied
(satisfaction ≤ 2) or the problem not solved; merged (并单) and archived ones are not. The pop
says ``repeat_caller`` when any earlier ticket of the number is unresolved, and lists the
categories of those (``open_categories``), so that the ticket form can flag the repeat once
the operator picks a category.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import or_, select

from ivr.config.bundle import ConfigBundle
from ivr.db.database import Database
from ivr.db.tables import CallRow, TicketRow
from ivr.queuewait.bridge import TicketNumbers
from ivr.records.callrows import ANONYMOUS
from ivr.tickets.lifecycle import OPEN, STATE_NAMES, State
from queueing import keys
from queueing.notices import current_call

log = logging.getLogger(__name__)

HISTORY = 20  # earlier tickets, and earlier calls, at most
WITHHELD = frozenset({*ANONYMOUS, "anonymous", "restricted", "private", "withheld", "unavailable"})
_OPEN = frozenset(s.value for s in OPEN)
_DONE_MAYBE_UNRESOLVED = frozenset({State.FINISHED.value, State.VISITED.value})


class EarlierTicket(BaseModel):
    number: str
    accepted_at: dt.datetime
    type: str
    category: str
    department: str | None
    department_name: str | None = None
    state: str
    state_name: str  # 受理, 派单 ...
    open: bool = Field(description="unresolved (the rule is in the module's docstring)")
    supervised: bool
    overdue: bool


class EarlierCall(BaseModel):
    uniqueid: str
    started_at: dt.datetime
    day: dt.date
    outcome: str
    dialled: str
    line_number: str | None
    line_name: str | None
    department: str | None
    agent: str | None
    queue_wait: float | None


class ScreenPop(BaseModel):
    uniqueid: str
    agent: str = Field(description="the agent offered the call ('' when not offered)")
    state: str = Field(description="the queue entry: offered, connected, waiting; gone")
    kind: str = Field(description="call, or callback (a callback the dialler places)")
    caller: str
    caller_name: str = ""
    anonymous: bool = Field(description="withheld number: no history")
    dialled: str = Field(description="the number dialled, normalized (12345 or a legacy line)")
    line_number: str | None = Field(description="the legacy line; None for 12345 itself")
    line_name: str | None
    line_mode: str | None = Field(description="merged, parallel, subcentre")
    department: str | None = Field(description="the legacy line's department")
    department_name: str | None = None
    skill: str
    priority: int
    accessible: bool = Field(description="on the accessibility list (elderly, disabled)")
    path: list[str] = Field(description="the menu nodes entered, in order")
    digits: str = Field(description="the keys pressed")
    enqueued_at: dt.datetime | None
    waited_seconds: float = Field(description="from the enqueue to now (or to the answer)")
    ticket_number: str | None = Field(description="reserved for the call (HOTLINE_TICKET)")
    tickets: list[EarlierTicket] = Field(default_factory=list, description="newest first")
    calls: list[EarlierCall] = Field(default_factory=list, description="newest first")
    repeat_caller: bool = Field(description="an earlier ticket of the number is unresolved")
    open_categories: list[str] = Field(default_factory=list)
    history_error: str | None = Field(None, description="why the history is missing, if it is")


def is_withheld(caller: str) -> bool:
    return caller.strip().lower() in WITHHELD


def unresolved(t: TicketRow) -> bool:
    if t.state in _OPEN:
        return True
    if t.state in _DONE_MAYBE_UNRESOLVED:
        return t.solved is False or (t.satisfaction is not None and t.satisfaction <= 2)
    return False


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


_ENTRY_FIELDS = (
    "state",
    "agent",
    "kind",
    "caller",
    "line",
    "skill",
    "priority",
    "enqueued_ms",
    "connected_at",
)


class ScreenPops:
    """Builds :class:`ScreenPop` from the queue's Redis (``client``, the centre ``centre``)
    and the database. ``config`` (the running config, e.g. the config holder's ``current``)
    names the departments and finds the line of a call whose snapshot is missing."""

    def __init__(
        self,
        client: Any,  # redis.asyncio.Redis
        db: Database,
        *,
        centre: str = keys.DEFAULT_CENTRE,
        tickets: TicketNumbers | None = None,
        config: Callable[[], ConfigBundle] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.db = db
        self.centre = centre
        self.tickets = tickets
        self.config = config
        self.clock = clock

    async def build(
        self, uniqueid: str, agent: str = "", *, settle: float = 0.3, caller: str = ""
    ) -> ScreenPop:
        """The pop for ``uniqueid`` (offered to ``agent``). Waits at most ``settle`` seconds
        for the call's server to note the offer (0: no wait). Redis errors propagate; a
        database error leaves the history empty with ``history_error`` set (logged).
        ``caller``: the offer notice's, for a call already gone from Redis (answered and
        ended on another server before this one read it)."""
        entry, record, ticket = await self._read(uniqueid)
        deadline = time.monotonic() + settle
        while (
            record
            and agent
            and not _noted_offer(record, agent)
            and time.monotonic() < deadline
            and entry.get("state") == "offered"
        ):
            await asyncio.sleep(0.02)
            entry, record, ticket = await self._read(uniqueid)
        if (
            not ticket
            and self.tickets is not None
            and entry.get("state") in ("offered", "connected")
            and entry.get("kind", "call") != "callback"  # the dialler's own: no number
        ):
            ticket = await self.tickets.reserve_ticket(uniqueid) or ""
        pop = self._pop(uniqueid, agent, entry, record, ticket, caller)
        if pop.anonymous:
            return pop
        try:
            tickets, calls = await asyncio.to_thread(self._history, pop.caller, uniqueid)
        except Exception as exc:
            log.warning("[HL-WEB-030] screen-pop of %s without the caller's history: the "
                        "database did not answer (%s)", uniqueid, exc)  # fmt: skip
            pop.history_error = f"database unavailable: {exc.__class__.__name__}"
            return pop
        pop.tickets, pop.calls = tickets, calls
        pop.open_categories = sorted({t.category for t in tickets if t.open})
        pop.repeat_caller = bool(pop.open_categories)
        return pop

    async def for_agent(self, agent_id: str, *, settle: float = 0.3) -> ScreenPop | None:
        """The pop of the call ``agent_id`` is offered or talking to now (a desk that
        connects or reconnects); None when it has none."""
        call = await current_call(self.client, agent_id, self.centre)
        if call is None:
            return None
        return await self.build(call.uniqueid, agent_id, settle=settle)

    async def _read(self, uid: str) -> tuple[dict[str, str], dict[str, Any], str]:
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(keys.entry(uid, self.centre), list(_ENTRY_FIELDS))
        pipe.hget(keys.call(uid, self.centre), "snapshot")
        pipe.hget(keys.ticket_numbers(self.centre), uid)
        values, snap, ticket = await pipe.execute()
        entry = {f: _text(v) for f, v in zip(_ENTRY_FIELDS, values, strict=True) if v is not None}
        record: dict[str, Any] = {}
        if snap:
            try:
                loaded = json.loads(_text(snap))
            except ValueError:
                loaded = None
            if isinstance(loaded, dict):
                record = loaded
        return entry, record, _text(ticket)

    def _pop(
        self,
        uid: str,
        agent: str,
        entry: dict[str, str],
        record: dict[str, Any],
        ticket: str,
        noticed: str = "",
    ) -> ScreenPop:
        caller = entry.get("caller") or str(record.get("caller") or "") or noticed
        dialled = entry.get("line") or str(record.get("dialled") or "")
        line = self._line(dialled) if not record else None
        now = self.clock()
        enqueued_ms = _int(entry.get("enqueued_ms"))
        until = _int(entry.get("connected_at")) or int(now * 1000)
        waited = max(0.0, (until - enqueued_ms) / 1000) if enqueued_ms else 0.0
        department = record.get("department") if record else (line[2] if line else None)
        priority = _int(entry.get("priority"))
        if not entry and record.get("priority") is not None:
            priority = int(record["priority"])
        return ScreenPop(
            uniqueid=uid,
            agent=agent or entry.get("agent", ""),
            state=entry.get("state") or "gone",
            kind=entry.get("kind") or "call",
            caller=caller,
            caller_name=str(record.get("caller_name") or ""),
            anonymous=is_withheld(caller),
            dialled=dialled,
            line_number=record.get("line_number") if record else (line[0] if line else None),
            line_name=record.get("line_name") if record else (line[1] if line else None),
            line_mode=record.get("line_mode") if record else (line[3] if line else None),
            department=department,
            department_name=self._department_name(department),
            skill=entry.get("skill") or str(record.get("skill") or ""),
            priority=priority,
            accessible=bool(record.get("accessible", False)),
            path=[str(p) for p in record.get("path") or []],
            digits=str(record.get("digits") or ""),
            enqueued_at=dt.datetime.fromtimestamp(enqueued_ms / 1000, dt.UTC)
            if enqueued_ms
            else None,
            waited_seconds=round(waited, 1),
            ticket_number=ticket or None,
            repeat_caller=False,
        )

    def _line(self, dialled: str) -> tuple[str, str, str, str] | None:
        """(number, name, department, mode) of a legacy line, from the running config."""
        if self.config is None or not dialled:
            return None
        route = self.config().route(dialled)
        if route.line is None:
            return None
        return (route.number, route.line.name, route.line.department, route.line.mode.value)

    def _department_name(self, department: str | None) -> str | None:
        if self.config is None or not department:
            return None
        found = self.config().departments.departments.get(department)
        return found.name if found else None

    def _history(self, caller: str, uid: str) -> tuple[list[EarlierTicket], list[EarlierCall]]:
        t, c = TicketRow, CallRow
        with self.db.session() as session:
            ticket_rows = session.scalars(
                select(t)
                .where(t.caller == caller, or_(t.call_uniqueid.is_(None), t.call_uniqueid != uid))
                .order_by(t.accepted_at.desc(), t.id.desc())
                .limit(HISTORY)
            ).all()
            call_rows = session.scalars(
                select(c)
                .where(c.caller == caller, c.uniqueid != uid)
                .order_by(c.started_at.desc(), c.id.desc())
                .limit(HISTORY)
            ).all()
            tickets = [
                EarlierTicket(
                    number=r.number,
                    accepted_at=r.accepted_at,
                    type=r.type,
                    category=r.category,
                    department=r.department,
                    department_name=self._department_name(r.department),
                    state=r.state,
                    state_name=STATE_NAMES.get(r.state, r.state),  # type: ignore[call-overload]
                    open=unresolved(r),
                    supervised=r.supervised,
                    overdue=r.overdue,
                )
                for r in ticket_rows
            ]
            calls = [
                EarlierCall(
                    uniqueid=r.uniqueid,
                    started_at=r.started_at,
                    day=r.day,
                    outcome=r.outcome,
                    dialled=r.dialled,
                    line_number=r.line_number,
                    line_name=r.line_name,
                    department=r.department,
                    agent=r.agent,
                    queue_wait=r.queue_wait,
                )
                for r in call_rows
            ]
        return tickets, calls


def _noted_offer(record: dict[str, Any], agent: str) -> bool:
    """Whether the snapshot has the offer to ``agent`` (the bridge notes it before dialling)."""
    for event in reversed(record.get("events") or []):
        if isinstance(event, dict) and event.get("kind") == "offer":
            return str(event.get("detail", "")).split(" ", 1)[0] == agent
    return False


def _int(value: str | None) -> int:
    try:
        return int(float(value)) if value else 0
    except ValueError:
        return 0


__all__ = ["EarlierCall", "EarlierTicket", "ScreenPop", "ScreenPops", "is_withheld"]
