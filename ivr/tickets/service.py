"""Ticket operations: accept, the lifecycle actions, callbacks, supervision sweeps.

Every action runs in one transaction: load the ticket, check the action against the state
machine (:mod:`ivr.tickets.lifecycle`), change the ticket, write the audit event. Tickets
carry a version number, so two operators changing the same ticket at once cannot overwrite
each other: the second one gets :class:`~ivr.tickets.errors.ConcurrentUpdate`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ivr.db.database import Database
from ivr.db.errors import DatabaseUnavailable
from ivr.db.models import (
    CallbackTaskRow,
    CallRow,
    SupervisionRow,
    TicketCallRow,
    TicketEventRow,
    TicketReservationRow,
    TicketRow,
)
from ivr.db.sqlutil import insert_ignore
from ivr.tickets.catalogue import Catalogue
from ivr.tickets.deadlines import Deadlines
from ivr.tickets.display import local_time, zone_name
from ivr.tickets.errors import (
    BadTicketInput,
    ConcurrentUpdate,
    TicketNotFound,
    TransitionRefused,
)
from ivr.tickets.lifecycle import (
    DONE,
    NEEDS_PENDING_EXTENSION,
    OPEN,
    STATUS_WORDS,
    State,
    check,
    check_not_own_extension,
)
from ivr.tickets.numbering import next_number, reserve_number
from ivr.tickets.recalendar import extension_note
from ivr.tickets.supervision import SweepResult, supervise_repeated, sweep

SATISFACTION = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TicketService:
    def __init__(
        self,
        db: Database,
        catalogue: Catalogue,
        deadlines: Deadlines,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.catalogue = catalogue
        self.deadlines = deadlines
        self.clock = clock

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
        now: dt.datetime | None = None,
    ) -> TicketRow:
        """受理: a new ticket. With ``call_uniqueid``, idempotent: the same call gives the same
        ticket back, however often it is retried."""
        if type not in self.catalogue.types:
            raise BadTicketInput(
                f"unknown ticket type {type!r}; known: {', '.join(self.catalogue.types)}"
            )
        if category not in self.catalogue.categories:
            raise BadTicketInput(
                f"unknown category {category!r}: use a path from the catalogue, "
                "e.g. 'housing.property'"
            )
        when = self._now(now)
        info = self.catalogue.category(category)
        with self._session() as session:
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
                reserved = session.scalar(
                    select(TicketReservationRow.number).where(
                        TicketReservationRow.call_uniqueid == call_uniqueid
                    )
                )
            ticket = TicketRow(
                number=reserved or next_number(session, day),
                call_uniqueid=call_uniqueid,
                source=source,
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

    def _do_answer(
        self, s: Session, t: TicketRow, target: State, now: dt.datetime, note: str, reply: str = ""
    ) -> None:
        self._need(reply, "the reply given to the citizen", "answer")
        self._finish(s, t, now, reply)

    def _finish(self, s: Session, t: TicketRow, now: dt.datetime, reply: str) -> None:
        t.reply = reply
        t.finished_at = now
        if now > t.deadline:
            t.was_overdue = True
        t.overdue = t.due_soon = False
        t.extension_requested = None
        insert_ignore(
            s,
            CallbackTaskRow.__table__,  # type: ignore[arg-type]
            [
                {
                    "kind": "visit",
                    "ref": t.number,
                    "ticket_id": t.id,
                    "call_uniqueid": t.call_uniqueid,
                    "caller": t.caller,
                    "created_at": now,
                    "state": "open",
                    "attempts": 0,
                    "result": "",
                }
            ],
            ["kind", "ref"],
        )

    def _do_dispatch(
        self,
        s: Session,
        t: TicketRow,
        target: State,
        now: dt.datetime,
        note: str,
        department: str | None = None,
    ) -> None:
        t.department = self._department(department, t.category)

    def _do_sign(
        self, s: Session, t: TicketRow, target: State, now: dt.datetime, note: str
    ) -> None:
        pass

    def _do_handle(
        self, s: Session, t: TicketRow, target: State, now: dt.datetime, note: str
    ) -> None:
        pass

    def _do_finish(
        self, s: Session, t: TicketRow, target: State, now: dt.datetime, note: str, reply: str = ""
    ) -> None:
        self._need(reply, "the department's reply", "finish")
        self._finish(s, t, now, reply)

    def _do_return(
        self, s: Session, t: TicketRow, target: State, now: dt.datetime, note: str
    ) -> None:
        self._need(note, "the reason for returning (note)", "return")
        t.returns += 1
        t.extension_requested = None

    def _do_redispatch(
        self,
        s: Session,
        t: TicketRow,
        target: State,
        now: dt.datetime,
        note: str,
        department: str | None = None,
    ) -> None:
        if department is None:
            raise BadTicketInput("redispatch: name the department to send the ticket to")
        t.department = self._department(department, t.category)

    def _do_extend_request(
        self,
        s: Session,
        t: TicketRow,
        target: State,
        now: dt.datetime,
        note: str,
        days: int = 0,
    ) -> None:
        if days < 1:
            raise BadTicketInput("extend_request: ask for 1 or more working days")
        self._need(note, "the reason for the extension (note)", "extend_request")
        if now >= t.deadline:
            raise TransitionRefused(
                f"ticket {t.number}: an extension must be asked before the deadline "
                f"({self._when(t.deadline)}); "
                "the ticket is already overdue"
            )
        if t.extension_requested is not None:
            raise TransitionRefused(f"ticket {t.number}: an extension request is already pending")
        t.extension_requested = days

    def _do_extend_approve(
        self, s: Session, t: TicketRow, target: State, now: dt.datetime, note: str
    ) -> None:
        if t.extension_requested is None:
            raise TransitionRefused(f"ticket {t.number}: no extension request to approve")
        t.deadline = self.deadlines.due(t.deadline, t.extension_requested)
        t.extension_requested = None
        t.extensions += 1
        if t.deadline > now:
            t.overdue = False

    def _do_extend_reject(
        self, s: Session, t: TicketRow, target: State, now: dt.datetime, note: str
    ) -> None:
        if t.extension_requested is None:
            raise TransitionRefused(f"ticket {t.number}: no extension request to reject")
        t.extension_requested = None

    def _do_remind(
        self, s: Session, t: TicketRow, target: State, now: dt.datetime, note: str
    ) -> None:
        t.reminders += 1

    def _do_supervise(
        self, s: Session, t: TicketRow, target: State, now: dt.datetime, note: str
    ) -> None:
        insert_ignore(
            s,
            SupervisionRow.__table__,  # type: ignore[arg-type]
            [
                {
                    "ticket_id": t.id,
                    "reason": "manual",
                    "started_at": now,
                    "day": self.deadlines.local_day(now),
                    "note": note,
                }
            ],
            ["ticket_id", "reason"],
        )
        t.supervised = True

    def _do_callback(
        self,
        s: Session,
        t: TicketRow,
        target: State,
        now: dt.datetime,
        note: str,
        satisfaction: int | None = None,
        solved: bool | None = None,
        result: str = "",
    ) -> None:
        if satisfaction is not None and satisfaction not in SATISFACTION:
            raise BadTicketInput(
                "callback: satisfaction is 1..5 (5 非常满意, 4 满意, 3 基本满意, "
                "2 不满意, 1 非常不满意), or none when the citizen could not be reached"
            )
        t.satisfaction = satisfaction
        t.solved = solved
        task = s.scalar(
            select(CallbackTaskRow).where(
                CallbackTaskRow.kind == "visit", CallbackTaskRow.ref == t.number
            )
        )
        if task is not None:
            task.state = "done"
            task.done_at = now
            task.attempts += 1
            level = SATISFACTION.get(satisfaction or 0, "未接通")
            task.result = f"{level}: {result}" if result.strip() else level

    def _do_redo(
        self, s: Session, t: TicketRow, target: State, now: dt.datetime, note: str
    ) -> State:
        unhappy = t.satisfaction is not None and t.satisfaction <= 2
        if not (unhappy or t.solved is False):
            raise TransitionRefused(
                f"ticket {t.number}: 重办 redo needs a callback where the citizen was not "
                "satisfied (satisfaction 1 or 2) or the problem was not solved"
            )
        t.redos += 1
        t.finished_at = None
        t.satisfaction = None
        t.solved = None
        t.deadline = self.deadlines.due(now, self.catalogue.deadline_days(t.type))
        t.overdue = t.due_soon = False
        s.execute(  # a new visit after the redo
            delete(CallbackTaskRow).where(
                CallbackTaskRow.kind == "visit", CallbackTaskRow.ref == t.number
            )
        )
        return State.DISPATCHED if t.department else State.ACCEPTED

    def _do_archive(
        self, s: Session, t: TicketRow, target: State, now: dt.datetime, note: str
    ) -> None:
        pass

    def _do_merge(
        self,
        s: Session,
        t: TicketRow,
        target: State,
        now: dt.datetime,
        note: str,
        into: str = "",
    ) -> None:
        other = self._load(s, into)
        if other.id == t.id:
            raise BadTicketInput(f"merge: ticket {t.number} cannot be merged into itself")
        if State(other.state) not in OPEN:
            raise TransitionRefused(
                f"merge: ticket {into} is {other.state}; merge into an open ticket"
            )
        t.merged_into = other.id
        t.overdue = t.due_soon = False
        for link in s.scalars(select(TicketCallRow).where(TicketCallRow.ticket_id == t.id)):
            insert_ignore(
                s,
                TicketCallRow.__table__,  # type: ignore[arg-type]
                [{"ticket_id": other.id, "call_uniqueid": link.call_uniqueid}],
                ["ticket_id", "call_uniqueid"],
            )

    # ------------------------------------------------------------------------ reading

    def get(self, number: str) -> TicketRow:
        with self._session() as session:
            return self._load(session, number)

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

    def callback_tasks(self, kind: str | None = None, state: str = "open") -> list[CallbackTaskRow]:
        with self._session() as session:
            q = select(CallbackTaskRow).where(CallbackTaskRow.state == state)
            if kind is not None:
                q = q.where(CallbackTaskRow.kind == kind)
            return list(session.scalars(q.order_by(CallbackTaskRow.id)))

    @staticmethod
    def _task(session: Session, task_id: int) -> CallbackTaskRow:
        task = session.get(CallbackTaskRow, task_id)
        if task is None:
            raise TicketNotFound(
                f"no callback task {task_id}: see `hotline callbacks list` for the open ones"
            )
        return task

    def list_callback_tasks(
        self, *, kind: str | None = None, open_only: bool = False, limit: int = 50
    ) -> tuple[list[CallbackTaskRow], int]:
        """Callback tasks, oldest first (at most ``limit``), and how many match in all."""
        c = CallbackTaskRow
        conds: list[Any] = []
        if kind is not None:
            conds.append(c.kind == kind)
        if open_only:
            conds.append(c.state == "open")
        with self._session() as session:
            total = session.scalar(select(func.count()).select_from(c).where(*conds)) or 0
            rows = session.scalars(
                select(c).where(*conds).order_by(c.created_at, c.id).limit(max(limit, 0))
            ).all()
            return list(rows), int(total)

    def get_task(self, task_id: int) -> CallbackTaskRow:
        with self._session() as session:
            return self._task(session, task_id)

    def close_task(
        self, task_id: int, result: str, *, done: bool = True, now: dt.datetime | None = None
    ) -> CallbackTaskRow:
        """Record a call-back attempt on an open task: ``done`` closes it, otherwise it stays
        open for another attempt. A closed task is refused (HL-TKT-002)."""
        when = self._now(now)
        with self._session() as session:
            task = self._task(session, task_id)
            if task.state != "open":
                raise TransitionRefused(
                    f"callback task {task_id} is {task.state} already "
                    f"({self._when(task.done_at)}: "
                    f"{task.result or '-'})"
                    if task.done_at
                    else f"callback task {task_id} is {task.state} already"
                )
            task.attempts += 1
            task.result = result
            if done:
                task.state = "done"
                task.done_at = when
            return task

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
