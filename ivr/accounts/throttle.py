"""The login throttle, kept in the database so that every hotline server counts the same
attempts.

A login is refused (:class:`~ivr.accounts.errors.LoginThrottled`) while the account name has
``ACCOUNT_LIMIT`` failures or more in the last ``WINDOW`` seconds, or the address has
``ADDRESS_LIMIT``. A refused attempt while throttled is not written as a failure: the lock
ends ``WINDOW`` after the failures that caused it, however often the door is knocked on
meanwhile (the audit log still has every refusal). ``retry_after`` is the time until the
count falls below the limit: until the limit-th newest failure leaves the window (with exactly
the limit counted, the oldest). A success clears nothing: it is written, and the failures
before it still count. Rows older than ``KEEP`` are pruned whenever an attempt is written.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ivr.db.tables import LoginAttemptRow

WINDOW = 15 * 60.0
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 30
KEEP = 24 * 3600.0


def _wait(session: Session, column: Any, value: str, limit: int, now: dt.datetime) -> int | None:
    since = now - dt.timedelta(seconds=WINDOW)
    failures = session.scalars(
        select(LoginAttemptRow.at)
        .where(column == value, LoginAttemptRow.at > since, LoginAttemptRow.ok.is_(False))
        .order_by(LoginAttemptRow.at.desc())
        .limit(limit)
    ).all()
    if len(failures) < limit:
        return None
    leaves = failures[-1] + dt.timedelta(seconds=WINDOW)
    return max(1, math.ceil((leaves - now).total_seconds()))


def retry_after(session: Session, name_key: str, address: str, now: dt.datetime) -> int | None:
    """Seconds to wait before this account name (lower case) may try again from this
    address, or None when it may try now. An empty address (unknown) is not counted."""
    waits = [_wait(session, LoginAttemptRow.username, name_key, ACCOUNT_LIMIT, now)]
    if address:
        waits.append(_wait(session, LoginAttemptRow.address, address, ADDRESS_LIMIT, now))
    found = [w for w in waits if w is not None]
    return max(found) if found else None


def record(session: Session, name_key: str, address: str, ok: bool, now: dt.datetime) -> None:
    """Write one attempt; prune the attempts older than ``KEEP``."""
    session.execute(
        delete(LoginAttemptRow).where(LoginAttemptRow.at < now - dt.timedelta(seconds=KEEP))
    )
    session.add(LoginAttemptRow(username=name_key, address=address, at=now, ok=ok))
