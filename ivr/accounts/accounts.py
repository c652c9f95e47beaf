"""The accounts: users, logins and sessions, API tokens, the audit log.

Synchronous (the web calls it in a thread). Passwords are hashed with argon2 (argon2-cffi's
defaults, rehashed at a login when the parameters have changed); an unknown name is checked
against a dummy hash, so a refusal takes the same time whatever its reason. A session's and an
API token's plaintext are given out once; the database keeps their sha256. Every change to a
user and every login, failed login and logout writes a row of the audit log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ivr.accounts import throttle
from ivr.accounts.audit import cut, read_audit, write_audit
from ivr.accounts.errors import (
    AccountInvalid,
    AccountNotFound,
    LoginRefused,
    LoginThrottled,
)
from ivr.accounts.identity import USERNAME_RE, LoginResult, Principal, User, user_of
from ivr.accounts.roles import RoleAdmin
from ivr.accounts.rules import check_new_user, check_password
from ivr.accounts.tokens import TokenAdmin
from ivr.db.database import Database
from ivr.db.tables import ApiTokenRow, UserRow, UserSessionRow

#: last_seen_at / last_used_at are written at most this often (not on every request): the
#: idle limit is then counted from a moment up to this much before the last request.
TOUCH_SECONDS = 60.0


def digest(token: str) -> str:
    """The sha256 (hex) of a session or API token: what the database keeps."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _principal(row: UserRow, via: str) -> Principal:
    return Principal(row.id, row.username, row.role, row.agent_id, row.department, via)


