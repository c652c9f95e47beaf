"""What every part of the ticket service shares: the database, catalogue, deadlines and
clock; one transaction per action (the database being away is one refusal, nothing
half-written); loading a ticket; writing its audit event; times in messages as a person
reads them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from ivr.config.catalogue import Catalogue
from ivr.db.database import Database
from ivr.db.errors import DatabaseUnavailable
from ivr.db.tables import (
    TicketEventRow,
    TicketRow,
)
from ivr.tickets.deadlines import Deadlines
from ivr.tickets.display import local_time, zone_name
from ivr.tickets.errors import (
    BadTicketInput,
    TicketNotFound,
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TicketNotices(Protocol):
    """What a ticket's change asks to be sent (an SMS, a reply to a platform), written to the
    outbox in the change's own transaction (:class:`ivr.notify.OutboxNotices`; the service
    knows nothing of how it is sent)."""

    def accepted(self, session: Session, ticket: TicketRow, now: dt.datetime) -> None: ...

    def finished(self, session: Session, ticket: TicketRow, now: dt.datetime) -> None: ...


class TicketServiceBase:
    def __init__(
        self,
        db: Database,
        catalogue: Catalogue,
        deadlines: Deadlines,
        clock: Callable[[], dt.datetime] = utcnow,
        notices: TicketNotices | None = None,
    ) -> None:
        self.db = db
        self.catalogue = catalogue
        self.deadlines = deadlines
        self.clock = clock
        self.notices = notices  # None: nothing is sent (tests, the demonstration)

    # ------------------------------------------------------------------------ helpers

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A transaction; the database being away is :class:`DatabaseUnavailable`
        [HL-TKT-001]. The transaction is rolled back whole: nothing is half-written, and the
        action can be repeated once the database is back."""
        try:
            with self.db.session() as session:
                yield session
        except (OperationalError, InterfaceError) as exc:
            raise DatabaseUnavailable(
                f"database {self.db.safe_url} is unavailable ({exc.orig or exc}): nothing was "
                "changed; repeat the action when it is back"
            ) from exc

    def _now(self, now: dt.datetime | None) -> dt.datetime:
        when = now or self.clock()
        if when.tzinfo is None:
            raise ValueError("times must be timezone-aware")
        return when.astimezone(dt.UTC)

    @staticmethod
    def _load(session: Session, number: str) -> TicketRow:
        row = session.scalar(select(TicketRow).where(TicketRow.number == number))
        if row is None:
            raise TicketNotFound(f"no ticket numbered {number!r}: check the number")
        return row

    def _event(
        self,
        session: Session,
        ticket: TicketRow,
        action: str,
        actor: str,
        before: str | None,
        note: str,
        now: dt.datetime,
    ) -> None:
        session.add(
            TicketEventRow(
                ticket_id=ticket.id,
                at=now,
                actor=actor,
                action=action,
                from_state=before,
                to_state=ticket.state,
                note=note,
            )
        )

    def _department(self, department: str | None, category: str) -> str:
        dept = department or self.catalogue.default_department(category)
        if dept is None:
            raise BadTicketInput(
                f"category {category!r} has no default department in the dispatch catalogue: "
                "name the department"
            )
        if dept not in self.catalogue.departments:
            raise BadTicketInput(
                f"unknown department {dept!r}; known: {', '.join(self.catalogue.departments)}"
            )
        return dept

    def _when(self, at: dt.datetime) -> str:
        """A time in a message, as a person reads it: ``2026-12-03 16:19 北京时间``."""
        calendar = self.deadlines.calendar
        return f"{local_time(calendar, at)} {zone_name(calendar)}"

    @staticmethod
    def _extension_requester(session: Session, t: TicketRow) -> str | None:
        """Who asked for the pending extension (the newest ``extend_request`` event)."""
        return session.scalar(
            select(TicketEventRow.actor)
            .where(TicketEventRow.ticket_id == t.id, TicketEventRow.action == "extend_request")
            .order_by(TicketEventRow.id.desc())
            .limit(1)
        )

    def _need(self, value: str, what: str, action: str) -> None:
        if not value.strip():
            raise BadTicketInput(f"{action}: {what} is required")
