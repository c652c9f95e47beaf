"""The outbox rows in the database, as the delivery loop and the admin see them: claiming the
due ones safely with several servers, marking each one sent, to be retried, or failed; the
listing and retry of ``hotline outbox``.

A claim takes due ``pending`` rows (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
two servers never take the same row; SQLite has one writer at a time), counts the attempt and
moves the row's ``next_at`` a lease ahead, then commits: the send happens outside any
transaction. A server that dies mid-send leaves the row pending; another takes it when the
lease is over (a message may then go twice: the receiver has its key to drop the second).
A mark names the attempt it settles: a late answer to an attempt whose lease ran out changes
nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from ivr.db.database import Database
from ivr.db.outbox_tables import FAILED, PENDING, SENT, OutboxRow


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    key: str
    ticket_number: str
    target: str
    body: dict[str, Any]
    attempts: int  # this attempt's number, 1 for the first


def claim(
    db: Database, now: dt.datetime, kinds: tuple[str, ...], batch: int, lease: float
) -> list[Claimed]:
    if not kinds:
        return []
    query = (
        select(OutboxRow)
        .where(OutboxRow.state == PENDING, OutboxRow.next_at <= now, OutboxRow.kind.in_(kinds))
        .order_by(OutboxRow.next_at, OutboxRow.id)
        .limit(batch)
    )
    if db.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    until = now + dt.timedelta(seconds=lease)
    out = []
    with db.session() as s:
        for row in s.scalars(query).all():
            taken = s.execute(  # the attempt counted, the row out of sight for the lease
                update(OutboxRow)
                .where(
                    OutboxRow.id == row.id,
                    OutboxRow.state == PENDING,
                    OutboxRow.attempts == row.attempts,
                )
                .values(attempts=row.attempts + 1, next_at=until)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                out.append(
                    Claimed(
                        row.id,
                        row.kind,
                        row.key,
                        row.ticket_number,
                        row.target,
                        dict(row.body),
                        row.attempts + 1,
                    )
                )
    return out


def _settle(db: Database, c: Claimed, **values: Any) -> bool:
    with db.session() as s:
        done = s.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id == c.id, OutboxRow.state == PENDING, OutboxRow.attempts == c.attempts
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def mark_sent(db: Database, c: Claimed, now: dt.datetime) -> bool:
    return _settle(db, c, state=SENT, sent_at=now, error="")


def mark_retry(db: Database, c: Claimed, error: str, at: dt.datetime) -> bool:
    return _settle(db, c, next_at=at, error=error[:2000])


def mark_failed(db: Database, c: Claimed, error: str) -> bool:
    return _settle(db, c, state=FAILED, error=error[:2000])


def listing(db: Database, state: str | None, ticket: str | None, limit: int) -> list[OutboxRow]:
    """The newest rows first; ``state`` None: every state."""
    query = select(OutboxRow).order_by(OutboxRow.id.desc()).limit(limit)
    if state is not None:
        query = query.where(OutboxRow.state == state)
    if ticket is not None:
        query = query.where(OutboxRow.ticket_number == ticket)
    with db.session() as s:
        return list(s.scalars(query).all())


def counts(db: Database) -> dict[tuple[str, str], int]:
    """(kind, state) -> rows."""
    with db.session() as s:
        rows = s.execute(
            select(OutboxRow.kind, OutboxRow.state, func.count()).group_by(
                OutboxRow.kind, OutboxRow.state
            )
        ).all()
    return {(kind, state): n for kind, state, n in rows}


def retry(db: Database, ids: list[int], all_failed: bool, now: dt.datetime) -> list[int]:
    """Failed rows (or pending ones waiting out a backoff) made due now with their attempts
    counted afresh; a sent row is never sent again. Returns the ids taken."""
    query = select(OutboxRow.id).where(OutboxRow.state.in_((FAILED, PENDING)))
    if not all_failed:
        query = query.where(OutboxRow.id.in_(ids))
    else:
        query = query.where(OutboxRow.state == FAILED)
    with db.session() as s:
        taken = list(s.scalars(query).all())
        if taken:
            s.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(taken))
                .values(state=PENDING, attempts=0, next_at=now)
                .execution_options(synchronize_session=False)
            )
    return sorted(taken)
