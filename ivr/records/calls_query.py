"""Reading call records for ``hotline calls``: filters (number, time range, outcome, line)
and, for each call, its ticket(s) and the ticket number reserved for it
(``ticket_reservations``). Read only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ivr.db.tables import CallRow, TicketCallRow, TicketReservationRow, TicketRow


@dataclass(frozen=True)
class CallFilter:
    number: str | None = None  # the caller's number (a part of it) or the dialled number
    since: dt.datetime | None = None  # aware
    until: dt.datetime | None = None  # aware, exclusive
    outcome: str | None = None
    line: str | None = None  # a legacy line's number or (part of its) name, or 12345
    limit: int = 50


@dataclass
class CallTickets:
    reserved: str | None = None  # the number handed out with the call
    tickets: list[tuple[str, str]] = field(default_factory=list)  # (number, state)


def _where(f: CallFilter) -> list[object]:
    c = CallRow
    out: list[object] = []
    if f.number:
        out.append(or_(c.caller.contains(f.number, autoescape=True), c.dialled == f.number))
    if f.since is not None:
        out.append(c.started_at >= f.since)
    if f.until is not None:
        out.append(c.started_at < f.until)
    if f.outcome:
        out.append(c.outcome == f.outcome)
    if f.line:
        out.append(
            or_(
                c.line_number == f.line,
                c.line_name.contains(f.line, autoescape=True),
                (c.line_number.is_(None)) & (c.dialled == f.line),
            )
        )
    return out


def find_calls(session: Session, f: CallFilter) -> tuple[list[CallRow], int]:
    """The calls matching ``f``, newest first (at most ``f.limit``), and how many match."""
    where = _where(f)
    total = session.scalar(select(func.count()).select_from(CallRow).where(*where)) or 0  # type: ignore[arg-type]
    rows = session.scalars(
        select(CallRow)
        .where(*where)  # type: ignore[arg-type]
        .order_by(CallRow.started_at.desc(), CallRow.id.desc())
        .limit(f.limit)
    ).all()
    return list(rows), int(total)


def call_by_id(session: Session, uniqueid: str) -> CallRow | None:
    return session.scalar(select(CallRow).where(CallRow.uniqueid == uniqueid))


def tickets_of(session: Session, uniqueids: list[str]) -> dict[str, CallTickets]:
    """For each call: the reserved ticket number and the tickets it belongs to (the one
    accepted from it, and those it was linked or merged into)."""
    out = {u: CallTickets() for u in uniqueids}
    if not uniqueids:
        return out
    r = TicketReservationRow
    for uniqueid, number in session.execute(
        select(r.call_uniqueid, r.number).where(r.call_uniqueid.in_(uniqueids))
    ):
        out[uniqueid].reserved = number
    t, tc = TicketRow, TicketCallRow
    linked = select(tc.call_uniqueid.label("u"), tc.ticket_id.label("id")).where(
        tc.call_uniqueid.in_(uniqueids)
    )
    own = select(t.call_uniqueid.label("u"), t.id.label("id")).where(t.call_uniqueid.in_(uniqueids))
    both = linked.union(own).subquery()
    rows = session.execute(
        select(both.c.u, t.number, t.state).join(t, t.id == both.c.id).order_by(t.number)
    )
    for uniqueid, number, state in rows:
        out[uniqueid].tickets.append((number, state))
    return out
