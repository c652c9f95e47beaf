"""The department portal over HTTP (``/api/portal``) on a real Redis and SQLite: a department
sees only its own tickets (another's is 404, not 403), nearest deadline first, confidential
callers hidden; it signs for, finishes, returns and asks to extend them through the ticket
lifecycle, whose history records who did what."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ivr.accounts import Accounts
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web.portal_routes import portal_part
from ivr.web.ticket_routes import tickets_part
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR
from tests.queueing.conftest import clock, rq  # noqa: F401 (fixtures)
from tests.web.conftest import PASSWORD, Desk, desks_on


@pytest.fixture
def service(database: Database) -> TicketService:
    return TicketService(
        database, load_catalogue(CONFIG_DIR), Deadlines(calendar_from_config(CONFIG_DIR))
    )


@pytest.fixture
async def desks(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
    service: TicketService,
) -> AsyncIterator[dict[str, Desk]]:
    for name, dept in (("property1", "property"), ("water1", "water")):
        accounts.add_user(name, PASSWORD, "department", department=dept, actor="test")
    parts = [tickets_part(lambda: service), portal_part()]
    async with desks_on(rq, accounts, database, parts, ["property1", "water1"]) as out:
        yield out


def dispatched(service: TicketService, category: str, *, confidential: bool = False) -> str:
    t = service.accept(
        caller="13904710001", caller_name="王女士", type="complaint", category=category,
        actor="op1001", content="电梯停运", confidential=confidential,
    )  # fmt: skip
    service.act(t.number, "dispatch", actor="op1001")
    return t.number


async def test_a_department_sees_its_own_tickets_only(
    desks: dict[str, Desk], service: TicketService
) -> None:
    mine = dispatched(service, "housing.property", confidential=True)
    theirs = dispatched(service, "utilities.water")
    dept = desks["property1"]
    listed = await (await dept.get("/api/portal/tickets")).json()
    assert (listed["department"], listed["total"]) == ("property", 1)
    assert listed["department_name"]
    [t] = listed["tickets"]
    assert t["number"] == mine and t["state_name"] == "派单"
    assert (t["caller"], t["caller_name"]) == ("***", "***")  # the citizen asked for it
    assert t["deadline"].endswith("+08:00") and t["working_days_left"] >= 0
    for path in (f"/api/portal/tickets/{theirs}",):
        r = await dept.get(path)  # another department's ticket: as if there were none
        assert (r.status, (await r.json())["error_id"]) == (404, "HL-TKT-003")
    r = await dept.post(f"/api/portal/tickets/{theirs}/sign", {})
    assert (r.status, (await r.json())["error_id"]) == (404, "HL-TKT-003")
    assert service.get(theirs).state == "dispatched"  # untouched
    r = await desks["op1001"].get("/api/portal/tickets")
    assert (r.status, (await r.json())["error_id"]) == (403, "HL-WEB-004")
    r = await desks["super"].get("/api/portal/tickets")
    assert (r.status, (await r.json())["error_id"]) == (400, "HL-WEB-001")
    water = await (await desks["super"].get("/api/portal/tickets?department=water")).json()
    assert [t["number"] for t in water["tickets"]] == [theirs]
    r = await dept.post(f"/api/portal/tickets/{mine}/sign", {}, csrf=False)
    assert (r.status, (await r.json())["error_id"]) == (403, "HL-WEB-005")


async def test_sign_finish_return_extend(desks: dict[str, Desk], service: TicketService) -> None:
    dept = desks["property1"]
    first, second = (dispatched(service, "housing.property") for _ in range(2))
    signed = await (await dept.post(f"/api/portal/tickets/{first}/sign", {})).json()
    assert signed["state"] == "signed"
    r = await dept.post(f"/api/portal/tickets/{first}/finish", {"reply": ""})
    assert (r.status, (await r.json())["error_id"]) == (400, "HL-WEB-001")
    done = await (
        await dept.post(f"/api/portal/tickets/{first}/finish", {"reply": "已联系物业修复电梯"})
    ).json()
    assert (done["state"], done["reply"]) == ("finished", "已联系物业修复电梯")
    assert [(e["action"], e["actor"]) for e in done["events"]][-3:] == [
        ("sign", "property1"),
        ("handle", "property1"),
        ("finish", "property1"),
    ]
    again = await dept.post(f"/api/portal/tickets/{first}/return", {"reason": "不归我们"})
    assert (again.status, (await again.json())["error_id"]) == (409, "HL-TKT-002")

    extended = await dept.post(
        f"/api/portal/tickets/{second}/extend", {"days": 2, "reason": "需要协调电梯厂家"}
    )
    assert (await extended.json())["extension_requested"] == 2
    twice = await dept.post(f"/api/portal/tickets/{second}/extend", {"days": 1, "reason": "x"})
    assert (twice.status, (await twice.json())["error_id"]) == (409, "HL-TKT-002")
    returned = await (
        await dept.post(f"/api/portal/tickets/{second}/return", {"reason": "属于街道办职责"})
    ).json()
    assert (returned["state"], returned["returns"]) == ("returned", 1)
    left = await (await dept.get("/api/portal/tickets")).json()
    assert left["total"] == 0  # finished and returned: none open at this department
    back = await (await dept.get("/api/portal/tickets?state=returned")).json()
    assert [t["number"] for t in back["tickets"]] == [second]  # back at 12345
    everything = await (await dept.get("/api/portal/tickets?state=all")).json()
    assert {t["number"] for t in everything["tickets"]} == {first, second}
