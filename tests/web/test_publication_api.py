"""Publishing a report (``/api/report-publications``) on a real SQLite database: the system
drafts the narrative sections from the month's tickets, a supervisor edits and saves them, the
report is published with them and kept as published (no second edit, no second publication),
every change audited; CSRF and roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import ClientResponse
from sqlalchemy import select

from ivr.accounts import Accounts
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.db.tables import AuditRow
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web.report_routes import reports_part
from ivr.web.ticket_routes import tickets_part
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR
from tests.queueing.conftest import clock, rq  # noqa: F401 (fixtures)
from tests.web.conftest import Desk, desks_on

PLACE = "新城区海东路12号"


def month_tickets(service: TicketService) -> None:
    """This month: three complaints about one building's property service (a repeated
    place, and a category that grew from nothing), a suggestion, one finished fast with a
    very satisfied caller."""
    for n in range(3):
        t = service.accept(caller=f"1390471000{n}", type="complaint", category="housing.property",
                           actor="op1001", content="电梯停运三天", address=PLACE)  # fmt: skip
        service.act(t.number, "dispatch", actor="op1001")
    service.accept(caller="13904710005", type="suggestion", category="transport.bus",
                   actor="op1001", content="建议增加早高峰公交班次")  # fmt: skip
    t = service.accept(caller="13904710006", type="help", category="utilities.water",
                       actor="op1001", content="小区停水，请尽快恢复")  # fmt: skip
    for action in ("dispatch", "sign", "handle"):
        service.act(t.number, action, actor="op1001")
    service.act(t.number, "finish", actor="water", reply="已抢修，当日恢复供水")
    service.act(t.number, "callback", actor="v", satisfaction=5, solved=True)


@pytest.fixture
async def desks(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
    tmp_path: Path,
) -> AsyncIterator[dict[str, Desk]]:
    service = TicketService(
        database, load_catalogue(CONFIG_DIR), Deadlines(calendar_from_config(CONFIG_DIR))
    )
    month_tickets(service)
    parts = [tickets_part(lambda: service), reports_part(tmp_path / "reports")]
    async with desks_on(rq, accounts, database, parts) as out:
        yield out


async def put(desk: Desk, path: str, body: Any, csrf: bool = True) -> ClientResponse:
    """Save a narrative (``POST`` on the report's publication)."""
    return await desk.post(path, body, csrf=csrf)


async def test_draft_edit_publish_and_keep(desks: dict[str, Desk], database: Database) -> None:
    month = dt.datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    base = f"/api/report-publications/month/{month}"
    boss = desks["super"]

    r = await boss.get(base)
    assert r.status == 200, await r.text()
    drafted = await r.json()
    assert drafted["state"] == "new" and drafted["published_url"] is None
    assert "住建/物业服务问题3件，比上期0件增加3件。如：电梯停运三天。" in drafted["problems"]
    assert "（1）建议增加早高峰公交班次。" in drafted["suggestions"]
    assert f"（1）{PLACE}：住建问题反映3次。" in drafted["suggestions"]
    assert "呼和浩特市供水总公司解决供水问题" in drafted["solved"]
    assert (
        "办理结果：已抢修，当日恢复供水。" in drafted["solved"]
        and "回访非常满意" in drafted["solved"]
    )

    # nothing saved yet: not publishable; nothing published to read
    r = await boss.post(f"{base}/publish")
    assert (r.status, (await r.json())["error_id"]) == (409, "HL-RPT-002")
    r = await boss.get(f"{base}/published")
    assert (r.status, (await r.json())["error_id"]) == (404, "HL-RPT-003")

    edited = {
        "problems": "1.关于物业服务问题\n（1）海东路12号电梯停运三天，居民意见很大。",
        "suggestions": drafted["suggestions"],
        "solved": drafted["solved"],
    }
    r = await put(boss, base, edited, csrf=False)
    assert r.status == 403  # a state change without the session's CSRF token
    r = await put(boss, base, edited)
    assert r.status == 200, await r.text()
    saved = await r.json()
    assert (saved["state"], saved["edited_by"]) == ("draft", "super")
    assert (await (await boss.get(base)).json())["problems"] == edited["problems"]
    # the live report carries the saved narrative
    page = await (await boss.get(f"/api/reports/month/{month}/index.html")).text()
    assert f"<h2>一、{month[:4]}年{int(month[5:])}月份反映比较突出的几个问题</h2>" in page
    assert "<p>（1）海东路12号电梯停运三天，居民意见很大。</p>" in page

    r = await boss.post(f"{base}/publish")
    assert r.status == 200, await r.text()
    done = await r.json()
    assert (done["state"], done["published_by"]) == ("published", "super")
    r = await boss.get(done["published_url"])
    assert (r.status, r.content_type) == (200, "text/html")
    published = await r.text()
    assert "<p>（1）海东路12号电梯停运三天，居民意见很大。</p>" in published
    assert "src='data:image/png;base64," in published  # the charts inside: a page alone
    md = await (await boss.get(f"{done['published_url']}?format=md")).text()
    assert "## 三、" in md and "已抢修，当日恢复供水" in md

    # kept as published: no further edit, no second publication; the figures may change,
    # the published page does not
    r = await put(boss, base, {**edited, "problems": "改"})
    assert (r.status, (await r.json())["error_id"]) == (409, "HL-RPT-001")
    r = await desks["admin"].post(f"{base}/publish")
    assert (r.status, (await r.json())["error_id"]) == (409, "HL-RPT-001")
    assert await (await boss.get(done["published_url"])).text() == published
    listed = await (await boss.get("/api/report-publications")).json()
    assert [(p["label"], p["state"]) for p in listed["publications"]] == [(month, "published")]

    with database.session() as s:
        rows = s.execute(
            select(AuditRow.action, AuditRow.actor, AuditRow.target).order_by(AuditRow.id)
        ).all()
    target = f"report:month/{month}"
    mine = [(a, who) for a, who, t in rows if t == target]
    assert mine == [("report.save", "super"), ("report.publish", "super")]


async def test_who_may_and_bad_input(desks: dict[str, Desk]) -> None:
    base = "/api/report-publications/month/2020-02"
    for name, status in (("op1001", 403), ("dept", 403), ("anonymous", 401)):
        assert (await desks[name].get(base)).status == status
        assert (await desks[name].post(f"{base}/publish")).status == status
    boss = desks["super"]
    r = await boss.get("/api/report-publications/month/2020-13")
    assert (r.status, (await r.json())["error_id"]) == (400, "HL-WEB-001")
    r = await put(boss, base, {"problems": "x"})  # sections missing
    assert (r.status, (await r.json())["error_id"]) == (400, "HL-WEB-001")
    r = await put(boss, base, {"problems": "x" * 20001, "suggestions": "", "solved": ""})
    assert r.status == 400
