"""Readable ticket numbers: the local date and a per-day sequence, digits only.

``20200209000123`` is the 123rd ticket accepted on 9 Feb 2020. Digits only, so that a caller
can key it into the self-service lookup. The sequence comes from the ``ticket_counters``
row of the day, incremented inside the ticket's own transaction: PostgreSQL locks the row
and SQLite serializes writers, so several servers sharing one database never hand out the
same number (the unique index on ``tickets.number`` would refuse it anyway).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session

from ivr.tickets.models import TicketCounterRow
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
