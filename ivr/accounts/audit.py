"""The audit log: one row per change (who, with which role, when, what, on what, before and
after as JSON, from which address). Actions are named ``area.verb``: ``user.add``,
``user.passwd``, ``user.disable``, ``user.enable``, ``token.create``, ``session.login``,
``session.login-failed``, ``session.throttled``, ``session.logout``; the web adds its own
(``agent.pause``, ``recording.play`` ...), the retention purge ``retention.purge``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.accounts.identity import Principal
from ivr.db.tables import AuditRow, UserRow


def cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n]


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def write_audit(
    s: Session,
    actor: Principal | UserRow | str,
    action: str,
    target: str,
    before: Any,
    after: Any,
    address: str,
    now: dt.datetime,
) -> None:
    """Add one row in ``s``'s transaction. A string actor is ``cli:<os user>`` (role
    ``cli``), ``system:<task>`` (role ``system``) or a user name (its role looked up; empty
    for a name no user has)."""
    if isinstance(actor, Principal | UserRow):
        name, role = actor.username, actor.role
    elif actor.startswith("cli:"):
        name, role = actor, "cli"
    elif actor.startswith("system:"):  # the server itself (system:purge, the daily purge)
        name, role = actor, "system"
    else:
        name = actor
        found = s.scalars(select(UserRow.role).where(UserRow.username_key == actor.lower()))
        role = found.first() or ""
    s.add(
        AuditRow(
            at=now,
            actor=cut(name, 80),
            role=role,
            action=cut(action, 40),
            target=cut(target, 120),
            before_json=_json(before),
            after_json=_json(after),
            address=cut(address, 64),
        )
    )


def read_audit(s: Session, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` rows, newest first, before and after decoded."""
    rows = s.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)).all()
    return [
        {
            "id": r.id,
            "at": r.at,
            "actor": r.actor,
            "role": r.role,
            "action": r.action,
            "target": r.target,
            "before": None if r.before_json is None else json.loads(r.before_json),
            "after": None if r.after_json is None else json.loads(r.after_json),
            "address": r.address,
        }
        for r in rows
    ]
