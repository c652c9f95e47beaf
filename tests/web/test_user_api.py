"""The admin console's accounts over HTTP (``/api/users``) on a real SQLite database: add,
list, reset a password, change a role and binding, disable and enable; each change audited
with the admin as actor and ending the user's sessions; only admins may."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ivr.accounts import Accounts
from ivr.db.database import Database
from ivr.web.user_routes import users_part
from queueing.queue import RedisQueue
from tests.queueing.conftest import clock, rq  # noqa: F401 (fixtures)
from tests.web.conftest import PASSWORD, Desk, desks_on


@pytest.fixture
async def desks(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
) -> AsyncIterator[dict[str, Desk]]:
    async with desks_on(rq, accounts, database, [users_part()], ["op1002"]) as out:
        yield out


async def test_an_admin_manages_accounts(desks: dict[str, Desk], accounts: Accounts) -> None:
    admin = desks["admin"]
    new = {"username": "heat1", "password": PASSWORD, "role": "department",
           "department": "heating", "display_name": "热力公司"}  # fmt: skip
    r = await admin.post("/api/users", new)
    assert r.status == 200, await r.text()
    assert (await r.json())["department"] == "heating"
    listed = {u["username"]: u for u in await (await admin.get("/api/users")).json()}
    assert listed["heat1"]["role"] == "department" and "password" not in str(listed["heat1"])
    r = await admin.post("/api/users", new)  # taken
    assert (r.status, (await r.json())["error_id"]) == (400, "HL-ACC-003")

    # op1002 becomes a supervisor: its session ends, it logs in again with the new role
    r = await admin.post("/api/users/op1002/role", {"role": "supervisor"})
    assert (await r.json())["role"] == "supervisor" and (await r.json())["agent_id"] is None
    assert (await desks["op1002"].get("/api/me")).status == 401
    r = await admin.post("/api/users/op1002/role", {"role": "operator", "agent_id": "1001"})
    assert (r.status, (await r.json())["error_id"]) == (400, "HL-ACC-003")  # 1001 is op1001's

    r = await admin.post("/api/users/heat1/password", {"password": "another good password"})
    assert r.status == 200
    assert accounts.login("heat1", "another good password", "").principal is not None
    r = await admin.post("/api/users/heat1/disable")
    assert (await r.json())["disabled"] is True
    r = await admin.post("/api/users/heat1/enable")
    assert (await r.json())["disabled"] is False
    actions = [a["action"] for a in accounts.audit_log(20) if a["target"] in ("heat1", "op1002")]
    assert {"user.add", "user.role", "user.passwd", "user.disable", "user.enable"} <= set(actions)
    assert all(a["actor"] == "admin" for a in accounts.audit_log(20) if a["action"] == "user.role")
    r = await admin.post("/api/users/nobody/disable")
    assert (r.status, (await r.json())["error_id"]) == (404, "HL-ACC-004")


async def test_only_admins(desks: dict[str, Desk]) -> None:
    for name, status in (("super", 403), ("op1001", 403), ("dept", 403), ("anonymous", 401)):
        assert (await desks[name].get("/api/users")).status == status, name
        r = await desks[name].post("/api/users/op1001/disable")
        assert r.status == status, name
