"""What each lifecycle action does to a ticket (``_do_<action>``), called by
:meth:`ivr.tickets.service.TicketService.act` after the state machine allowed it, in the
action's transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ivr.db.sqlutil import insert_ignore
from ivr.db.tables import (
    CallbackTaskRow,
    SupervisionRow,
    TicketCallRow,
    TicketRow,
)
from ivr.tickets.errors import (
    BadTicketInput,
    TransitionRefused,
)
from ivr.tickets.lifecycle import (
    OPEN,
    SATISFACTION,
    State,
)
from ivr.tickets.service_base import TicketServiceBase


class TicketActions(TicketServiceBase):
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
        if self.notices is not None:  # the SMS with the reply, the reply to a platform
            self.notices.finished(s, t, now)

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
