"""Ticket operations: accept, the lifecycle actions, callbacks, supervision sweeps.

Every action runs in one transaction: load the ticket, check the action against the state
machine (:mod:`ivr.tickets.lifecycle`), change the ticket, write the audit event. Tickets
carry a version number, so two operators changing the same ticket at once cannot overwrite
each other: the second one gets :class:`~ivr.tickets.errors.ConcurrentUpdate`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ivr.db.sqlutil import insert_ignore
from ivr.db.tables import (
    CallbackTaskRow,
    CallRow,
    TicketCallRow,
    TicketReservationRow,
    TicketRow,
)
from ivr.tickets.callback_tasks import CallbackTasks
from ivr.tickets.duplicates import DuplicateQueries
from ivr.tickets.errors import (
    BadTicketInput,
    ConcurrentUpdate,
)
from ivr.tickets.forwarded import ForwardedItems
from ivr.tickets.inbox import InboxQueries
from ivr.tickets.lifecycle import (
    NEEDS_PENDING_EXTENSION,
    State,
    check,
    check_not_own_extension,
)
from ivr.tickets.numbering import next_number, reserve_number
from ivr.tickets.recalendar import extension_note
from ivr.tickets.service_base import utcnow
from ivr.tickets.supervision import SweepResult, supervise_repeated, sweep
from ivr.tickets.ticket_actions import TicketActions
from ivr.tickets.ticket_queries import TicketQueries

__all__ = ["TicketService", "utcnow"]


class TicketService(
    TicketActions, TicketQueries, CallbackTasks, InboxQueries, DuplicateQueries, ForwardedItems
):
    """The ticket service: accept, the lifecycle actions (:mod:`ivr.tickets.ticket_actions`),
    reading (:mod:`ivr.tickets.ticket_queries`), callback tasks
    (:mod:`ivr.tickets.callback_tasks`), the operators' inbox (:mod:`ivr.tickets.inbox`), the
    likely duplicates (:mod:`ivr.tickets.duplicates`), forwarded items many at a time
    (:mod:`ivr.tickets.forwarded`) and the supervision sweep."""

    # ------------------------------------------------------------------------ accept

    def accept(
        self,
        *,
        caller: str,
        type: str,
        category: str,
        actor: str,
        content: str = "",
        caller_name: str = "",
        address: str = "",
        call_uniqueid: str | None = None,
        dialled: str = "12345",
        confidential: bool = False,
        source: str = "phone",
        external_id: str | None = None,
        received_at: dt.datetime | None = None,
        reserved_number: str | None = None,
        now: dt.datetime | None = None,
    ) -> TicketRow:
        """受理: a new ticket. With ``call_uniqueid``, idempotent: the same call gives the same
        ticket back, however often it is retried; so with ``external_id`` (an item forwarded
        by an upper-level platform, ``source`` one of the catalogue's sources): the same
        source and id give the same ticket back. The ticket takes the number reserved for
        the call: from the database, else ``reserved_number`` (the number Redis handed out,
        whose reservation row may still be on its way through the journaled write path)."""
        if type not in self.catalogue.types:
            raise BadTicketInput(
                f"unknown ticket type {type!r}; known: {', '.join(self.catalogue.types)}"
            )
        if category not in self.catalogue.categories:
            raise BadTicketInput(
                f"unknown category {category!r}: use a path from the catalogue, "
                "e.g. 'housing.property'"
            )
        if source not in self.catalogue.sources:
            raise BadTicketInput(
                f"unknown source {source!r}; known: {', '.join(self.catalogue.sources)}"
            )
        when = self._now(now)
        info = self.catalogue.category(category)
        with self._session() as session:
            if external_id is not None:
                existing = session.scalar(
                    select(TicketRow).where(
                        TicketRow.source == source, TicketRow.external_id == external_id
                    )
                )
                if existing is not None:
                    return existing
            if call_uniqueid is not None:
                existing = session.scalar(
                    select(TicketRow).where(TicketRow.call_uniqueid == call_uniqueid)
                )
                if existing is not None:
                    return existing
            day = self.deadlines.local_day(when)
            reserved = None
            if call_uniqueid is not None:
                # the number the call carried to the operator (HOTLINE_TICKET), if any
                reserved = (
                    session.scalar(
                        select(TicketReservationRow.number).where(
                            TicketReservationRow.call_uniqueid == call_uniqueid
                        )
                    )
                    or reserved_number
                )
            ticket = TicketRow(
                number=reserved or next_number(session, day),
                call_uniqueid=call_uniqueid,
                source=source,
                external_id=external_id,
                received_at=received_at,
                accepted_at=when,
                accepted_day=day,
                accepted_by=actor,
                caller=caller,
                caller_name=caller_name,
                confidential=confidential,
                dialled=dialled,
                type=type,
                category=category,
                category_top=info.top,
                content=content,
                address=address,
                state=State.ACCEPTED.value,
                deadline=self.deadlines.due(when, self.catalogue.deadline_days(type)),
            )
            session.add(ticket)
            session.flush()
            if call_uniqueid is not None:
                session.add(TicketCallRow(ticket_id=ticket.id, call_uniqueid=call_uniqueid))
                score = session.scalar(
                    select(CallRow.survey_score).where(CallRow.uniqueid == call_uniqueid)
                )
                ticket.survey_score = score
            self._event(session, ticket, "accept", actor, None, content[:200], when)
            if self.notices is not None:  # the SMS receipt, in this transaction
                self.notices.accepted(session, ticket, when)
        return ticket

    def reserve_number(self, call_uniqueid: str, now: dt.datetime | None = None) -> str:
        """The ticket number of a call put through to an operator, handed out before the
        operator accepts the ticket (which then takes it). Idempotent: a call offered to a
        second operator, or resumed on another server, keeps its number; a call that
        already has a ticket gets that ticket's number."""
        when = self._now(now)
        with self._session() as session:
            return reserve_number(session, call_uniqueid, self.deadlines.local_day(when), when)

    def link_call(self, number: str, call_uniqueid: str) -> None:
        """Add a call to a ticket (a caller ringing again about the same request)."""
        with self._session() as session:
            ticket = self._load(session, number)
            insert_ignore(
                session,
                TicketCallRow.__table__,  # type: ignore[arg-type]
                [{"ticket_id": ticket.id, "call_uniqueid": call_uniqueid}],
                ["ticket_id", "call_uniqueid"],
            )

    # ------------------------------------------------------------------------ actions

    def act(
        self,
        number: str,
        action: str,
        *,
        actor: str,
        note: str = "",
        now: dt.datetime | None = None,
        **params: Any,
    ) -> TicketRow:
        """Apply ``action`` (see :data:`ivr.tickets.lifecycle.TRANSITIONS`) to a ticket."""
        when = self._now(now)
        try:
            with self._session() as session:
                ticket = self._load(session, number)
                before = ticket.state
                pending = ticket.extension_requested is not None
                target = check(before, action, number, extension_pending=pending)
                if action in NEEDS_PENDING_EXTENSION and pending:
                    requester = self._extension_requester(session, ticket)
                    check_not_own_extension(number, action, actor, requester)
                handler = getattr(self, f"_do_{action}")
                asked = ticket.extension_requested
                target = handler(session, ticket, target, when, note, **params) or target
                if action == "extend_approve" and asked:  # the days, for recalendar
                    note = extension_note(note, asked)
                ticket.state = target.value
                self._event(session, ticket, action, actor, before, note, when)
                if action in ("redo", "callback"):
                    session.flush()
                    supervise_repeated(
                        session, when, self.deadlines.local_day, caller=ticket.caller
                    )
        except StaleDataError:
            raise ConcurrentUpdate(
                f"ticket {number} was changed by someone else at the same time: "
                "look at it again and repeat the action if still needed"
            ) from None
        return ticket

    def complete_callback(
        self,
        task_id: int,
        *,
        result: str,
        actor: str,
        satisfaction: int | None = None,
        solved: bool | None = None,
        now: dt.datetime | None = None,
    ) -> CallbackTaskRow:
        """Finish a callback task. A 回访 (``visit``) task is the ticket's ``callback``
        action with the citizen's satisfaction (1..5, required); a missed-call task is closed
        with ``result`` (no satisfaction)."""
        task = self.get_task(task_id)
        if task.state != "open":
            return self.close_task(task_id, result, now=now)  # refused, with the details
        if task.kind != "visit":
            if satisfaction is not None or solved is not None:
                what = "a voice message (留言)" if task.kind == "message" else "a missed-call "
                what = what if task.kind == "message" else what + "callback (漏接回拨)"
                raise BadTicketInput(
                    f"callback task {task_id} is {what}: no satisfaction or solved here; "
                    "accept a ticket if the citizen has a request"
                )
            return self.close_task(task_id, result, now=now)
        if satisfaction is None:
            raise BadTicketInput(
                f"callback task {task_id} is a 回访 of ticket {task.ref}: give the citizen's "
                "satisfaction 1..5 (5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意); "
                "if the citizen could not be reached: "
                f"hotline callbacks attempt {task_id} --result ..."
            )
        self.act(
            task.ref,
            "callback",
            actor=actor,
            note=result,
            now=now,
            satisfaction=satisfaction,
            solved=solved,
            result=result,
        )
        return self.get_task(task_id)

    # ------------------------------------------------------------------------ sweeps

    def sweep(self, now: dt.datetime | None = None) -> SweepResult:
        """Refresh due-soon / overdue flags and start automatic supervision."""
        when = self._now(now)
        with self._session() as session:
            return sweep(session, when, self.catalogue.due_soon_hours, self.deadlines.local_day)
