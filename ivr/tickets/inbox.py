"""The operators' inbox (待办受理): the tickets still just accepted (受理) - the citizens'
web requests, the items forwarded by upper-level platforms, and any other accepted ticket
left without action - the nearest deadline first, by channel (``source``) if asked.

One query on ``ix_tickets_state_deadline`` (``state = 'accepted'`` in deadline order), one
count of the waiting tickets per channel on the same index."""

from __future__ import annotations

from sqlalchemy import func, select

from ivr.db.tables import TicketRow
from ivr.tickets.lifecycle import State
from ivr.tickets.service_base import TicketServiceBase


class InboxQueries(TicketServiceBase):
    def inbox(
        self, source: str | None = None, limit: int = 50
    ) -> tuple[list[TicketRow], dict[str, int]]:
        """The accepted tickets (of ``source`` only, if given), nearest deadline first, at
        most ``limit``; and how many wait per channel (every channel, whatever ``source``)."""
        t = TicketRow
        waiting = t.state == State.ACCEPTED.value
        conds = [waiting] if source is None else [waiting, t.source == source]
        with self._session() as session:
            counts = {
                src: int(n)
                for src, n in session.execute(
                    select(t.source, func.count()).where(waiting).group_by(t.source)
                )
            }
            rows = session.scalars(
                select(t).where(*conds).order_by(t.deadline, t.id).limit(max(limit, 0))
            ).all()
            return list(rows), counts
