"""Who may call what: every route of the staff API for every role (allowed, 403 with its id,
401 when not logged in), CSRF on state changes, API tokens, logout, cookie flags, throttled
logins, /metrics by setting."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from ivr.accounts import Accounts
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web.app import routes
from ivr.web.appkeys import WebSecurity
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR
from tests.web.conftest import USERS, Desk, desks_on, open_client
from tests.web.every_part import all_parts

BODIES = {"LoginBody": {"ready": False}, "PauseBody": {"reason": "lunch"}, "LogoutBody": {}}
# the core's routes and every part's, as the composition root builds the app
EVERY = [*routes(WebSecurity()), *(r for part in all_parts(None) for r in part.routes)]
MATRIX = [r for r in EVERY if r.path not in ("/api/login", "/api/logout")]
# path parameters: a real agent; for the rest, values that name nothing (404 when allowed)
PARAMS = {"{number}": "NOPE", "{task_id}": "1", "{entry_id}": "1", "{username}": "nobody",
          "{kind}": "month", "{label}": "2026-12", "{file}": "index.html",
          "{uniqueid}": "NOPE"}  # fmt: skip


@pytest.fixture
async def desks(
    rq: RedisQueue,
    accounts: Accounts,
    database: Database,
    tmp_path: Path,
) -> AsyncIterator[dict[str, Desk]]:
    """A logged-in session per account on the app with every part (the server's)."""
    service = TicketService(
        database, load_catalogue(CONFIG_DIR), Deadlines(calendar_from_config(CONFIG_DIR))
    )
    shutil.copytree(CONFIG_DIR, tmp_path / "config")
    parts = all_parts(service, rq, database, tmp_path / "config")
    async with desks_on(rq, accounts, database, parts) as out:
        yield out


def _path(path: str, agent: str = "1001") -> str:
    path = path.replace("{agent_id}", agent)
    for name, value in PARAMS.items():
        path = path.replace(name, value)
    return path


async def _call(desk: Desk, method: str, path: str, body: object = None, csrf: bool = True):  # type: ignore[no-untyped-def]
    if method == "GET":
        return await desk.get(path)
    return await desk.post(path, body, csrf=csrf)


@pytest.mark.parametrize("route", MATRIX, ids=lambda r: f"{r.method} {r.path}")
async def test_every_route_for_every_role(desks: dict[str, Desk], route) -> None:  # type: ignore[no-untyped-def]
    body = BODIES.get(route.body or "")
    for who in [*USERS, "anonymous"]:
        r = await _call(desks[who], route.method, _path(route.path), body)
        got = (r.status, (await r.json())["error_id"] if r.status >= 400 else None)
        role = USERS[who][0] if who in USERS else None
        if route.roles is None:
            assert r.status not in (401, 403), (who, got)
        elif role is None:
            assert got == (401, "HL-WEB-003"), who
        elif role not in route.roles:
            assert got == (403, "HL-WEB-004"), who
        elif route.own_agent and role == "operator" and USERS[who][1] != "1001":
            assert got == (403, "HL-WEB-004"), who  # another operator's agent
        else:
            assert r.status not in (401, 403), (who, got)


@pytest.mark.parametrize(
    "route", [r for r in MATRIX if r.own_agent], ids=lambda r: f"{r.method} {r.path}"
)
async def test_an_operator_changes_only_its_own_agent(desks: dict[str, Desk], route) -> None:  # type: ignore[no-untyped-def]
    body = BODIES.get(route.body or "")
    r = await _call(desks["op1001"], route.method, _path(route.path, "1002"), body)
    assert r.status == 403
    out = await r.json()
    assert out["error_id"] == "HL-WEB-004" and out["details"] == {
        "agent_id": "1002",
        "yours": "1001",
    }
    # a supervisor may (where the route is for supervisors at all: not the browser phone's
    # account, which is its operator's own)
    r = await _call(desks["super"], route.method, _path(route.path, "1002"), body)
    assert r.status not in (401, 403) or "supervisor" not in route.roles


@pytest.mark.parametrize(
    "route",
    [r for r in EVERY if r.method == "POST" and r.roles],
    ids=lambda r: r.path,
)
async def test_state_changes_need_the_csrf_token(desks: dict[str, Desk], route) -> None:  # type: ignore[no-untyped-def]
    r = await _call(desks["admin"], "POST", _path(route.path), BODIES.get(route.body or ""), False)
    assert r.status == 403 and (await r.json())["error_id"] == "HL-WEB-005"
    desks["admin"].csrf = "forged"
    r = await _call(desks["admin"], "POST", _path(route.path), BODIES.get(route.body or ""))
    assert r.status == 403 and (await r.json())["error_id"] == "HL-WEB-005"


async def test_bad_input_is_400_with_its_id(desks: dict[str, Desk]) -> None:
    for route in [r for r in MATRIX if r.body]:  # admins may call every one
        r = await desks["admin"].post(_path(route.path), {"unknown": 1})
        assert r.status == 400 and (await r.json())["error_id"] == "HL-WEB-001", route.path


async def test_api_token_needs_no_csrf_and_a_revoked_one_is_refused(
    http: TestClient,  # type: ignore[type-arg]
    accounts: Accounts,
) -> None:
    token = accounts.create_token("super", "ci", actor="test")
    auth = {"Authorization": f"Bearer {token}"}
    r = await http.post("/api/agents/1001/login", json={"ready": True}, headers=auth)
    assert r.status == 200 and (await r.json())["state"] == "ready"
    me = await (await http.get("/api/me", headers=auth)).json()
    assert (me["username"], me["via"], me["csrf_token"]) == ("super", "token", None)
    r = await http.get("/api/me", headers={"Authorization": "Bearer not-a-token"})
    assert r.status == 401 and (await r.json())["error_id"] == "HL-WEB-003"


async def test_login_logout_and_the_cookie(
    http: TestClient,  # type: ignore[type-arg]
    rq: RedisQueue,
    accounts: Accounts,
    database: Database,
) -> None:
    desk = Desk(http)
    try:
        r = await desk.login("op1001")
        cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
        me = await (await desk.get("/api/me")).json()
        assert (me["username"], me["role"], me["agent_id"]) == ("op1001", "operator", "1001")
        assert me["csrf_token"] == desk.csrf
        assert (await desk.post("/api/logout")).status == 200
        r = await desk.get("/api/me")
        assert r.status == 401 and (await r.json())["error_id"] == "HL-WEB-003"
        actions = [row["action"] for row in accounts.audit_log()]
        assert "session.login" in actions and "session.logout" in actions
    finally:
        await desk.close()
    secure = await open_client(rq, accounts, database, WebSecurity(cookie_secure=True))
    try:
        r = await secure.post("/api/login", json={"username": "super", "password": USERS_PW})
        assert "Secure" in r.headers["Set-Cookie"]
    finally:
        await secure.close()


USERS_PW = "correct horse battery"


async def test_wrong_passwords_then_throttled(http: TestClient) -> None:  # type: ignore[type-arg]
    desk = Desk(http)
    try:
        r = await desk.login("op1002", "wrong")
        assert r.status == 401 and (await r.json())["error_id"] == "HL-ACC-001"
        r = await desk.login("nobody", "wrong")
        assert r.status == 401 and (await r.json())["error_id"] == "HL-ACC-001"
        for _ in range(6):
            r = await desk.login("op1002", "wrong")
        assert r.status == 429
        out = await r.json()
        assert out["error_id"] == "HL-ACC-002" and int(r.headers["Retry-After"]) > 0
        # even the right password waits out the lock
        assert (await desk.login("op1002")).status == 429
        form = await desk.session.post(
            desk.base + "/api/login", data={"username": "super", "password": USERS_PW}
        )
        assert form.status == 400 and (await form.json())["error_id"] == "HL-WEB-001"
    finally:
        await desk.close()


async def test_metrics_need_a_token_when_not_public(
    rq: RedisQueue, accounts: Accounts, database: Database
) -> None:
    client = await open_client(rq, accounts, database, WebSecurity(metrics_public=False))
    try:
        r = await client.get("/metrics")
        assert r.status == 401 and (await r.json())["error_id"] == "HL-WEB-003"
        token = accounts.create_token("super", "prometheus", actor="test")
        r = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status == 200 and "hotline_queue" in await r.text()
        assert (await client.get("/healthz")).status == 200  # always open
    finally:
        await client.close()


def test_the_web_api_guide_names_every_route() -> None:
    """docs/web-api.md's table of roles names every route (a path's last segment may be one of
    an alternation: ``/api/agents/{agent_id}/login|ready|...``)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "web-api.md").read_text("utf-8")
    rows = [line.replace("\\|", "|") for line in text.splitlines() if line.startswith("| `")]
    missing = []
    for route in EVERY:
        prefix, last = route.path.rsplit("/", 1)
        named = any(
            f"`{route.method} {route.path}`" in row
            or (f"{route.method} {prefix}/" in row and last in row.split(prefix + "/", 1)[1])
            or f", `{route.method} {route.path}`" in row
            for row in rows
        )
        if not named:
            missing.append(f"{route.method} {route.path}")
    assert not missing, f"docs/web-api.md does not name: {missing}"


async def test_pages_need_a_session_and_come_with_a_strict_policy(desks: dict[str, Desk]) -> None:
    anonymous = desks["anonymous"]
    r = await anonymous.get("/desk", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/login?next=/desk"
    r = await anonymous.get("/login")
    assert r.status == 200 and 'id="login"' in await r.text()
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert (await anonymous.get("/static/hotline.css")).status == 200  # the login page's
    r = await anonymous.get("/static/desk.js")
    assert r.status == 401 and (await r.json())["error_id"] == "HL-WEB-003"
    r = await desks["op1001"].get("/desk")
    assert r.status == 200 and 'id="pop"' in await r.text()
    assert (await desks["op1001"].get("/static/desk.js")).status == 200
    assert (await desks["op1001"].get("/static/..%2Fapp.py")).status == 404