class Accounts(TokenAdmin, RoleAdmin):
    """Users, sessions, tokens (listed and revoked one by one:
    :class:`~ivr.accounts.tokens.TokenAdmin`), audit, on ``db`` (revision 0006 or later).

    ``session_hours``: a session's absolute life; ``idle_minutes``: it dies this long after
    its last use; ``clock``: seconds since the epoch (tests give a fake one); ``hasher``:
    argon2's parameters (the defaults unless given)."""

    def __init__(
        self,
        db: Database,
        *,
        session_hours: float = 12.0,
        idle_minutes: float = 120.0,
        clock: Callable[[], float] = time.time,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.db = db
        self.session_life = dt.timedelta(hours=session_hours)
        self.idle = dt.timedelta(minutes=idle_minutes)
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    # ------------------------------------------------------------------ users

    def _find(self, s: Session, username: str) -> UserRow:
        row = s.scalars(select(UserRow).where(UserRow.username_key == username.lower())).first()
        if row is None:
            raise AccountNotFound(f"no user {username!r}: `hotline user list` shows them")
        return row

    def _agent_taken(self, s: Session, agent_id: str, but: int | None = None) -> str | None:
        """The enabled operator already bound to ``agent_id`` (other than user ``but``)."""
        rows = s.scalars(
            select(UserRow).where(
                UserRow.agent_id == agent_id,
                UserRow.role == "operator",
                UserRow.disabled.is_(False),
            )
        ).all()
        return next((r.username for r in rows if r.id != but), None)

    def add_user(
        self,
        username: str,
        password: str,
        role: str,
        *,
        agent_id: str | None = None,
        department: str | None = None,
        display_name: str = "",
        actor: str,
    ) -> User:
        agent_id = (agent_id or "").strip() or None
        department = (department or "").strip() or None
        check_new_user(username, role, agent_id, department, display_name)
        check_password(password)
        hashed = self.hasher.hash(password)
        now = self._now()
        try:
            with self.db.session() as s:
                if s.scalars(
                    select(UserRow.id).where(UserRow.username_key == username.lower())
                ).first():
                    raise AccountInvalid(f"user name {username!r} is taken (names ignore case)")
                if agent_id is not None and (other := self._agent_taken(s, agent_id)):
                    raise AccountInvalid(f"agent {agent_id} is already bound to operator {other}")
                row = UserRow(
                    username=username,
                    username_key=username.lower(),
                    role=role,
                    agent_id=agent_id,
                    department=department,
                    display_name=display_name,
                    password_hash=hashed,
                    disabled=False,
                    created_at=now,
                )
                s.add(row)
                s.flush()
                user = user_of(row)
                after = {
                    "username": username,
                    "role": role,
                    "agent_id": agent_id,
                    "department": department,
                    "display_name": display_name,
                }
                write_audit(s, actor, "user.add", username, None, after, "", now)
        except IntegrityError as exc:  # the same name added at the same moment elsewhere
            raise AccountInvalid(f"user name {username!r} is taken (names ignore case)") from exc
        return user

    def set_password(self, username: str, password: str, *, actor: str) -> None:
        """A new password; the user's sessions end (its API tokens stay)."""
        check_password(password)
        hashed = self.hasher.hash(password)
        now = self._now()
        with self.db.session() as s:
            row = self._find(s, username)
            row.password_hash = hashed
            ended = s.execute(delete(UserSessionRow).where(UserSessionRow.user_id == row.id))
            after = {"sessions_ended": ended.rowcount}  # type: ignore[attr-defined]
            write_audit(s, actor, "user.passwd", row.username, None, after, "", now)

    def set_disabled(self, username: str, disabled: bool, *, actor: str) -> None:
        """Disable (its sessions end and its API tokens are revoked, for good) or enable."""
        now = self._now()
        with self.db.session() as s:
            row = self._find(s, username)
            before = {"disabled": row.disabled}
            enabling = not disabled and row.disabled and row.agent_id is not None
            if enabling and (other := self._agent_taken(s, row.agent_id or "", but=row.id)):
                raise AccountInvalid(
                    f"agent {row.agent_id} is now bound to operator {other}: disable that one first"
                )
            row.disabled = disabled
            after: dict[str, Any] = {"disabled": disabled}
            if disabled:
                ended = s.execute(delete(UserSessionRow).where(UserSessionRow.user_id == row.id))
                revoked = s.execute(
                    update(ApiTokenRow)
                    .where(ApiTokenRow.user_id == row.id, ApiTokenRow.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
                after["sessions_ended"] = ended.rowcount  # type: ignore[attr-defined]
                after["tokens_revoked"] = revoked.rowcount  # type: ignore[attr-defined]
            action = "user.disable" if disabled else "user.enable"
            write_audit(s, actor, action, row.username, before, after, "", now)

    def list_users(self) -> list[User]:
        with self.db.session() as s:
            rows = s.scalars(select(UserRow).order_by(UserRow.username_key)).all()
            return [user_of(r) for r in rows]

    def create_token(self, username: str, label: str, *, actor: str) -> str:
        """A new API token for the user: its plaintext, given this once."""
        token = secrets.token_urlsafe(32)
        now = self._now()
        with self.db.session() as s:
            row = self._find(s, username)
            if row.disabled:
                raise AccountInvalid(f"user {row.username} is disabled: enable it first")
            tok = ApiTokenRow(
                token_hash=digest(token), user_id=row.id, label=cut(label, 80), created_at=now
            )
            s.add(tok)
            s.flush()
            after = {"token_id": tok.id, "label": tok.label}
            write_audit(s, actor, "token.create", row.username, None, after, "", now)
        return token

    # ------------------------------------------------------------------ the web

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self.hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    def login(self, username: str, password: str, address: str) -> LoginResult:
        """A session for the user, or :class:`LoginRefused` (the same for an unknown name, a
        wrong password, a disabled user) or :class:`LoginThrottled`."""
        now = self._now()
        valid = USERNAME_RE.match(username) is not None
        key, address = cut(username.lower(), 64), cut(address, 64)
        name = cut(username if valid else ascii(username), 80)  # no control characters logged
        found: tuple[int, str, bool] | None = None
        with self.db.session() as s:
            wait = throttle.retry_after(s, key, address, now)
            if wait is None and valid:
                row = s.scalars(select(UserRow).where(UserRow.username_key == key)).first()
                if row is not None:
                    found = (row.id, row.password_hash, row.disabled)
        if wait is not None:
            with self.db.session() as s:
                waited = {"retry_after": wait}
                write_audit(s, name, "session.throttled", name, None, waited, address, now)
            raise LoginThrottled(wait)
        good = self._verify(found[1] if found else self._dummy_hash(), password)
        if found is None or not good or found[2]:
            reason = "unknown user" if found is None else "disabled" if good else "wrong password"
            with self.db.session() as s:
                throttle.record(s, key, address, False, now)
                why = {"reason": reason}
                write_audit(s, name, "session.login-failed", name, None, why, address, now)
            raise LoginRefused()
        rehashed = self.hasher.hash(password) if self.hasher.check_needs_rehash(found[1]) else None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = now + self.session_life
        with self.db.session() as s:
            user = s.get(UserRow, found[0])
            if user is None or user.disabled:  # removed or disabled in the meantime
                raise LoginRefused()
            if rehashed is not None:
                user.password_hash = rehashed
            user.last_login_at = now
            s.execute(delete(UserSessionRow).where(UserSessionRow.expires_at <= now))
            s.add(
                UserSessionRow(
                    token_hash=digest(token),
                    user_id=user.id,
                    csrf=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=expires,
                    address=address,
                )
            )
            throttle.record(s, key, address, True, now)
            after = {"expires_at": expires.isoformat(), "rehashed": rehashed is not None}
            write_audit(s, user, "session.login", user.username, None, after, address, now)
            principal = _principal(user, "session")
        return LoginResult(principal, token, csrf, expires)

    def session(self, token: str) -> tuple[Principal, str] | None:
        """(who, the session's CSRF token) while the session lives; None when it is unknown,
        expired, idle past the limit, ended, or its user is disabled."""
        if not token:
            return None
        now = self._now()
        with self.db.session() as s:
            row = s.get(UserSessionRow, digest(token))
            if row is None:
                return None
            user = s.get(UserRow, row.user_id)
            dead = now >= row.expires_at or now >= row.last_seen_at + self.idle
            if dead or user is None or user.disabled:  # a core DELETE: another may race us
                s.execute(delete(UserSessionRow).where(UserSessionRow.token_hash == row.token_hash))
                return None
            if (now - row.last_seen_at).total_seconds() >= TOUCH_SECONDS:
                row.last_seen_at = now
            return _principal(user, "session"), row.csrf

    def logout(self, token: str) -> None:
        """End the session (nothing when it is unknown or already ended)."""
        if not token:
            return
        now = self._now()
        with self.db.session() as s:
            row = s.get(UserSessionRow, digest(token))
            if row is None:
                return
            user = s.get(UserRow, row.user_id)
            s.execute(delete(UserSessionRow).where(UserSessionRow.token_hash == row.token_hash))
            if user is not None:
                write_audit(s, user, "session.logout", user.username, None, None, "", now)

    def token_principal(self, token: str) -> Principal | None:
        """Who an API token (``Authorization: Bearer``) stands for; None when it is unknown,
        revoked, or its user is disabled."""
        if not token:
            return None
        now = self._now()
        with self.db.session() as s:
            tok = s.scalars(
                select(ApiTokenRow).where(ApiTokenRow.token_hash == digest(token))
            ).first()
            if tok is None or tok.revoked_at is not None:
                return None
            user = s.get(UserRow, tok.user_id)
            if user is None or user.disabled:
                return None
            last = tok.last_used_at
            if last is None or (now - last).total_seconds() >= TOUCH_SECONDS:
                tok.last_used_at = now
            return _principal(user, "token")

    # ------------------------------------------------------------------ audit

    def audit(
        self,
        actor: Principal | str,
        action: str,
        target: str,
        *,
        before: Any = None,
        after: Any = None,
        address: str = "",
    ) -> None:
        """Write one audit row: ``actor`` a principal, a user name or ``cli:<os user>``;
        ``before`` and ``after`` anything JSON can say (None: nothing)."""
        now = self._now()
        with self.db.session() as s:
            write_audit(s, actor, action, target, before, after, address, now)

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` audit rows, newest first (before and after decoded)."""
        with self.db.session() as s:
            return read_audit(s, limit)
