"""What an account is: the roles, the user as listed, who makes a request, a login's result."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from ivr.db.tables import UserRow

#: operator: bound to one agent of agents.yaml, changes only its own agent's state;
#: supervisor: any agent, the knowledge base's approvals; department: bound to one department;
#: admin: everything, the accounts too.
ROLES = ("operator", "supervisor", "department", "admin")

USERNAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MIN_PASSWORD = 10


@dataclass(frozen=True)
class Principal:
    """Who is making a request."""

    user_id: int
    username: str
    role: str  # one of ROLES
    agent_id: str | None  # operators: the agent id of agents.yaml they are bound to
    department: str | None  # department users: their department code
    via: str  # "session" or "token"


@dataclass(frozen=True)
class User:
    """An account, for listing (never its password hash)."""

    id: int
    username: str
    role: str
    agent_id: str | None
    department: str | None
    display_name: str
    disabled: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None


@dataclass(frozen=True)
class LoginResult:
    principal: Principal
    session_token: str  # goes into the cookie; only its sha256 is stored
    csrf_token: str
    expires_at: dt.datetime


def user_of(row: UserRow) -> User:
    """The account as listed (never its password hash)."""
    return User(
        id=row.id,
        username=row.username,
        role=row.role,
        agent_id=row.agent_id,
        department=row.department,
        display_name=row.display_name,
        disabled=row.disabled,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )
