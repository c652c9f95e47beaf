"""并单 candidates: the tickets, of any channel, that are likely the same request as another.

Two tickets are likely duplicates when they were accepted within the catalogue's
``duplicate_days`` of each other and either come from the same number (``caller``) or name
the same address (:func:`ivr.db.addresses.normalise_address`) in the same category. A merged
ticket (并单) is nobody's duplicate any more.

A page of tickets is read in groups close in time; per group, two queries, each on an index,
return light rows (the matches are loaded as tickets at the end):

- the same number: ``caller IN (...)`` on ``ix_tickets_caller_category`` (its first column);
- the same address: ``address_norm IN (...)`` with the category and the window, on
  ``ix_tickets_address_norm`` (``address_norm``, ``category``, ``accepted_at``): the column is
  the address normalised when it is written (:func:`ivr.db.addresses.normalise_address`,
  migration 0011), so the database reads the matching rows only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.db.tables import TicketRow
from ivr.tickets.lifecycle import State
from ivr.tickets.service_base import TicketServiceBase

SAME_CALLER = "same_caller"
SAME_ADDRESS = "same_address"


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class LikelyDuplicate:
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
    ) -> dict[int, list[LikelyDuplicate]]:
        """For each of ``tickets`` (by id), its likely duplicates, oldest first; a ticket
        without any is left out. ``days``: the window (default: the catalogue's)."""
        window = dt.timedelta(days=days or self.catalogue.duplicate_days)
        pairs: dict[int, dict[int, tuple[str, ...]]] = {}
        with self._session() as session:
            for group in _clusters(tickets, window):
                for ticket_id, other_id, reasons in self._pairs(session, group, window):
                    pairs.setdefault(ticket_id, {})[other_id] = reasons
            wanted = {other for found in pairs.values() for other in found}
            rows = {
                r.id: r
                for r in (
                    session.scalars(select(TicketRow).where(TicketRow.id.in_(sorted(wanted))))
                    if wanted
                    else []
                )
            }
        out: dict[int, list[LikelyDuplicate]] = {}
        for ticket_id, found in pairs.items():
            dups = [LikelyDuplicate(rows[i], reasons) for i, reasons in found.items() if i in rows]
            out[ticket_id] = sorted(dups, key=lambda d: (_aware(d.ticket.accepted_at), d.ticket.id))
        return out

    def _pairs(
        self, session: Session, group: Sequence[TicketRow], window: dt.timedelta
    ) -> Iterator[tuple[int, int, tuple[str, ...]]]:
        """(ticket id, duplicate id, reasons) for the tickets of ``group``, close in time:
        the candidates are read as light rows (no ORM objects) and matched by key."""
        times = [_aware(x.accepted_at) for x in group]
        lo, hi = min(times) - window, max(times) + window
        t = TicketRow
        cols = (t.id, t.caller, t.category, t.address_norm, t.accepted_at)
        live = [t.state != State.MERGED.value, t.accepted_at >= lo, t.accepted_at <= hi]
        by_caller: dict[str, list[Any]] = {}
        by_place: dict[tuple[str, str], list[Any]] = {}
        callers = sorted({x.caller for x in group if x.caller})
        placed = [x for x in group if x.address_norm]
        if callers:
            for row in session.execute(select(*cols).where(t.caller.in_(callers), *live)):
                by_caller.setdefault(row.caller, []).append(row)
        if placed:
            query = select(*cols).where(
                t.address_norm.in_(sorted({x.address_norm for x in placed})),
                t.category.in_(sorted({x.category for x in placed})),
                *live,
            )
            for row in session.execute(query):
                key = (row.category, row.address_norm)
                by_place.setdefault(key, []).append(row)
        for x in group:
            at = _aware(x.accepted_at)
            reasons: dict[int, list[str]] = {}
            key = (x.category, x.address_norm)
            for reason, rows in (
                (SAME_CALLER, by_caller.get(x.caller, []) if x.caller else []),
                (SAME_ADDRESS, by_place.get(key, []) if key[1] else []),
            ):
                for row in rows:
                    if row.id != x.id and abs(_aware(row.accepted_at) - at) <= window:
                        reasons.setdefault(row.id, []).append(reason)
            for other_id, why in reasons.items():
                yield x.id, other_id, tuple(why)


def _clusters(tickets: Sequence[TicketRow], window: dt.timedelta) -> list[list[TicketRow]]:
    """The tickets in groups close in time (no two groups' windows overlap), so that a page
    with an old ticket among new ones reads two short stretches, not all between."""
    ordered = sorted(tickets, key=lambda x: _aware(x.accepted_at))
    groups: list[list[TicketRow]] = []
    for x in ordered:
        if groups and _aware(x.accepted_at) - _aware(groups[-1][-1].accepted_at) <= 2 * window:
            groups[-1].append(x)
        else:
            groups.append([x])
    return groups
