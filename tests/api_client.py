"""The staff HTTP API as the tests' programs use it: an API token, made the way an admin makes
one (an account of its own and a token for it), sent as ``Authorization: Bearer``."""

from __future__ import annotations

import contextlib
import json
import secrets
import urllib.request
from typing import Any

from ivr.accounts import Accounts
from ivr.accounts.errors import AccountInvalid
from ivr.db.database import Database

_tokens: dict[str, str] = {}


def api_token(database_url: str, username: str = "tests-supervisor") -> str:
    """A supervisor's API token in the database at ``database_url`` (migrated by the server
    already; one token per database, made once)."""
    if database_url not in _tokens:
        db = Database(database_url)
        try:
            db.upgrade()
            accounts = Accounts(db)
            with contextlib.suppress(AccountInvalid):  # made by an earlier test on this database
                accounts.add_user(username, secrets.token_urlsafe(18), "supervisor", actor="tests")
            _tokens[database_url] = accounts.create_token(username, "tests", actor="tests")
        finally:
            db.close()
    return _tokens[database_url]


def call_api(
    port: int, token: str, method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    """``method path`` on the server's HTTP port with the token; the JSON answer (an HTTP error
    raises urllib's HTTPError)."""
    data = json.dumps(body or {}).encode() if method == "POST" else None
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())
