"""Readable ticket numbers: the local date and a per-day sequence, digits only.

``20200209000123`` is the 123rd ticket accepted on 9 Feb 2020. Digits only, so that a caller
can key it into the self-service lookup. The sequence comes from the ``ticket_counters``
row of the day, incremented inside the ticket's own transaction: PostgreSQL locks the row
and SQLite serializes writers, so several servers sharing one database never hand out the
same number (the unique index on ``tickets.number`` would refuse it anyway).

Numbers handed out with calls come from Redis (:mod:`ivr.records.ticketno`), which takes them
in *blocks* claimed here (:func:`claim_block`): a claim moves the day's counter past the
block, so the database's own sequence (tickets accepted without a reserved number) and every
later claim (another Redis, or the same one after it forgot everything) start behind it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ivr.db.sqlutil import insert_ignore
from ivr.db.tables import TicketCounterRow, TicketReservationRow, TicketRow

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


def next_numbers(session: Session, day: dt.date, count: int) -> list[str]:
    """``count`` numbers of the day's sequence at once, in order (a batch of forwarded items,
    :mod:`ivr.tickets.forwarded`): one step of the counter instead of one per ticket."""
    key = f"{day:%Y%m%d}"
    insert_ignore(session, TicketCounterRow.__table__, [{"day": key, "last": 0}], ["day"])  # type: ignore[arg-type]
    last = session.execute(
        update(TicketCounterRow)
        .where(TicketCounterRow.day == key)
        .values(last=TicketCounterRow.last + count)
        .returning(TicketCounterRow.last)
    ).scalar_one()
    return [format_number(day, seq) for seq in range(last - count + 1, last + 1)]


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


def _highest(session: Session, column: Any, key: str) -> int:
    """The highest sequence number of day ``key`` in a number column (0 if none)."""
    top = session.scalar(select(func.max(column)).where(column >= key, column < key + ":"))
    try:
        return int(str(top)[len(key) :]) if top else 0
    except ValueError:
        return 0


def claim_block(session: Session, day: dt.date, size: int) -> tuple[int, int]:
    """Claim the next ``size`` sequence numbers of ``day`` for a number source outside the
    database: returns ``(seed, limit)``, the numbers ``seed + 1 .. limit`` are the caller's.
    The seed is the highest number the day has anywhere (its counter, its tickets, its
    reservations), so nothing handed out before is handed out again."""
    key = f"{day:%Y%m%d}"
    counter = TicketCounterRow
    insert_ignore(session, counter.__table__, [{"day": key, "last": 0}], ["day"])  # type: ignore[arg-type]
    last = session.execute(  # locks the day's counter until commit
        update(counter).where(counter.day == key).values(last=counter.last).returning(counter.last)
    ).scalar_one()
    seed = max(
        last,
        _highest(session, TicketRow.number, key),
        _highest(session, TicketReservationRow.number, key),
    )
    session.execute(update(counter).where(counter.day == key).values(last=seed + size))
    return seed, seed + size
