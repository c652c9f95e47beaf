"""并单 candidates: the tickets, of any channel, that are likely the same request as another.

Two tickets are likely duplicates when they were accepted within the catalogue's
``duplicate_days`` of each other and either come from the same number (``caller``) or name
the same address (:func:`normalise_address`) in the same category. A merged ticket (并单) is
nobody's duplicate any more.

A page of tickets is read in groups close in time; per group, two queries, each on an index,
return light rows (the matches are loaded as tickets at the end):

- the same number: ``caller IN (...)`` on ``ix_tickets_caller_category`` (its first column);
- the same address: the window's local days on ``ix_tickets_report`` (``accepted_day`` first,
  ``category_top`` in the index), the category, and the address as SQL can say it
  (:func:`sql_address`, :func:`address_pattern`); the rows returned are checked exactly here.
  This still reads every ticket of the categories in the window: a column of normalised
  addresses with an index of its own would read the matching rows only (a migration: not here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from ivr.db.tables import TicketRow
from ivr.tickets.lifecycle import State
from ivr.tickets.service_base import TicketServiceBase

SAME_CALLER = "same_caller"
SAME_ADDRESS = "same_address"


#: the spaces an address loses (ASCII, the ideographic space, no-break space, tab, newlines)
SPACES = " \u3000\u00a0\t\n\r"
# full-width ASCII (U+FF01..U+FF5E) as ASCII, the spaces removed
_FOLD: dict[int, int | None] = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_FOLD.update({ord(c): None for c in SPACES})
_FULL_DIGITS = "０１２３４５６７８９"


def normalise_address(text: str) -> str:
    """An address as compared: full-width letters, digits and signs as ASCII (全角
    ``１２号`` is ``12号``), without :data:`SPACES`, ASCII letters in lower case; every
    other character as it is."""
    return "".join(c.lower() if c.isascii() else c for c in text.translate(_FOLD))


def sql_address(column: Any) -> Any:
    """The address in SQL as far as both databases can say it cheaply: no :data:`SPACES`,
    full-width digits as ASCII (letters and signs are left: see :func:`address_pattern`)."""
    for space in SPACES:
        column = func.replace(column, space, "")
    for i, digit in enumerate(_FULL_DIGITS):
        column = func.replace(column, digit, str(i))
    return column


def address_pattern(normalised: str) -> str:
    """What :func:`sql_address` of every address normalising to ``normalised`` is LIKE: its
    Chinese and its digits as they are, one ``_`` for each ASCII letter or sign (written
    either width or case). Without an ``_`` it is the exact value (an ``IN``)."""
    return "".join(c if not c.isascii() or c.isdigit() else "_" for c in normalised)


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
        cols = (t.id, t.caller, t.category, t.address, t.accepted_at)
        live = [t.state != State.MERGED.value, t.accepted_at >= lo, t.accepted_at <= hi]
        by_caller: dict[str, list[Any]] = {}
        by_place: dict[tuple[str, str], list[Any]] = {}
        callers = sorted({x.caller for x in group if x.caller})
        placed = [x for x in group if normalise_address(x.address)]
        if callers:
            for row in session.execute(select(*cols).where(t.caller.in_(callers), *live)):
                by_caller.setdefault(row.caller, []).append(row)
        if placed:
            query = select(*cols).where(
                t.accepted_day >= self.deadlines.local_day(lo),
                t.accepted_day <= self.deadlines.local_day(hi),
                t.category_top.in_(sorted({x.category_top for x in placed})),  # stored
                t.category.in_(sorted({x.category for x in placed})),
                t.address != "",
                _places(placed),
                *live,
            )
            for row in session.execute(query):
                key = (row.category, normalise_address(row.address))
                by_place.setdefault(key, []).append(row)
        for x in group:
            at = _aware(x.accepted_at)
            reasons: dict[int, list[str]] = {}
            key = (x.category, normalise_address(x.address))
            for reason, rows in (
                (SAME_CALLER, by_caller.get(x.caller, []) if x.caller else []),
                (SAME_ADDRESS, by_place.get(key, []) if key[1] else []),
            ):
                for row in rows:
                    if row.id != x.id and abs(_aware(row.accepted_at) - at) <= window:
                        reasons.setdefault(row.id, []).append(reason)
            for other_id, why in reasons.items():
                yield x.id, other_id, tuple(why)


def _places(placed: Sequence[TicketRow]) -> ColumnElement[bool]:
    """The addresses that may normalise to one of the group's (in their categories, checked
    afterwards): the database leaves out the rest, the address said once per row."""
    patterns = {address_pattern(normalise_address(x.address)) for x in placed}
    exact = sorted(p for p in patterns if "_" not in p)
    loose = sorted(p for p in patterns if "_" in p)
    said = sql_address(TicketRow.address)
    return or_(*([said.in_(exact)] if exact else []), *(said.like(p) for p in loose))


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
