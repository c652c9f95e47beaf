"""并单 candidates: the tickets, of any channel, that are likely the same request as another.

Two tickets are likely duplicates when they were accepted within the catalogue's
``duplicate_days`` of each other and either come from the same number (``caller``) or name
the same address (normalised: full-width letters and digits as ASCII, no whitespace, case
folded) in the same category. A merged ticket (并单) is nobody's duplicate any more.

Two queries answer for a whole page of tickets at once, each on an index:

- the same number: ``caller IN (...)`` on ``ix_tickets_caller_category`` (its first column);
- the same address: the window's local days on ``ix_tickets_report`` (``accepted_day`` first,
  ``category_top`` filtered in the index), then the category; the addresses are compared here,
  normalised (SQL has no portable full-width folding). A column of normalised addresses with
  an index of its own would take this to the rows that match only (a migration: not here).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from ivr.db.tables import TicketRow
from ivr.tickets.lifecycle import State
from ivr.tickets.service_base import TicketServiceBase

SAME_CALLER = "same_caller"
SAME_ADDRESS = "same_address"


def normalise_address(text: str) -> str:
    """An address as compared: NFKC (全角 ``１２号`` is ``12号``), no whitespace (the
    ideographic space too), case folded."""
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Duplicate:
    """A likely duplicate of a ticket, and why (``same_caller``, ``same_address``)."""

    ticket: TicketRow
    reasons: tuple[str, ...]


def older(a: TicketRow, b: TicketRow) -> tuple[TicketRow, TicketRow]:
    """The pair as (older, newer): a duplicate is merged into the older one."""
    key_a, key_b = (_aware(a.accepted_at), a.id), (_aware(b.accepted_at), b.id)
    return (a, b) if key_a <= key_b else (b, a)


class DuplicateQueries(TicketServiceBase):
    def duplicates(
        self, tickets: Sequence[TicketRow], days: int | None = None
    ) -> dict[int, list[Duplicate]]:
        """For each of ``tickets`` (by id), its likely duplicates, oldest first; a ticket
        without any is left out. ``days``: the window (default: the catalogue's)."""
        if not tickets:
            return {}
        window = dt.timedelta(days=days or self.catalogue.duplicate_days)
        times = [_aware(t.accepted_at) for t in tickets]
        lo, hi = min(times) - window, max(times) + window
        t = TicketRow
        live = [t.state != State.MERGED.value, t.accepted_at >= lo, t.accepted_at <= hi]
        callers = sorted({x.caller for x in tickets if x.caller})
        categories = sorted({x.category for x in tickets if normalise_address(x.address)})
        found: dict[int, TicketRow] = {}
        with self._session() as session:
            if callers:
                for row in session.scalars(select(t).where(t.caller.in_(callers), *live)):
                    found[row.id] = row
            if categories:
                tops = sorted({self.catalogue.category(c).top for c in categories})
                days_lo, days_hi = self.deadlines.local_day(lo), self.deadlines.local_day(hi)
                query = select(t).where(
                    t.accepted_day >= days_lo,
                    t.accepted_day <= days_hi,
                    t.category_top.in_(tops),
                    t.category.in_(categories),
                    t.address != "",
                    *live,
                )
                for row in session.scalars(query):
                    found[row.id] = row
        out: dict[int, list[Duplicate]] = {}
        for ticket in tickets:
            dups = [
                Duplicate(other, reasons)
                for other in found.values()
                if other.id != ticket.id
                and abs(_aware(other.accepted_at) - _aware(ticket.accepted_at)) <= window
                and (reasons := _why(ticket, other))
            ]
            if dups:
                out[ticket.id] = sorted(
                    dups, key=lambda d: (_aware(d.ticket.accepted_at), d.ticket.id)
                )
        return out


def _why(a: TicketRow, b: TicketRow) -> tuple[str, ...]:
    reasons = []
    if a.caller and a.caller == b.caller:
        reasons.append(SAME_CALLER)
    where = normalise_address(a.address)
    if where and a.category == b.category and where == normalise_address(b.address):
        reasons.append(SAME_ADDRESS)
    return tuple(reasons)
