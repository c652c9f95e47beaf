"""The operator desk in a real browser: Debian's Chromium, headless, driven by Playwright
(the system browser, no download), against the app on a real Redis and a real SQLite
database. An operator logs in, goes ready; a caller who has called before is queued; the
desk rings with the screen-pop (number, line, earlier tickets flagged open) before anyone
answers. A browser without a session is sent to the login page. The screenshots in
docs/screenshots/ are taken here."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ivr.accounts import Accounts
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.knowledge import KnowledgeBase
from ivr.knowledge.entry import Actor
from ivr.knowledge.seed import KNOWLEDGE_FILE, read_knowledge_file
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web import create_app
from ivr.web.call_routes import calls_part
from ivr.web.callback_routes import callbacks_part
from ivr.web.desk_socket import DeskHub
from ivr.web.knowledge_routes import knowledge_part
from ivr.web.portal_routes import portal_part
from ivr.web.screenpop import ScreenPops
from ivr.web.ticket_routes import tickets_part
from queueing.notices import NoticeSubscriber
from queueing.queue import QueueRequest, RedisQueue
from tests.queueing.conftest import Clock
from tests.web.conftest import AGENTS, PASSWORD

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
CALLER = "13904710001"
BEIJING = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")


def knowledge(database: Database) -> KnowledgeBase:
    """The knowledge base with the shipped entries (config/knowledge.yaml), as imported."""
    kb = KnowledgeBase(database, {})
    kb.import_entries(
        read_knowledge_file(ROOT / "config" / KNOWLEDGE_FILE), Actor("cli:test", "cli")
    )
    return kb


class Reserved:
    """The ticket numbers of calls, from the database (the server's come through Redis)."""

    def __init__(self, service: TicketService) -> None:
        self.service = service

    async def reserve_ticket(self, uniqueid: str) -> str | None:
        return await asyncio.to_thread(self.service.reserve_number, uniqueid)


def ticket_service(database: Database) -> TicketService:
    config = ROOT / "config"
    return TicketService(database, load_catalogue(config), Deadlines(calendar_from_config(config)))


@pytest.fixture
async def site(
    rq: RedisQueue, accounts: Accounts, database: Database, redis_url: str
) -> AsyncIterator[str]:
    service = ticket_service(database)
    hub = DeskHub(
        NoticeSubscriber(redis_url, rq.centre),
        ScreenPops(rq.client, database, centre=rq.centre, tickets=Reserved(service)),
        rq,
        pause_reasons=lambda: {"break": "小休", "meal": "用餐"},
    )
    app = create_app(
        rq,
        AGENTS,
        accounts,
        database,
        desks=hub,
        # no AMI here; the department portal for the ticket the operator dispatches
        parts=[
            tickets_part(lambda: service),
            callbacks_part(lambda: None),
            portal_part(),
            knowledge_part(knowledge(database)),
            calls_part(None),  # no transfers without Asterisk: no buttons
        ],
    )
    client = TestClient(TestServer(app))
    await client.start_server()
    await asyncio.wait_for(hub.subscriber.subscribed.wait(), 10)
    yield str(client.make_url("")).rstrip("/")
    await client.close()


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    async with playwright_api.async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        await b.close()


def earlier_tickets(database: Database) -> None:
    """The caller's history: an older ticket answered on the spot, a newer one dispatched
    and still open (a repeat caller)."""
    service = ticket_service(database)
    now = dt.datetime.now(dt.UTC)
    old = service.accept(
        caller=CALLER, type="consult", category="utilities.heating", actor="op1002",
        now=now - dt.timedelta(days=9),
    )  # fmt: skip
    service.act(
        old.number, "answer", actor="op1002", reply="已答复", now=now - dt.timedelta(days=9)
    )
    new = service.accept(
        caller=CALLER, type="complaint", category="housing.property", actor="op1002",
        now=now - dt.timedelta(days=2),
    )  # fmt: skip
    service.act(new.number, "dispatch", actor="op1002", now=now - dt.timedelta(days=2))


async def test_an_operator_logs_in_goes_ready_and_the_desk_rings(
    site: str,
    browser: object,
    rq: RedisQueue,
    clock: Clock,
    database: Database,
    accounts: Accounts,
) -> None:
    expect = playwright_api.expect
    clock.t = time.time()  # the queue's clock is the browser's: times in state read true
    earlier_tickets(database)
    context = await browser.new_context(viewport={"width": 1280, "height": 760}, locale="zh-CN")  # type: ignore[attr-defined]
    page = await context.new_page()
    await page.goto(site + "/desk")
    await expect(page).to_have_url(site + "/login?next=/desk")  # no session: the login page
    await page.fill("#username", "op1001")
    await page.fill("#password", "wrong password")
    await page.click("button[type=submit]")
    await expect(page.locator("#login-error")).to_contain_text("HL-ACC-001")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(site + "/desk")
    await expect(page.locator("#link")).to_contain_text("在线")
    await expect(page.locator("#who")).to_contain_text("op1001")
    await expect(page.locator("#pause-reason option")).to_have_count(2)
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "desk-idle.png"))

    await page.click("#ready")
    await expect(page.locator("#state")).to_contain_text("就绪")
    assert (await rq.agent("1001")).state == "ready"  # the page drove the real queue
    # the page's own session may not touch another operator's agent (a crafted request)
    status = await page.evaluate(
        """async () => (await fetch("/api/agents/1002/login", {method: "POST",
            headers: {"Content-Type": "application/json", "X-CSRF-Token": desk.me.csrf_token},
            body: JSON.stringify({ready: true})})).status"""
    )
    assert status == 403 and (await rq.agent("1002")).state == "offline"

    await rq.enqueue(QueueRequest("browser-1", CALLER, "12345", "general", 0, clock()))
    await expect(page.locator("#pop-caller")).to_contain_text(CALLER)
    await expect(page.locator("#state")).to_contain_text("振铃")
    await expect(page.locator("#pop")).to_have_class("pop ringing")
    await expect(page.locator("#pop-repeat")).to_be_visible()  # an earlier ticket is open
    await expect(page.locator("#pop-tickets tbody tr")).to_have_count(2)
    await expect(page.locator("#pop-tickets tbody tr.open")).to_have_count(1)
    await expect(page.locator("#pop-tickets tbody tr.open")).to_contain_text("住建/物业服务")
    accepted = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).astimezone(BEIJING)
    await expect(page.locator("#pop-tickets tbody tr.open")).to_contain_text(
        accepted.strftime("%Y-%m-%d %H:")  # in Beijing time, as the centre reads it
    )
    await page.screenshot(path=str(SHOTS / "desk-ringing.png"))

    # the ticket form, filled in from the pop: the caller, and the number reserved for the call
    reserved = (await page.locator("#pop-ticket").text_content()) or ""
    assert reserved.strip()
    await expect(page.locator("#t-caller")).to_have_value(CALLER)
    await expect(page.locator("#ticket-number")).to_contain_text(reserved.strip())
    await expect(page.locator("#t-merge option")).to_have_count(1)  # the open earlier ticket
    await page.select_option("#t-type", "complaint")
    await page.select_option("#t-cat1", "housing")
    await page.select_option("#t-cat2", "housing.property")
    await expect(page.locator("#t-department")).to_have_value("property")  # the dispatch map
    await page.fill("#t-content", "小区电梯停运三天，物业不修")
    await page.fill("#t-address", "新城区海东路 12 号")
    await page.screenshot(path=str(SHOTS / "desk-ticket-form.png"), full_page=True)
    await page.click("#t-submit")
    await expect(page.locator("#t-result")).to_contain_text(f"工单 {reserved.strip()}")
    await expect(page.locator("#t-result")).to_contain_text("派")
    filed = ticket_service(database).get(reserved.strip())
    assert (filed.state, filed.department, filed.call_uniqueid) == (
        "dispatched",
        "property",
        "browser-1",
    )

    await rq.abandon("browser-1")  # the caller hangs up while it rings
    await expect(page.locator("#pop-idle")).to_be_visible()

    # the knowledge base, searched as the operator types: a two-character word finds its entry
    await page.fill("#kb-q", "医保")
    hits = page.locator("#kb-hits li")
    await expect(hits.first).to_contain_text("医保")
    await expect(page.locator("#kb-hits")).to_contain_text("城乡居民医保")
    await expect(hits.first.locator("mark").first).to_have_text("医保")
    await page.click("#kb-propose-box summary")
    await page.fill("#kb-title", "新生儿医保参保")
    await page.fill("#kb-body", "出生后 3 个月内在社区办理参保登记，自出生之日起享受待遇。")
    await page.click("#kb-propose button[type=submit]")
    await expect(page.locator("#kb-proposed")).to_contain_text("待班长审核")  # an operator's
    await page.screenshot(path=str(SHOTS / "desk-knowledge.png"), full_page=True)

    # the callback tasks: the 回访 of the caller's ticket answered 9 days ago
    tasks = page.locator("#cb-tasks tbody tr")
    await expect(tasks).to_have_count(1)
    await expect(tasks).to_contain_text("回访")
    await expect(tasks).to_contain_text(CALLER)
    await tasks.locator(".cb-call").click()  # no AMI dialler on this server: said so
    await expect(page.locator("#problem")).to_contain_text("HL-WEB-012")
    await tasks.locator(".cb-close").click()
    await page.fill("#cb-result", "市民表示满意")
    await page.select_option("#cb-satisfaction", "4")
    await page.click("#cb-done")
    await expect(tasks).to_have_count(0)
    await expect(page.locator("#problem")).to_be_hidden()

    await page.select_option("#pause-reason", "meal")
    await page.click("#pause")
    await expect(page.locator("#state")).to_contain_text("用餐")
    await page.click("#session-logout")
    await expect(page).to_have_url(site + "/login")
    await page.goto(site + "/desk")  # the session has ended
    await expect(page).to_have_url(site + "/login?next=/desk")
    await context.close()
    await the_department_finishes_it(site, browser, accounts, database, reserved.strip())


