"""The accounts room: who may use the web desk and the API. Users and their roles, who makes
a request and a login's result (``identity.py``), their checks (``rules.py``), passwords hashed
with argon2, sessions and API tokens of which only the sha256 is stored (``accounts.py``:
:class:`Accounts`, synchronous; the web calls it in a thread), the login throttle kept in the
database so that several servers share it (``throttle.py``), the audit log of every change
(``audit.py``), the errors with their HTTP status (``errors.py``). Everything the web needs is
re-exported here: ``from ivr.accounts import Accounts, Principal, LoginRefused``.

Imports only the ground floor (``ivr.errors``) and the database (``ivr.db``); it must not
import the web, the console or cli, the tickets, the records or the queue."""

from ivr.accounts.accounts import Accounts
from ivr.accounts.errors import (
    AccountError,
    AccountInvalid,
    AccountNotFound,
    LoginRefused,
    LoginThrottled,
)
from ivr.accounts.identity import ROLES, LoginResult, Principal, User

__all__ = [
    "ROLES",
    "AccountError",
    "AccountInvalid",
    "AccountNotFound",
    "Accounts",
    "LoginRefused",
    "LoginResult",
    "LoginThrottled",
    "Principal",
    "User",
]
