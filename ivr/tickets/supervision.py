"""Due-soon / overdue flags and 督办 supervision, in SQL.

Two rules start supervision automatically (seed 002: "同一诉求事项办理两次以上（含两次）
仍未解决，或超出办理时限未办理的"):

- ``overdue``: an open ticket is past its deadline;
- ``repeated``: the same caller's requests in the same category have been handled twice or
  more (each dispatched or answered ticket counts once, each 重办 redo once more) and are
  still unresolved. Unresolved tickets are the open ones, and the finished ones whose
  callback found the citizen not satisfied (satisfaction ≤ 2) or the problem not solved.

A supervision is recorded once per ticket and reason (``supervisions`` has a unique key, so
several servers sweeping at once do not duplicate it), flags the ticket ``supervised`` and
writes an audit event by ``system``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, case, exists, false, func, or_, select, true, update
from sqlalchemy.orm import Session

from ivr.db.sqlutil import insert_ignore
from ivr.db.tables import SupervisionRow, TicketEventRow, TicketRow
from ivr.tickets.lifecycle import OPEN, State

OPEN_STATES = [s.value for s in OPEN]
ANONYMOUS = ("", "anonymous", "unknown")


@dataclass
class SweepResult:
    due_soon: int = 0
    overdue: int = 0
    supervised_overdue: int = 0
    supervised_repeated: int = 0


def refresh_flags(session: Session, now: dt.datetime, due_soon_hours: float) -> tuple[int, int]:
    """Set ``due_soon`` and ``overdue`` on open tickets, clear them elsewhere.
    Returns the number of open tickets (due soon, overdue)."""
    t = TicketRow
    is_open = t.state.in_(OPEN_STATES)
    soon = now + dt.timedelta(hours=due_soon_hours)
    session.execute(
        update(t)
        .where(is_open, t.deadline < now, t.overdue == false())
        .values(overdue=True, was_overdue=True, due_soon=False)
    )
    session.execute(
        update(t).where(t.overdue == true(), or_(~is_open, t.deadline >= now)).values(overdue=False)
    )
    session.execute(
        update(t)
        .where(is_open, t.deadline >= now, t.deadline < soon, t.due_soon == false())
        .values(due_soon=True)
    )
    session.execute(
        update(t)
        .where(t.due_soon == true(), or_(~is_open, t.deadline < now, t.deadline >= soon))
        .values(due_soon=False)
    )
    due = session.scalar(select(func.count()).where(is_open, t.due_soon == true())) or 0
    over = session.scalar(select(func.count()).where(is_open, t.overdue == true())) or 0
    return int(due), int(over)


def _start(
    session: Session,
    ids: list[int],
    reason: str,
    now: dt.datetime,
    local_day: Callable[[dt.datetime], dt.date],
    note: str,
) -> list[int]:
    """Record supervision ``reason`` for ``ids`` (once each); returns the ids newly started."""
    started = []
    if not ids:
        return []
    states: dict[int, str] = {
        row.id: row.state
        for row in session.execute(
            select(TicketRow.id, TicketRow.state).where(TicketRow.id.in_(ids))
        )
    }
    for ticket_id in ids:
        row = {
            "ticket_id": ticket_id,
            "reason": reason,
            "started_at": now,
            "day": local_day(now),
            "note": note,
        }
        table = SupervisionRow.__table__
        if insert_ignore(session, table, [row], ["ticket_id", "reason"]) == 1:  # type: ignore[arg-type]
            started.append(ticket_id)
            state = states[ticket_id]
            session.add(
                TicketEventRow(
                    ticket_id=ticket_id,
                    at=now,
                    actor="system",
                    action="supervise",
                    from_state=state,
                    to_state=state,
                    note=note,
                )
            )
    if started:
        session.execute(update(TicketRow).where(TicketRow.id.in_(started)).values(supervised=True))
    return started


def unresolved_clause() -> object:
    t = TicketRow
    return or_(
        t.state.in_(OPEN_STATES),
        and_(
            t.state.in_([State.FINISHED.value, State.VISITED.value]),
            or_(t.solved == false(), t.satisfaction <= 2),
        ),
    )


def supervise_overdue(
    session: Session, now: dt.datetime, local_day: Callable[[dt.datetime], dt.date]
) -> list[int]:
    t, s = TicketRow, SupervisionRow
    already = exists().where(s.ticket_id == t.id, s.reason == "overdue")
    ids = list(
        session.scalars(
            select(t.id).where(t.state.in_(OPEN_STATES), t.deadline < now, ~already).order_by(t.id)
        )
    )
    return _start(session, ids, "overdue", now, local_day, "超出办理时限未办结，自动督办")


def supervise_repeated(
    session: Session,
    now: dt.datetime,
    local_day: Callable[[dt.datetime], dt.date],
    caller: str | None = None,
) -> list[int]:
    t, s = TicketRow, SupervisionRow
    handled = func.sum(
        case((t.state.notin_([State.ACCEPTED.value, State.MERGED.value]), 1), else_=0)
    ) + func.sum(t.redos)
    groups = (
        select(t.caller, t.category)
        .where(t.state != State.MERGED.value, t.caller.notin_(ANONYMOUS))
        .group_by(t.caller, t.category)
        .having(handled >= 2)
    )
    if caller is not None:
        groups = groups.where(t.caller == caller)
    g = groups.subquery()
    already = exists().where(s.ticket_id == t.id, s.reason == "repeated")
    ids = list(
        session.scalars(
            select(t.id)
            .join(g, and_(g.c.caller == t.caller, g.c.category == t.category))
            .where(unresolved_clause(), ~already)  # type: ignore[arg-type]
            .order_by(t.id)
        )
    )
    return _start(
        session, ids, "repeated", now, local_day, "同一诉求办理两次以上仍未解决，自动督办"
    )


def sweep(
    session: Session,
    now: dt.datetime,
    due_soon_hours: float,
    local_day: Callable[[dt.datetime], dt.date],
) -> SweepResult:
    due, over = refresh_flags(session, now, due_soon_hours)
    result = SweepResult(due_soon=due, overdue=over)
    result.supervised_overdue = len(supervise_overdue(session, now, local_day))
    result.supervised_repeated = len(supervise_repeated(session, now, local_day))
    return result