async def the_department_finishes_it(
    site: str, browser: object, accounts: Accounts, database: Database, number: str
) -> None:
    """The property department's user logs in, lands on its portal, sees the ticket the
    operator dispatched (and overdue ones in red, not the water company's), signs for it,
    replies and finishes it."""
    expect = playwright_api.expect
    service = ticket_service(database)
    late = service.accept(
        caller="13904710002", type="complaint", category="housing.property", actor="op1002",
        content="楼道灯不亮", now=dt.datetime.now(dt.UTC) - dt.timedelta(days=10),
    )  # fmt: skip
    service.act(late.number, "dispatch", actor="op1002")
    other = service.accept(
        caller="13904710003", type="complaint", category="utilities.water", actor="op1002",
        content="停水",
    )  # fmt: skip
    service.act(other.number, "dispatch", actor="op1002")
    accounts.add_user("property1", PASSWORD, "department", department="property", actor="t")
    context = await browser.new_context(viewport={"width": 1280, "height": 760}, locale="zh-CN")  # type: ignore[attr-defined]
    page = await context.new_page()
    await page.goto(site + "/login")
    await page.fill("#username", "property1")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(site + "/portal")  # a department's home
    rows = page.locator("#p-tickets tbody tr")
    await expect(rows).to_have_count(3)  # with the caller's earlier one (dispatched 2 days ago)
    await expect(rows.first).to_have_class("overdue")  # the nearest deadline first, in red
    await expect(page.locator(f"tr[data-number='{other.number}']")).to_have_count(0)
    await page.click(f"tr[data-number='{number}']")
    await expect(page.locator("#d-number")).to_have_text(number)
    await page.click("#d-sign")
    await expect(page.locator("#d-state")).to_have_text("签收")
    await page.fill("#d-reply", "已联系物业，电梯今日修复")
    await page.screenshot(path=str(SHOTS / "portal.png"))
    await page.click("#d-finish")
    await expect(page.locator("#d-state")).to_have_text("办结")
    await expect(rows).to_have_count(2)  # the finished one has left the list
    assert service.get(number).reply == "已联系物业，电梯今日修复"
    await context.close()
