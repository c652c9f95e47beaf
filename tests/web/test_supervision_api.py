"""The supervisors' review of tickets over HTTP (``/api/supervision``) on a real Redis and
SQLite: extension requests approved (not by the one who asked), returned tickets re-dispatched,
reminders counted, supervision, and a dissatisfied follow-up redone; who may."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ivr.accounts import Accounts
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web.portal_routes import portal_part
from ivr.web.supervision_routes import supervision_part
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
    accounts.add_user("property1", PASSWORD, "department", department="property", actor="t")
    parts = [tickets_part(lambda: service), portal_part(), supervision_part()]
    async with desks_on(rq, accounts, database, parts, ["property1"]) as out:
        yield out


def dispatched(service: TicketService, type_: str = "help") -> str:
    t = service.accept(caller="13904710009", type=type_, category="housing.property",
                       actor="op1001", content="电梯", confidential=True)  # fmt: skip
    service.act(t.number, "dispatch", actor="op1001")
    return t.number


async def view(desk: Desk, name: str) -> list[str]:
    out: dict[str, Any] = await (await desk.get(f"/api/supervision/tickets?view={name}")).json()
    return [item["ticket"]["number"] for item in out["items"]]


async def test_extensions_returns_and_reminders(
    desks: dict[str, Desk], service: TicketService
) -> None:
    boss, dept = desks["super"], desks["property1"]
    asked, returned = dispatched(service), dispatched(service)
    r = await dept.post(f"/api/portal/tickets/{asked}/extend", {"days": 2, "reason": "等配件"})
    before = service.get(asked).deadline
    assert r.status == 200
    assert await view(boss, "extensions") == [asked]
    ok = await (await boss.post(f"/api/supervision/tickets/{asked}/extend-approve", {})).json()
    assert ok["extension_requested"] is None and ok["caller"] == "13904710009"  # staff see it
    assert service.get(asked).deadline > before
    assert await view(boss, "extensions") == []

    await dept.post(f"/api/portal/tickets/{returned}/return", {"reason": "属于供水公司"})
    assert await view(boss, "returned") == [returned]
    r = await boss.post(f"/api/supervision/tickets/{returned}/redispatch", {"department": "water"})
    assert (await r.json())["state"] == "dispatched" and service.get(returned).department == "water"
    r = await boss.post(f"/api/supervision/tickets/{asked}/remind", {"note": "请今日办结"})
    assert (await r.json())["reminders"] == 1
    r = await boss.post(f"/api/supervision/tickets/{asked}/supervise", {"note": "市长关注"})
    assert (await r.json())["supervised"] is True
    sup = await (await boss.get("/api/supervision/tickets?view=supervised")).json()
    assert [(i["ticket"]["number"], i["reasons"]) for i in sup["items"]] == [(asked, ["manual"])]
    r = await boss.post(f"/api/supervision/tickets/{asked}/extend-reject", {})
    assert (r.status, (await r.json())["error_id"]) == (409, "HL-TKT-002")  # none pending


async def test_each_item_says_why_and_the_counts_cover_every_list(
    desks: dict[str, Desk], service: TicketService
) -> None:
    boss, dept = desks["super"], desks["property1"]
    empty = {"extensions": 0, "returned": 0, "supervised": 0, "overdue": 0, "dissatisfied": 0}
    assert await (await boss.get("/api/supervision/counts")).json() == empty
    asked, returned, redo = dispatched(service), dispatched(service), dispatched(service)
    await dept.post(f"/api/portal/tickets/{asked}/extend", {"days": 3, "reason": "等配件"})
    await dept.post(f"/api/portal/tickets/{returned}/return", {"reason": "属于供水公司"})
    for action, params in (("sign", {}), ("handle", {}), ("finish", {"reply": "已处理"})):
        service.act(redo, action, actor="property1", **params)
    service.act(redo, "callback", actor="op1002", note="仍然漏水", satisfaction=2, solved=False)
    service.act(asked, "supervise", actor="super", note="市长关注")
    got = await (await boss.get("/api/supervision/counts")).json()
    # the same caller's third request in a category, one redone: 督办 as repeated too
    assert got == {**empty, "extensions": 1, "returned": 1, "supervised": 2, "dissatisfied": 1}
    for name, count in got.items():
        out = await (await boss.get(f"/api/supervision/tickets?view={name}&limit=1")).json()
        assert (out["total"], len(out["items"])) == (count, min(count, 1)), name
    out = await (await boss.get("/api/supervision/tickets?view=extensions")).json()
    [item] = out["items"]
    assert (item["why"], item["ticket"]["extension_requested"]) == ("等配件", 3)
    assert item["department_name"] and item["ticket"]["working_days_left"] >= 1
    [item] = (await (await boss.get("/api/supervision/tickets?view=returned")).json())["items"]
    assert item["why"] == "属于供水公司"
    [item] = (await (await boss.get("/api/supervision/tickets?view=dissatisfied")).json())["items"]
    assert (item["why"], item["satisfaction"], item["solved"]) == ("仍然漏水", 2, False)
    assert (await desks["property1"].get("/api/supervision/counts")).status == 403


async def test_a_dissatisfied_follow_up_is_redone(
    desks: dict[str, Desk], service: TicketService
) -> None:
    boss = desks["super"]
    number = dispatched(service, "consult")
    for action, params in (("sign", {}), ("handle", {}), ("finish", {"reply": "已处理"})):
        service.act(number, action, actor="property1", **params)
    service.act(number, "callback", actor="op1002", satisfaction=1, solved=False)
    assert await view(boss, "dissatisfied") == [number]
    redone = await (
        await boss.post(f"/api/supervision/tickets/{number}/redo", {"note": "重办"})
    ).json()
    assert redone["state"] == "dispatched"
    assert service.get(number).redos == 1
    assert await view(boss, "dissatisfied") == []


async def test_who_may(desks: dict[str, Desk], service: TicketService) -> None:
    number = dispatched(service)
    for name, status in (("op1001", 403), ("property1", 403), ("anonymous", 401)):
        r = await desks[name].get("/api/supervision/tickets")
        assert r.status == status, name
        r = await desks[name].post(f"/api/supervision/tickets/{number}/remind", {})
        assert r.status == status, name
    r = await desks["admin"].get("/api/supervision/tickets?view=nothing")
    assert (r.status, (await r.json())["error_id"]) == (400, "HL-WEB-001")
    r = await desks["admin"].post("/api/supervision/tickets/NOPE/remind", {})
    assert (r.status, (await r.json())["error_id"]) == (404, "HL-TKT-003")
