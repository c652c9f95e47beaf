"""The operators' inbox over HTTP (``/api/inbox``) on a real Redis and on SQLite and
PostgreSQL: the accepted tickets of every channel waiting, nearest deadline first, by channel,
with their likely duplicates; answered, dispatched and merged through the lifecycle (its
history rows, the account as actor); who may; the refusals with their ids."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ivr.accounts import Accounts
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web.inbox_routes import inbox_part
from ivr.web.ticket_routes import tickets_part
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR
from tests.queueing.conftest import clock, rq  # noqa: F401 (fixtures)
from tests.tickets.conftest import pg_admin_url, pg_template, pg_url  # noqa: F401 (fixtures)
from tests.web.conftest import Desk, desks_on

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'inbox.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    db = Database(url)
    db.upgrade()
    yield db
    db.close()


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
    parts = [tickets_part(lambda: service), inbox_part()]
    async with desks_on(rq, accounts, database, parts) as out:
        yield out


def accept(service: TicketService, caller: str, **kw: Any) -> str:
    kw.setdefault("category", "housing.property")
    kw.setdefault("type", "help")
    return service.accept(caller=caller, actor=kw.pop("actor", "web"), **kw).number


def seed(service: TicketService) -> dict[str, str]:
    """A web request and a forwarded item about one address (written two ways), a call's
    ticket of the web request's caller already dispatched, an old one of the same caller
    (outside the window), a confidential web request, a call's ticket left accepted."""
    out = {
        "old": accept(service, "13904711111", content="旧诉求", now=NOW - dt.timedelta(days=9)),
        "call": accept(service, "13904711111", source="phone", content="电话反映电梯停运",
                       actor="op1002", now=NOW - dt.timedelta(hours=3)),
        "web": accept(service, "13904711111", source="web", content="小区电梯停运三天",
                      address="新城区 海拉尔东路１２号", type="complaint",
                      now=NOW - dt.timedelta(hours=2)),
        "upper": accept(service, "13800000000", source="people_leaders", external_id="PL-77",
                        received_at=NOW - dt.timedelta(days=1), content="海拉尔东路12号电梯坏了",
                        address="新城区海拉尔东路12号", now=NOW - dt.timedelta(hours=1)),
        "secret": accept(service, "13904712222", source="web", content="举报违建",
                         category="housing.illegal_building", confidential=True,
                         caller_name="张三"),
        "left": accept(service, "13904713333", source="phone", content="咨询公积金",
                       category="housing_fund", type="consult", actor="op1001"),
    }  # fmt: skip
    service.act(out["call"], "dispatch", actor="op1002")
    service.act(out["old"], "answer", actor="op1001", reply="已答复")
    return out


async def body(r: Any, status: int = 200) -> Any:
    assert r.status == status, await r.text()
    return await r.json()


