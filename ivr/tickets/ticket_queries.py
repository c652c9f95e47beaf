"""Reading tickets: one ticket, its history and calls, the ticket of a call, lists with
filters, a ticket's state for the voice menu, the supervised tickets, the latest note of an
action (why a department asked for more time or returned a ticket)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from ivr.db.tables import (
    CallRow,
    SupervisionRow,
    TicketCallRow,
    TicketEventRow,
    TicketRow,
)
from ivr.tickets.lifecycle import (
    DONE,
    OPEN,
    STATUS_WORDS,
    State,
)
from ivr.tickets.service_base import TicketServiceBase


class TicketQueries(TicketServiceBase):
    def get(self, number: str) -> TicketRow:
        with self._session() as session:
            return self._load(session, number)

    def number_by_id(self, ticket_id: int) -> str | None:
        """The number of the ticket with database id ``ticket_id`` (e.g. ``merged_into``)."""
        with self._session() as session:
            return session.scalar(select(TicketRow.number).where(TicketRow.id == ticket_id))

    def history(self, number: str) -> list[TicketEventRow]:
        with self._session() as session:
            ticket = self._load(session, number)
            return list(
                session.scalars(
                    select(TicketEventRow)
                    .where(TicketEventRow.ticket_id == ticket.id)
                    .order_by(TicketEventRow.id)
                )
            )

    def calls(self, number: str) -> list[str]:
        with self._session() as session:
            ticket = self._load(session, number)
            return list(
                session.scalars(
                    select(TicketCallRow.call_uniqueid)
                    .where(TicketCallRow.ticket_id == ticket.id)
                    .order_by(TicketCallRow.call_uniqueid)
                )
            )

    def ticket_for_call(self, call_uniqueid: str) -> TicketRow | None:
        with self._session() as session:
            return session.scalar(select(TicketRow).where(TicketRow.call_uniqueid == call_uniqueid))

    def call_record(self, uniqueid: str) -> CallRow | None:
        with self._session() as session:
            return session.scalar(select(CallRow).where(CallRow.uniqueid == uniqueid))

    def list_tickets(
        self,
        *,
        states: list[str] | None = None,
        overdue: bool = False,
        due_soon: bool = False,
        supervised: bool = False,
        department: str | None = None,
        limit: int = 50,
        now: dt.datetime | None = None,
    ) -> tuple[list[TicketRow], int]:
        """Tickets matching every filter given, the nearest deadline first, at most
        ``limit``; and how many match in all. ``overdue`` and ``due_soon`` are computed from
        the deadline at ``now`` (open tickets only), so they hold without a sweep;
        ``supervised`` is the 督办 flag."""
        when = self._now(now)
        t = TicketRow
        conds: list[Any] = []
        if states:
            conds.append(t.state.in_(states))
        open_states = [s.value for s in OPEN]
        if overdue:
            conds += [t.state.in_(open_states), t.deadline < when]
        if due_soon:
            soon = when + dt.timedelta(hours=self.catalogue.due_soon_hours)
            conds += [t.state.in_(open_states), t.deadline >= when, t.deadline < soon]
        if supervised:
            conds.append(t.supervised.is_(True))
        if department is not None:
            conds.append(t.department == department)
        with self._session() as session:
            total = session.scalar(select(func.count()).select_from(t).where(*conds)) or 0
            rows = session.scalars(
                select(t).where(*conds).order_by(t.deadline, t.id).limit(max(limit, 0))
            ).all()
            return list(rows), int(total)

    def review_list(self, view: str, limit: int = 100) -> tuple[list[TicketRow], int]:
        """What a supervisor reviews, oldest deadline first: ``extensions`` (延期 requests
        pending), ``returned`` (退单 waiting for re-dispatch), ``dissatisfied`` (回访 not
        satisfied or not solved: to redo, 重办)."""
        t = TicketRow
        conds: dict[str, list[Any]] = {
            "extensions": [
                t.extension_requested.is_not(None),
                t.state.in_([s.value for s in OPEN]),
            ],
            "returned": [t.state == State.RETURNED.value],
            "dissatisfied": [
                t.state.in_([State.FINISHED.value, State.VISITED.value]),
                (t.satisfaction <= 2) | t.solved.is_(False),
            ],
        }
        where = conds[view]
        with self._session() as session:
            total = session.scalar(select(func.count()).select_from(t).where(*where)) or 0
            rows = session.scalars(
                select(t).where(*where).order_by(t.deadline, t.id).limit(max(limit, 0))
            ).all()
            return list(rows), int(total)

    def latest_notes(self, ticket_ids: list[int], actions: list[str]) -> dict[int, str]:
        """The note of each ticket's latest event among ``actions`` (e.g. the department's
        reason for ``extend_request`` or ``return``), by ticket id; one query for a list."""
        if not ticket_ids:
            return {}
        e = TicketEventRow
        with self._session() as session:
            latest = (
                select(func.max(e.id))
                .where(e.ticket_id.in_(ticket_ids), e.action.in_(actions))
                .group_by(e.ticket_id)
            )
            rows = session.execute(select(e.ticket_id, e.note).where(e.id.in_(latest)))
            return {ticket_id: note or "" for ticket_id, note in rows}

    def status_word(self, number: str, caller: str) -> str | None:
        """The lookup word for ``number`` if it belongs to ``caller`` (else None)."""
        with self._session() as session:
            ticket = session.scalar(select(TicketRow).where(TicketRow.number == number))
            if ticket is None or ticket.caller != caller:
                return None
            if ticket.state == State.MERGED.value and ticket.merged_into is not None:
                target = session.get(TicketRow, ticket.merged_into)
                if target is not None:
                    return STATUS_WORDS[State(target.state)]
            return STATUS_WORDS[State(ticket.state)]

    def supervised(self) -> list[tuple[TicketRow, list[str]]]:
        """Supervised tickets not yet finished, oldest first, with their reasons."""
        with self._session() as session:
            first = (
                select(SupervisionRow.ticket_id, func.min(SupervisionRow.started_at).label("at"))
                .group_by(SupervisionRow.ticket_id)
                .subquery()
            )
            rows = session.scalars(
                select(TicketRow)
                .join(first, first.c.ticket_id == TicketRow.id)
                .where(TicketRow.state.notin_([s.value for s in DONE] + [State.MERGED.value]))
                .order_by(first.c.at, TicketRow.id)
            ).all()
            out = []
            for ticket in rows:
                reasons = list(
                    session.scalars(
                        select(SupervisionRow.reason)
                        .where(SupervisionRow.ticket_id == ticket.id)
                        .order_by(SupervisionRow.id)
                    )
                )
                out.append((ticket, reasons))
            return out
