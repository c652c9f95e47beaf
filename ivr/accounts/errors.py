"""Errors of the accounts room (``HL-ACC-nnn``, docs/errors.md), each with the HTTP status
the web answers it with."""

from __future__ import annotations

from ivr.errors import HotlineError


class AccountError(HotlineError):
    """Base of the accounts' errors."""

    code = "HL-ACC-000"
    status: int = 400


class LoginRefused(AccountError):
    """Wrong user name or password; the same message for an unknown or disabled account."""

    code = "HL-ACC-001"
    status = 401

    def __init__(self, message: str = "wrong user name or password") -> None:
        super().__init__(message)


class LoginThrottled(AccountError):
    """Too many failed logins for the account or from the address: wait ``retry_after``."""

    code = "HL-ACC-002"
    status = 429

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(
            message or f"too many failed logins: try again in {retry_after} s",
        )


class AccountInvalid(AccountError):
    """A user that cannot be made: a bad name or role, an operator without an agent, a
    department user without a department, a short password, a name taken."""

    code = "HL-ACC-003"
    status = 400


class AccountNotFound(AccountError):
    """No user of that name."""

    code = "HL-ACC-004"
    status = 404
