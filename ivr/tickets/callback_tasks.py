"""The tasks operators call back from: 回访 surveys, missed calls (漏接回拨), voice messages
(留言): listing them and recording an attempt. Finishing a 回访 is the ticket's
``callback`` action (:meth:`ivr.tickets.service.TicketService.complete_callback`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ivr.db.tables import (
    CallbackTaskRow,
)
from ivr.tickets.errors import (
    TicketNotFound,
    TransitionRefused,
)
from ivr.tickets.service_base import TicketServiceBase


class CallbackTasks(TicketServiceBase):
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
