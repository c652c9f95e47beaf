"""Who is asking, and may they: the guard in front of every route that is not open.

A request is let in with either
- the session cookie (``hotline_session``, set by ``POST /api/login``: HttpOnly,
  SameSite=Strict, Secure behind TLS) and, on a state-changing request, the session's CSRF
  token in the ``X-CSRF-Token`` header; or
- an API token (``Authorization: Bearer ...``, from ``hotline user token``), for programs:
  not a cookie, so not forgeable by another site, so no CSRF token.

Then its role must be one the route allows (403 ``HL-WEB-004``); no session is 401
``HL-WEB-003``. Sessions checked in the last 30 s are not looked up again (a desk sends a
heartbeat every 20 s), and while the database is away a session seen in the last 10 minutes
is still honoured, so a database blip does not throw operators off mid-shift. A logout takes
effect at once on the server that took it and within 30 s on the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable

from aiohttp import web
from sqlalchemy.exc import InterfaceError, OperationalError

from ivr.accounts import Principal
from ivr.web.appkeys import ACCOUNTS_KEY, CSRF_TOKEN, PRINCIPAL, WebSecurity
from ivr.web.errors import CSRF, FORBIDDEN, NOT_LOGGED_IN, ApiError
from ivr.web.routing import ApiRoute, Handler

COOKIE = "hotline_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FRESH_SECONDS = 30.0
STALE_SECONDS = 600.0  # honoured while the database is away
MAX_CACHED = 20_000


class SessionCache:
    """Recently checked sessions and tokens, by the sha256 of their secret (bounded)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._seen: dict[str, tuple[float, Principal, str | None]] = {}

    @staticmethod
    def _key(kind: str, secret: str) -> str:
        return kind + hashlib.sha256(secret.encode()).hexdigest()

    def get(self, kind: str, secret: str, max_age: float) -> tuple[Principal, str | None] | None:
        hit = self._seen.get(self._key(kind, secret))
        if hit is None or self.clock() - hit[0] > max_age:
            return None
        return hit[1], hit[2]

    def put(self, kind: str, secret: str, principal: Principal, csrf: str | None) -> None:
        if len(self._seen) >= MAX_CACHED:
            cutoff = self.clock() - STALE_SECONDS
            self._seen = {k: v for k, v in self._seen.items() if v[0] >= cutoff}
            if len(self._seen) >= MAX_CACHED:
                self._seen.clear()
        self._seen[self._key(kind, secret)] = (self.clock(), principal, csrf)

    def drop(self, kind: str, secret: str) -> None:
        self._seen.pop(self._key(kind, secret), None)


SESSIONS_KEY: web.AppKey[SessionCache] = web.AppKey("sessions", SessionCache)


async def _lookup(
    request: web.Request, kind: str, secret: str
) -> tuple[Principal, str | None] | None:
    cache = request.app[SESSIONS_KEY]
    fresh = cache.get(kind, secret, FRESH_SECONDS)
    if fresh is not None:
        return fresh
    accounts = request.app[ACCOUNTS_KEY]
    try:
        if kind == "token":
            principal = await asyncio.to_thread(accounts.token_principal, secret)
            found: tuple[Principal, str | None] | None = (principal, None) if principal else None
        else:
            live = await asyncio.to_thread(accounts.session, secret)
            found = (live[0], live[1]) if live else None
    except (OperationalError, InterfaceError):
        stale = cache.get(kind, secret, STALE_SECONDS)
        if stale is None:
            raise
        return stale
    if found is None:
        cache.drop(kind, secret)
        return None
    cache.put(kind, secret, found[0], found[1])
    return found


async def authenticate(request: web.Request) -> tuple[Principal, str | None]:
    """The principal of ``request`` and its session's CSRF token (None for an API token)."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        found = await _lookup(request, "token", header[7:].strip())
        if found is None:
            raise ApiError(401, NOT_LOGGED_IN, "the API token is unknown or revoked")
        return found
    secret = request.cookies.get(COOKIE)
    if secret:
        found = await _lookup(request, "session", secret)
        if found is not None:
            return found
        raise ApiError(401, NOT_LOGGED_IN, "the session has ended; log in again (POST /api/login)")
    raise ApiError(401, NOT_LOGGED_IN, "log in first (POST /api/login), or send an API token")


def guard(route: ApiRoute) -> Handler:
    """``route.handler`` behind the check of who may call it (open routes: as they are)."""
    roles = route.roles
    if roles is None:
        return route.handler

    async def guarded(request: web.Request) -> web.StreamResponse:
        principal, csrf = await authenticate(request)
        if principal.role not in roles:
            raise ApiError(
                403,
                FORBIDDEN,
                f"a {principal.role} account may not {route.summary}",
                {"role": principal.role, "allowed": list(roles)},
            )
        if request.method not in SAFE_METHODS and principal.via == "session":
            sent = request.headers.get(CSRF_HEADER, "")
            if not csrf or not hmac.compare_digest(sent.encode(), csrf.encode()):
                raise ApiError(
                    403,
                    CSRF,
                    f"missing or wrong {CSRF_HEADER} header: send the csrf_token of "
                    "POST /api/login or GET /api/me",
                )
        request[PRINCIPAL] = principal
        request[CSRF_TOKEN] = csrf
        return await route.handler(request)

    return guarded


def set_session_cookie(response: web.StreamResponse, token: str, security: WebSecurity) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(security.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=security.cookie_secure,
    )
