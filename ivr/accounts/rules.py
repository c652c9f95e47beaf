"""What a user may be: the checks of a new user and of a password (``AccountInvalid``)."""

from __future__ import annotations

from ivr.accounts.errors import AccountInvalid
from ivr.accounts.identity import MIN_PASSWORD, ROLES, USERNAME_RE

MAX_PASSWORD = 1024


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountInvalid(f"the password is too short: give at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountInvalid(f"the password is too long: at most {MAX_PASSWORD} characters")


def check_new_user(
    username: str, role: str, agent_id: str | None, department: str | None, display_name: str
) -> None:
    """A valid name and role; an agent for an operator (only), a department for a department
    user (only)."""
    if not USERNAME_RE.match(username):
        raise AccountInvalid(
            f"user name {username!r}: 1 to 64 characters of letters, digits, '.', '_', '-'"
        )
    if role not in ROLES:
        raise AccountInvalid(f"role {role!r}: give one of {', '.join(ROLES)}")
    if role == "operator" and agent_id is None:
        raise AccountInvalid("an operator is bound to an agent of agents.yaml: give --agent")
    if role != "operator" and agent_id is not None:
        raise AccountInvalid(f"only an operator is bound to an agent, not a {role} user")
    if role == "department" and department is None:
        raise AccountInvalid("a department user is bound to a department: give --department")
    if role != "department" and department is not None:
        raise AccountInvalid(f"only a department user is bound to a department, not a {role} user")
    if agent_id is not None and len(agent_id) > 40:
        raise AccountInvalid(f"agent id {agent_id!r}: at most 40 characters")
    if department is not None and len(department) > 40:
        raise AccountInvalid(f"department {department!r}: at most 40 characters")
    if len(display_name) > 80:
        raise AccountInvalid("the display name: at most 80 characters")
