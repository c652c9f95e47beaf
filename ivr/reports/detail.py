"""The daily report's list of the day's tickets (工单明细): each ticket accepted that (local)
day with its times, in the order they were accepted.

Only a day report carries it (a city's day is a few hundred tickets; a month is the tables).
The times stay UTC here, as the database has them; the renderers show them in the centre's
zone (:func:`ivr.tickets.display.in_zone`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from ivr.db.tables import CallRow, TicketRow
from ivr.tickets.lifecycle import State


@dataclass(frozen=True)
class TicketLine:
    """One ticket of the list; :func:`ivr.reports.build_report` puts the catalogue's
    and the lifecycle's Chinese names in place of the codes."""

    number: str
    accepted_at: dt.datetime
    call_started_at: dt.datetime | None  # the call it came from, if any
    type: str
    category: str
    department: str | None
    state: str
    deadline: dt.datetime


def day_tickets(session: Session, start: dt.date, end: dt.date) -> list[TicketLine]:
    """Tickets accepted on the local days ``start`` .. ``end`` (exclusive), merged ones left
    out as the counts leave them, with the start of the call each came from."""
    t, c = TicketRow, CallRow
    rows = session.execute(
        select(
            t.number,
            t.accepted_at,
            c.started_at,
            t.type,
            t.category,
            t.department,
            t.state,
            t.deadline,
        )
        .select_from(t)
        .outerjoin(c, c.uniqueid == t.call_uniqueid)
        .where(
            and_(t.accepted_day >= start, t.accepted_day < end),
            t.state != State.MERGED.value,
        )
        .order_by(t.accepted_at, t.number)
    ).all()
    return [TicketLine(*row) for row in rows]
