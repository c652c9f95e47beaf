"""The operators' inbox (/inbox) in Debian's Chromium (Playwright, headless) on a real Redis
and SQLite: a citizen's web request and an item forwarded by 人民网领导留言板 (about the same
address, written with full-width digits on one side) and a call's ticket left accepted; an
operator opens the inbox from the desk, sees both channels with their names and counts,
filters by channel, dispatches the call's ticket to the proposed department, merges the
forwarded item into the older web request in one click and answers the web request. The
screenshot in docs/screenshots/ is taken here."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ivr.accounts import Accounts
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web import create_app
from ivr.web.inbox_routes import inbox_part
from ivr.web.ticket_routes import tickets_part
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR, ROOT
from tests.web.conftest import AGENTS, PASSWORD

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")


@pytest.fixture
def service(database: Database) -> TicketService:
    return TicketService(
        database, load_catalogue(CONFIG_DIR), Deadlines(calendar_from_config(CONFIG_DIR))
    )


def seed(service: TicketService) -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    web = service.accept(
        caller="13904715555", type="complaint", category="housing.property", actor="web",
        source="web", content="小区电梯停运三天，物业不管", address="新城区 海拉尔东路１２号",
        caller_name="李女士", now=now - dt.timedelta(hours=2),
    )  # fmt: skip
    upper = service.accept(
        caller="13800001234", type="help", category="housing.property", actor="import",
        source="people_leaders", external_id="RMW-2026-0815", content="海拉尔东路12号电梯坏了",
        address="新城区海拉尔东路12号", received_at=now - dt.timedelta(days=1),
        now=now - dt.timedelta(hours=1),
    )  # fmt: skip
    call = service.accept(
        caller="13904716666", type="consult", category="utilities.water", actor="op1002",
        content="停水什么时候恢复", address="赛罕区大学西街",
    )  # fmt: skip
    return {"web": web.number, "upper": upper.number, "call": call.number}


@pytest.fixture
async def site(
    rq: RedisQueue, accounts: Accounts, database: Database, service: TicketService
) -> AsyncIterator[str]:
    parts = [tickets_part(lambda: service), inbox_part()]
    app = create_app(rq, AGENTS, accounts, database, parts=parts)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield str(client.make_url("")).rstrip("/")
    await client.close()


async def login(page: Any, site: str, username: str, then: str = "") -> None:
    await page.goto(site + "/login" + (f"?next={then}" if then else ""))
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")


async def test_an_operator_works_through_the_inbox(site: str, service: TicketService) -> None:
    expect = playwright_api.expect
    n = seed(service)
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1600, "height": 900}, locale="zh-CN")
        await login(page, site, "op1001")
        await expect(page).to_have_url(site + "/desk")  # an operator's home
        await page.click("text=待办受理 Inbox")
        await expect(page).to_have_url(site + "/inbox")
        await expect(page.locator("#c-all")).to_have_text("3")
        await expect(page.locator("#c-web")).to_have_text("1")
        await expect(page.locator("#c-people_leaders")).to_have_text("1")
        await expect(page.locator("#i-list tbody tr")).to_have_count(3)

        web = page.locator(f"#i-list tr[data-number='{n['web']}']")
        await expect(web.locator(".source .badge")).to_have_text("网上诉求")
        await expect(web.locator(".request")).to_contain_text("李女士 13904715555")
        upper = page.locator(f"#i-list tr[data-number='{n['upper']}']")
        await expect(upper.locator(".source .badge")).to_have_text("人民网领导留言板")
        await expect(upper.locator(".source")).to_contain_text("编号 RMW-2026-0815")
        await expect(upper.locator(".source")).to_contain_text("收到 ")
        dup = upper.locator(f".dups li[data-number='{n['web']}']")
        await expect(dup).to_contain_text("同一地址、同一分类")
        await expect(dup).to_contain_text("网上诉求")

        # one channel only
        await page.click("#i-tabs [data-source=people_leaders]")
        await expect(page.locator("#i-list tbody tr")).to_have_count(1)
        await expect(upper).to_be_visible()
        await page.click("#i-tabs [data-source='']")
        await expect(page.locator("#i-list tbody tr")).to_have_count(3)
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "inbox.png"), full_page=True)

        # 派单: the dispatch map's department is chosen already
        call = page.locator(f"#i-list tr[data-number='{n['call']}']")
        await expect(call.locator("select.dept")).to_have_value("water")
        await call.locator(".act-dispatch").click()
        await expect(page.locator("#i-done")).to_have_text(
            f"已派单：工单 {n['call']} → 呼和浩特市供水总公司"
        )
        await expect(call).to_have_count(0)
        assert service.get(n["call"]).department == "water"

        # 并单: the forwarded item into the older web request, in one click
        await upper.locator(".act-merge-dup").click()
        await expect(page.locator("#i-done")).to_have_text(
            f"已并单：工单 {n['upper']} 并入 {n['web']}"
        )
        await expect(upper).to_have_count(0)
        await expect(page.locator("#c-people_leaders")).to_have_text("0")
        merged = service.get(n["upper"])
        assert merged.state == "merged" and merged.merged_into == service.get(n["web"]).id
        await expect(web.locator(".dups li")).to_have_count(0)

        # 直接办结 without a reply is the API's refusal; then with one
        await web.locator(".act-answer").click()
        await expect(page.locator("#problem")).to_contain_text("HL-WEB-001")
        await web.locator("textarea.reply").fill("已联系物业公司，电梯今日修复")
        await web.locator(".act-answer").click()
        await expect(page.locator("#i-done")).to_have_text(f"已直接办结：工单 {n['web']}")
        await expect(page.locator("#problem")).to_be_hidden()
        await expect(page.locator("#i-empty")).to_be_visible()
        await expect(page.locator("#c-all")).to_have_text("0")
        assert service.get(n["web"]).reply == "已联系物业公司，电梯今日修复"
        await browser.close()


async def test_a_department_user_sees_the_refusal(site: str, service: TicketService) -> None:
    expect = playwright_api.expect
    seed(service)
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(locale="zh-CN")
        await login(page, site, "dept")
        await expect(page).to_have_url(site + "/portal")
        await page.goto(site + "/inbox")
        await expect(page.locator("#problem")).to_contain_text("HL-WEB-004")
        await expect(page.locator("#i-list tbody tr")).to_have_count(0)
        await browser.close()
