"""The ticket number a call carries to its operator (HOTLINE_TICKET): handed out when the
call is put through, kept when it is offered again or resumed elsewhere, and taken by the
ticket the operator accepts for that call. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ivr.db.database import Database
from ivr.records.reserve import DatabaseTicketNumbers, reserve_ticket
from ivr.tickets.service import TicketService

TZ = ZoneInfo("Asia/Shanghai")


def test_a_reserved_number_becomes_the_calls_ticket(service: TicketService) -> None:
    first = service.reserve_number("call-1")
    assert first == "20250926000001"
    assert service.reserve_number("call-1") == first  # offered again: the same number
    other = service.reserve_number("call-2")
    assert other == "20250926000002"
    # a ticket without a call (or for another call) never takes a reserved number
    walk_in = service.accept(caller="13800000003", type="consult", category="dogs",
                             actor="op")  # fmt: skip
    assert walk_in.number == "20250926000003"
    ticket = service.accept(
        caller="13800000001", type="consult", category="dogs", actor="op",
        call_uniqueid="call-1",
    )  # fmt: skip
    assert ticket.number == first
    # once the ticket exists, the call's number is the ticket's
    assert service.reserve_number("call-1") == first
    # a call that got its ticket without a reservation (database away at dial time)
    late = service.accept(
        caller="13800000004", type="consult", category="dogs", actor="op",
        call_uniqueid="call-4",
    )  # fmt: skip
    assert service.reserve_number("call-4") == late.number


async def test_the_async_source_and_a_database_away(db: Database) -> None:
    source = DatabaseTicketNumbers(db)
    number = await source.reserve_ticket("call-9")
    assert number is not None and len(number) == 14
    assert await reserve_ticket(db, TZ, "call-9") == number
    gone = Database("sqlite:////nonexistent-dir/no.db")
    assert (
        await DatabaseTicketNumbers(gone).reserve_ticket("call-10") is None
    )  # logged, call goes on
    gone.close()


def test_numbers_follow_the_local_day(service: TicketService) -> None:
    late = dt.datetime(2025, 9, 26, 23, 59, 30, tzinfo=TZ)
    assert service.reserve_number("n1", now=late).startswith("20250926")
    assert service.reserve_number("n2", now=late + dt.timedelta(minutes=1)) == "20250927000001"
