"""``POST /api/login``, ``POST /api/logout``, ``GET /api/me``: a person's session.

Login takes ``{"username", "password"}`` as JSON only (a form another site posts is refused),
sets the session cookie and answers with who is logged in and the session's CSRF token. Wrong
name or password is 401 ``HL-ACC-001`` (one message for both); too many failures for the
account or the address is 429 ``HL-ACC-002`` with ``Retry-After``."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ivr.accounts import Principal
from ivr.accounts.errors import LoginThrottled
from ivr.web.appkeys import ACCOUNTS_KEY, CSRF_TOKEN, SECURITY_KEY, principal_of
from ivr.web.auth import COOKIE, SESSIONS_KEY, set_session_cookie
from ivr.web.bodies import read_body
from ivr.web.errors import ApiError
from ivr.web.schemas import LoginForm, MeOut


def me_out(principal: Principal, csrf: str | None) -> MeOut:
    return MeOut(
        username=principal.username,
        role=principal.role,
        agent_id=principal.agent_id,
        department=principal.department,
        via=principal.via,
        csrf_token=csrf,
    )


async def login(request: web.Request) -> web.Response:
    form = await read_body(request, LoginForm, json_only=True)
    accounts = request.app[ACCOUNTS_KEY]
    address = request.remote or ""
    try:
        result = await asyncio.to_thread(accounts.login, form.username, form.password, address)
    except LoginThrottled as exc:
        raise ApiError(429, exc.code, exc.message, {"retry_after": exc.retry_after}) from None
    out = me_out(result.principal, result.csrf_token).model_dump()
    out["expires_at"] = result.expires_at.isoformat(timespec="seconds")
    response = web.json_response(out)
    set_session_cookie(response, result.session_token, request.app[SECURITY_KEY])
    return response


async def logout(request: web.Request) -> web.Response:
    secret = request.cookies.get(COOKIE)
    if secret:
        request.app[SESSIONS_KEY].drop("session", secret)
        await asyncio.to_thread(request.app[ACCOUNTS_KEY].logout, secret)
    response = web.json_response({"logged_out": principal_of(request).username})
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    return web.json_response(me_out(principal_of(request), request.get(CSRF_TOKEN)).model_dump())
