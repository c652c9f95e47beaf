"""Items forwarded by upper-level platforms accepted many at a time (``hotline import``, the
import API: ``ivr/intake/``).

Each item is what :meth:`~ivr.tickets.service.TicketService.accept` then ``act("dispatch")``
make of it, the desk's way, but a whole chunk of items goes in one transaction instead of two
per ticket: the same row, deadline and ``accept`` event, the outbox's notice, then the
dispatch (派单) to the item's department or the catalogue's dispatch map's, with its
``dispatch`` event; an item whose category has neither stays accepted for an operator. An
item already taken (the same source and external id) is given back as it is.

Two imports of one item at the same moment: the database's unique (source, external_id)
refuses this transaction's insert (:class:`sqlalchemy.exc.IntegrityError`) and nothing of the
chunk is written; the caller then takes its items one by one, each reading the other's
ticket back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from ivr.db.tables import TicketRow
from ivr.tickets.errors import BadTicketInput
from ivr.tickets.lifecycle import State, check
from ivr.tickets.numbering import next_numbers
from ivr.tickets.service_base import TicketServiceBase


@dataclass(frozen=True)
class Forwarded:
    """One item, its type, category and department already the catalogue's codes."""

    source: str
    external_id: str
    received_at: dt.datetime
    caller: str
    content: str
    type: str
    category: str
    caller_name: str = ""
    address: str = ""
    confidential: bool = False
    department: str | None = None  # the item's hint; None: the dispatch map's


class ForwardedItems(TicketServiceBase):
    def accept_forwarded(
        self,
        items: Sequence[Forwarded],
        *,
        actor: str,
        note: str = "",
        now: dt.datetime | None = None,
    ) -> list[tuple[TicketRow, bool]]:
        """Accept and dispatch ``items`` in one transaction: each one's ticket, and whether
        this call created it (False: it was taken before, or earlier in ``items``)."""
        cat = self.catalogue
        for it in items:
            if it.type not in cat.types or it.category not in cat.categories:
                raise BadTicketInput(f"unknown type {it.type!r} or category {it.category!r}")
            if it.source not in cat.sources or (
                it.department is not None and it.department not in cat.departments
            ):
                raise BadTicketInput(f"unknown source {it.source!r} or department")
        when = self._now(now)
        day = self.deadlines.local_day(when)
        due: dict[str, dt.datetime] = {}
        out: list[tuple[TicketRow, bool]] = []
        with self._session() as session:
            found: dict[tuple[str, str], TicketRow] = {}
            for source in {it.source for it in items}:
                ids = [it.external_id for it in items if it.source == source]
                rows = session.scalars(
                    select(TicketRow).where(
                        TicketRow.source == source, TicketRow.external_id.in_(ids)
                    )
                )
                found.update(((source, str(t.external_id)), t) for t in rows)
            new: list[tuple[Forwarded, TicketRow]] = []
            created: dict[tuple[str, str], TicketRow] = {}
            for it in items:
                key = (it.source, it.external_id)
                if key in found or key in created:
                    continue
                if it.type not in due:
                    due[it.type] = self.deadlines.due(when, cat.deadline_days(it.type))
                ticket = TicketRow(
                    number="", call_uniqueid=None, source=it.source,
                    external_id=it.external_id, received_at=it.received_at, accepted_at=when,
                    accepted_day=day, accepted_by=actor, caller=it.caller,
                    caller_name=it.caller_name, confidential=it.confidential, dialled="",
                    type=it.type, category=it.category,
                    category_top=cat.category(it.category).top, content=it.content,
                    address=it.address, state=State.ACCEPTED.value, deadline=due[it.type],
                )  # fmt: skip
                new.append((it, ticket))
                created[key] = ticket
            numbers = next_numbers(session, day, len(new)) if new else []
            for (_, ticket), number in zip(new, numbers, strict=True):
                ticket.number = number
            session.add_all([ticket for _, ticket in new])
            session.flush()  # one INSERT round for the chunk; the ids for the events
            for it, ticket in new:
                self._event(session, ticket, "accept", actor, None, it.content[:200], when)
                if self.notices is not None:
                    self.notices.accepted(session, ticket, when)
                department = it.department or cat.default_department(it.category)
                if department is not None:
                    ticket.state = check(ticket.state, "dispatch", ticket.number).value
                    ticket.department = department
                    self._event(
                        session, ticket, "dispatch", actor, State.ACCEPTED.value, note, when
                    )
            seen: set[tuple[str, str]] = set()
            for it in items:
                key = (it.source, it.external_id)
                if key in found:
                    out.append((found[key], False))
                else:
                    out.append((created[key], key not in seen))
                    seen.add(key)
        return out