async def test_the_inbox_lists_every_channel_waiting(
    desks: dict[str, Desk], service: TicketService
) -> None:
    n = seed(service)
    out = await body(await desks["op1001"].get("/api/inbox"))
    numbers = [t["number"] for t in out["tickets"]]
    assert sorted(numbers) == sorted([n["web"], n["upper"], n["secret"], n["left"]])
    deadlines = [dt.datetime.fromisoformat(t["deadline"]) for t in out["tickets"]]
    assert deadlines == sorted(deadlines)  # the nearest deadline first
    assert out["total"] == 4 and out["duplicate_days"] == 7
    waiting = {s["code"]: s["waiting"] for s in out["sources"]}
    assert waiting["web"] == 2 and waiting["people_leaders"] == 1 and waiting["phone"] == 1
    by = {t["number"]: t for t in out["tickets"]}
    upper = by[n["upper"]]
    assert upper["source_name"] == "人民网领导留言板" and upper["source_kind"] == "upper"
    assert upper["external_id"] == "PL-77" and upper["received_at"]
    assert upper["department"] == "property"
    assert upper["department_name"] == "呼和浩特市房产管理服务中心"
    secret = by[n["secret"]]  # the centre's staff see a confidential caller
    assert secret["caller"] == "13904712222" and secret["caller_name"] == "张三"
    assert secret["confidential"] is True and secret["duplicates"] == []
    # the web request: the call's ticket (same number) and the forwarded item (same address)
    web = by[n["web"]]
    dups = {d["number"]: d for d in web["duplicates"]}
    assert list(dups) == [n["call"], n["upper"]]  # oldest first; the old one is out of window
    assert dups[n["call"]]["reasons"] == ["same_caller"]
    assert dups[n["call"]]["merge_from"] == n["web"] and dups[n["call"]]["merge_into"] == n["call"]
    assert dups[n["upper"]]["reasons"] == ["same_address"]
    assert dups[n["upper"]]["merge_from"] == n["upper"]
    assert dups[n["upper"]]["merge_into"] == n["web"] and dups[n["upper"]]["can_merge"]
    assert [d["number"] for d in upper["duplicates"]] == [n["web"]]

    only = await body(await desks["super"].get("/api/inbox?source=people_leaders"))
    assert [t["number"] for t in only["tickets"]] == [n["upper"]] and only["total"] == 1
    one = await body(await desks["admin"].get(f"/api/inbox/{n['upper']}/duplicates"))
    assert [d["number"] for d in one["duplicates"]] == [n["web"]]

    bad = await body(await desks["op1001"].get("/api/inbox?source=fax"), 400)
    assert bad["error_id"] == "HL-WEB-080" and "people_leaders" in bad["message"]
    bad = await body(await desks["op1001"].get("/api/inbox?limit=0"), 400)
    assert bad["error_id"] == "HL-WEB-001"
    bad = await body(await desks["op1001"].get("/api/inbox/20990101-0001/duplicates"), 404)
    assert bad["error_id"] == "HL-TKT-003"
    assert (await desks["dept"].get("/api/inbox")).status == 403
    assert (await desks["anonymous"].get("/api/inbox")).status == 401


async def test_answer_dispatch_and_merge_through_the_lifecycle(
    desks: dict[str, Desk], service: TicketService
) -> None:
    n = seed(service)
    op = desks["op1001"]
    out = await body(await op.post(f"/api/inbox/{n['secret']}/dispatch", {}))
    assert out["state"] == "dispatched" and out["department"] == "urban_management"
    assert out["events"][-1]["actor"] == "op1001" and out["events"][-1]["action"] == "dispatch"
    out = await body(await op.post(f"/api/inbox/{n['left']}/dispatch", {"department": "water"}))
    assert out["department"] == "water"
    again = await body(await op.post(f"/api/inbox/{n['left']}/dispatch", {}), 409)
    assert again["error_id"] == "HL-TKT-002"

    bad = await body(await op.post(f"/api/inbox/{n['web']}/answer", {"reply": ""}), 400)
    assert bad["error_id"] == "HL-WEB-001"
    bad = await body(await op.post(f"/api/inbox/{n['web']}/dispatch", {"department": "x"}), 400)
    assert bad["error_id"] == "HL-TKT-004"

    # the forwarded item merged into the older web request (并单)
    out = await body(await op.post(f"/api/inbox/{n['upper']}/merge", {"into": n["web"]}))
    assert out["state"] == "merged" and out["merged_into"] == n["web"]
    after = await body(await op.get("/api/inbox"))
    assert [t["number"] for t in after["tickets"]] == [n["web"]]
    assert [d["number"] for d in after["tickets"][0]["duplicates"]] == [n["call"]]
    bad = await body(await op.post(f"/api/inbox/{n['web']}/merge", {"into": n["web"]}), 400)
    assert bad["error_id"] == "HL-TKT-004"
    bad = await body(await op.post(f"/api/inbox/{n['web']}/merge", {"into": n["old"]}), 409)
    assert bad["error_id"] == "HL-TKT-002"  # the old one is finished

    out = await body(await op.post(f"/api/inbox/{n['web']}/answer", {"reply": "已联系物业"}))
    assert out["state"] == "finished" and out["reply"] == "已联系物业"
    assert (await body(await op.get("/api/inbox")))["tickets"] == []

    # who may: a department no; without the CSRF token no; an unknown ticket 404
    r = await desks["dept"].post(f"/api/inbox/{n['web']}/answer", {"reply": "x"})
    assert (await body(r, 403))["error_id"] == "HL-WEB-004"
    r = await desks["super"].post(f"/api/inbox/{n['web']}/answer", {"reply": "x"}, csrf=False)
    assert (await body(r, 403))["error_id"] == "HL-WEB-005"
    r = await op.post("/api/inbox/20990101-0001/merge", {"into": n["web"]})
    assert (await body(r, 404))["error_id"] == "HL-TKT-003"
