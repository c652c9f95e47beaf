"""API tokens one by one: list them (without their plaintext, which is never stored) and
revoke one, e.g. the token of a script that leaked, without disabling its user. A base of
:class:`~ivr.accounts.accounts.Accounts`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from ivr.accounts.audit import write_audit
from ivr.accounts.errors import AccountNotFound
from ivr.db.database import Database
from ivr.db.tables import ApiTokenRow, UserRow


@dataclass(frozen=True)
class TokenInfo:
    id: int
    username: str
    label: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


def _info(tok: ApiTokenRow, username: str) -> TokenInfo:
    return TokenInfo(tok.id, username, tok.label, tok.created_at, tok.last_used_at, tok.revoked_at)


class TokenAdmin:
    db: Database
    _now: Callable[[], dt.datetime]

    def list_tokens(self, username: str | None = None) -> list[TokenInfo]:
        """Every API token (of ``username`` only, if given), oldest first."""
        with self.db.session() as s:
            q = select(ApiTokenRow, UserRow.username).join(
                UserRow, UserRow.id == ApiTokenRow.user_id
            )
            if username is not None:
                q = q.where(UserRow.username_key == username.lower())
            return [_info(tok, name) for tok, name in s.execute(q.order_by(ApiTokenRow.id))]

    def revoke_token(self, token_id: int, *, actor: str) -> TokenInfo:
        """Revoke one API token (audited); revoking a revoked one changes nothing."""
        now = self._now()
        with self.db.session() as s:
            tok = s.get(ApiTokenRow, token_id)
            if tok is None:
                raise AccountNotFound(f"no API token {token_id}: `hotline user tokens` lists them")
            user = s.get(UserRow, tok.user_id)
            name = user.username if user is not None else "?"
            if tok.revoked_at is None:
                tok.revoked_at = now
                after = {"token_id": tok.id, "label": tok.label}
                write_audit(s, actor, "token.revoke", name, None, after, "", now)
            return _info(tok, name)
