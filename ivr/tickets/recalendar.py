"""A calendar change moves the deadlines of open tickets, each move in the ticket's history.

An open ticket (受理 ... 退单) is due ``N`` working days after its start: its acceptance, or
its last 重办 redo. ``N`` is what it was granted: the type's working days and the extensions
approved since. When the working days change (``hours.yaml``: holidays, 调休 working days,
overrides, ``years``), the deadline is counted again from the start with the new calendar, at
the same local clock time, and the move is written to ``ticket_events`` (action
``recalendar``, actor ``calendar``) with the old and new deadline.

Two ways in:

- a reload that changes the calendar (:func:`install_calendar`, a listener of
  :class:`ivr.runtime.ConfigHolder`): ``N`` is counted with the calendar that was running
  (the one the deadlines were computed with), so it is exact whatever the ticket went through;
- ``hotline tickets recompute-deadlines`` (an admin who edited hours.yaml with no server
  running): the running calendar is unknown, so ``N`` comes from the audit trail, the type's
  days plus each approved extension (its approval event records the days: ``+N working
  day(s)``); a ticket whose extension predates that record is left alone and listed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ivr.config.calendar import BusinessCalendar
from ivr.config.catalogue import Catalogue
from ivr.config.warn import calendar_warnings
from ivr.db.database import Database
from ivr.db.tables import TicketEventRow, TicketRow
from ivr.tickets.lifecycle import OPEN

if TYPE_CHECKING:
    from ivr.config.bundle import ConfigBundle
    from ivr.runtime import ConfigHolder

log = logging.getLogger(__name__)

ACTION = "recalendar"
ACTOR = "calendar"
_EXTENSION_RE = re.compile(r"\+(\d+) working day")


def extension_note(note: str, days: int) -> str:
    """The note of an approved extension, recording its days for a later recompute."""
    return f"{note} (延期 {days} 个工作日 / +{days} working day(s))".strip()


@dataclass(frozen=True)
class Moved:
    number: str
    old: dt.datetime
    new: dt.datetime
    working_days: int


@dataclass
class Recomputed:
    checked: int = 0
    moved: list[Moved] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "number: why"

    def summary(self) -> str:
        skipped = f", {len(self.skipped)} left alone" if self.skipped else ""
        return (
            f"{len(self.moved)} of {self.checked} open ticket deadline(s) moved by the "
            f"calendar{skipped}"
        )


def _granted(
    ticket: TicketRow, events: list[TicketEventRow], catalogue: Catalogue
) -> tuple[int | None, str]:
    """(working days granted since the start, why not known)."""
    days = catalogue.deadline_days(ticket.type)
    for event in events:
        if event.action != "extend_approve":
            continue
        match = _EXTENSION_RE.search(event.note)
        if match is None:
            return None, "an extension approved before its days were recorded"
        days += int(match.group(1))
    return days, ""


def recompute_deadlines(
    db: Database,
    new: BusinessCalendar,
    *,
    old: BusinessCalendar | None = None,
    catalogue: Catalogue | None = None,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> Recomputed:
    """Count the deadline of every open ticket again with ``new``: the working days granted
    are counted with ``old`` (a reload) or, without it, from the audit trail (``catalogue``
    needed). Moves are written with their audit event unless ``dry_run``."""
    if old is None and catalogue is None:
        raise ValueError("give the old calendar or the catalogue")
    when = now or dt.datetime.now(dt.UTC)
    result = Recomputed()
    with db.session() as session:
        tickets = session.scalars(
            select(TicketRow)
            .where(TicketRow.state.in_([s.value for s in OPEN]))
            .order_by(TicketRow.id)
        ).all()
        trail: dict[int, list[TicketEventRow]] = {}
        for event in session.scalars(
            select(TicketEventRow)
            .where(TicketEventRow.ticket_id.in_([t.id for t in tickets]))
            .order_by(TicketEventRow.at, TicketEventRow.id)
        ):
            trail.setdefault(event.ticket_id, []).append(event)
        for ticket in tickets:
            result.checked += 1
            events = trail.get(ticket.id, [])
            redos = [e.at for e in events if e.action == "redo"]
            start = redos[-1] if redos else ticket.accepted_at
            since = [e for e in events if e.at >= start]
            if old is not None:
                days: int | None = old.working_days_between(start, ticket.deadline)
                why = ""
            else:
                assert catalogue is not None
                days, why = _granted(ticket, since, catalogue)
            if days is None:
                result.skipped.append(f"{ticket.number}: {why}")
                continue
            if days <= 0:
                continue
            due_local = new.local(ticket.deadline)
            day = new.add_working_days(new.local(start), days).date()
            moved = dt.datetime.combine(day, due_local.timetz()).astimezone(dt.UTC)
            if moved == ticket.deadline:
                continue
            result.moved.append(Moved(ticket.number, ticket.deadline, moved, days))
            if dry_run:
                continue
            note = (
                f"日历变更，截止时间 {due_local:%Y-%m-%d %H:%M} -> "
                f"{new.local(moved):%Y-%m-%d %H:%M}（自 {new.local(start):%Y-%m-%d %H:%M} 起 "
                f"{days} 个工作日） / calendar changed: deadline moved, {days} working day(s) "
                "from the start"
            )
            session.add(
                TicketEventRow(
                    ticket_id=ticket.id,
                    at=when,
                    actor=ACTOR,
                    action=ACTION,
                    from_state=ticket.state,
                    to_state=ticket.state,
                    note=note,
                )
            )
            ticket.deadline = moved
            if moved > when:
                ticket.overdue = False
                ticket.due_soon = False
    for m in result.moved:
        log.info("ticket %s: deadline %s -> %s (calendar change)", m.number, m.old, m.new)
    return result


def calendar_changed(old: ConfigBundle, new: ConfigBundle) -> bool:
    return old.calendar.day_rules() != new.calendar.day_rules()


class CalendarReload:
    """A :class:`~ivr.runtime.ConfigHolder` listener: a reload that changes the calendar
    recomputes the open tickets' deadlines, in a worker thread when the server's loop runs
    (no call waits on it; the result is logged, the work is in :attr:`pending` meanwhile),
    else at once. A ticket changed by an operator meanwhile makes it start again (up to 3
    times): a recompute is idempotent."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.db = db
        self.clock = clock
        self.pending: set[asyncio.Future[str]] = set()

    def run(self, old: ConfigBundle, new: ConfigBundle) -> str:
        for attempt in range(3):
            try:
                now = self.clock() if self.clock else None
                result = recompute_deadlines(self.db, new.calendar, old=old.calendar, now=now)
                return f"calendar changed: {result.summary()}"
            except StaleDataError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def __call__(self, old: ConfigBundle, new: ConfigBundle) -> list[str]:
        if not calendar_changed(old, new):
            return []
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return [self.run(old, new)]
        future = loop.run_in_executor(None, self.run, old, new)
        self.pending.add(future)
        future.add_done_callback(self._done)
        return ["calendar changed: recomputing the deadlines of open tickets (logged when done)"]

    def _done(self, future: asyncio.Future[str]) -> None:
        self.pending.discard(future)
        if future.cancelled():
            return
        if future.exception() is not None:
            log.error("[HL-CFG-099] deadlines not recomputed: %r", future.exception())
        else:
            log.warning("%s", future.result())


def reload_listener(db: Database, clock: Callable[[], dt.datetime] | None = None) -> CalendarReload:
    """The listener to add to :attr:`ivr.runtime.ConfigHolder.listeners`."""
    return CalendarReload(db, clock)


def install_calendar(holder: ConfigHolder, db: Database, today: dt.date | None = None) -> None:
    """At the server's start: log HL-CFG-096 for a year ahead without holiday data, and
    recompute open tickets' deadlines on every reload that changes the calendar."""
    for warning in calendar_warnings(holder.current, today):
        log.warning("%s", warning)
    holder.listeners.append(reload_listener(db))
