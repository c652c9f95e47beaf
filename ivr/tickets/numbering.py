"""Readable ticket numbers: the local date and a per-day sequence, digits only.

``20200209000123`` is the 123rd ticket accepted on 9 Feb 2020. Digits only, so that a caller
can key it into the self-service lookup. The sequence comes from the ``ticket_counters``
row of the day, incremented inside the ticket's own transaction: PostgreSQL locks the row
and SQLite serializes writers, so several servers sharing one database never hand out the
same number (the unique index on ``tickets.number`` would refuse it anyway).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr.tickets.models import TicketCounterRow, TicketReservationRow, TicketRow
from ivr.tickets.sqlutil import insert_ignore

SEQUENCE_DIGITS = 6


def format_number(day: dt.date, seq: int) -> str:
    return f"{day:%Y%m%d}{seq:0{SEQUENCE_DIGITS}d}"


def next_number(session: Session, day: dt.date) -> str:
    key = f"{day:%Y%m%d}"
    insert_ignore(session, TicketCounterRow.__table__, [{"day": key, "last": 0}], ["day"])  # type: ignore[arg-type]
    seq = session.execute(
        update(TicketCounterRow)
        .where(TicketCounterRow.day == key)
        .values(last=TicketCounterRow.last + 1)
        .returning(TicketCounterRow.last)
    ).scalar_one()
    return format_number(day, seq)


def reserve_number(session: Session, call_uniqueid: str, day: dt.date, now: dt.datetime) -> str:
    """The number reserved for a call (a new one from the day's sequence the first time);
    the number of its ticket if it already has one."""
    reserved = select(TicketReservationRow.number).where(
        TicketReservationRow.call_uniqueid == call_uniqueid
    )
    found = session.scalar(
        select(TicketRow.number).where(TicketRow.call_uniqueid == call_uniqueid)
    ) or session.scalar(reserved)
    if found is not None:
        return found
    number = next_number(session, day)
    row = {"call_uniqueid": call_uniqueid, "number": number, "reserved_at": now}
    if insert_ignore(session, TicketReservationRow.__table__, [row], ["call_uniqueid"]) == 1:  # type: ignore[arg-type]
        return number
    # two servers reserved for the call at once: the first insert won, its number stands
    return session.scalar(reserved) or number
