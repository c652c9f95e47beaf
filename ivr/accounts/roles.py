"""A user's role and binding changed (an operator's agent, a department user's department,
the name shown): checked as a new user is, the agent bound to one enabled operator only, the
user's sessions ended (the next request logs in again with the new role), audited with the
before and after. A base of :class:`~ivr.accounts.accounts.Accounts`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import delete
from sqlalchemy.orm import Session

from ivr.accounts.audit import write_audit
from ivr.accounts.errors import AccountInvalid
from ivr.accounts.identity import User, user_of
from ivr.accounts.rules import check_new_user
from ivr.db.database import Database
from ivr.db.tables import UserRow, UserSessionRow


class RoleAdmin:
    db: Database
    _now: Callable[[], dt.datetime]
    _find: Callable[[Session, str], UserRow]
    _agent_taken: Callable[..., str | None]

    def set_role(
        self,
        username: str,
        role: str,
        *,
        agent_id: str | None = None,
        department: str | None = None,
        display_name: str | None = None,
        actor: str,
    ) -> User:
        agent_id = (agent_id or "").strip() or None
        department = (department or "").strip() or None
        now = self._now()
        with self.db.session() as s:
            row = self._find(s, username)
            name = row.display_name if display_name is None else display_name
            check_new_user(row.username, role, agent_id, department, name)
            taken = agent_id is not None and not row.disabled
            if taken and (other := self._agent_taken(s, agent_id or "", but=row.id)):
                raise AccountInvalid(f"agent {agent_id} is already bound to operator {other}")
            before = {"role": row.role, "agent_id": row.agent_id, "department": row.department,
                      "display_name": row.display_name}  # fmt: skip
            row.role, row.agent_id, row.department, row.display_name = (
                role, agent_id, department, name,
            )  # fmt: skip
            after = {"role": role, "agent_id": agent_id, "department": department,
                     "display_name": name}  # fmt: skip
            if before != after:
                ended = s.execute(delete(UserSessionRow).where(UserSessionRow.user_id == row.id))
                after["sessions_ended"] = ended.rowcount  # type: ignore[attr-defined]
                write_audit(s, actor, "user.role", row.username, before, after, "", now)
            return user_of(row)
