"""The supervisors' review page (/review) in Debian's Chromium (Playwright, headless) on a real
Redis and SQLite: tickets seeded in every state through the ticket service; a supervisor
opens the review from the wallboard, sees each list with its count, approves an extension,
re-dispatches a returned ticket, reminds a supervised one, sends a dissatisfied one to redo
and approves a knowledge proposal; a department user gets the API's refusal on the page.
The screenshot in docs/screenshots/ is taken here."""

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
from ivr.knowledge import Actor, Draft, KnowledgeBase
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web import create_app
from ivr.web.knowledge_routes import knowledge_part
from ivr.web.supervision_routes import supervision_part
from ivr.web.ticket_routes import tickets_part
from ivr.web.wallboard import Wallboard
from ivr.web.wallboard_routes import WallboardHub, wallboard_part
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR, ROOT
from tests.queueing.conftest import Clock
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


def dispatched(service: TicketService, caller: str, content: str, **kw: Any) -> str:
    t = service.accept(caller=caller, type="help", category="housing.property",
                       actor="op1001", content=content, **kw)  # fmt: skip
    service.act(t.number, "dispatch", actor="op1001", **kw)
    return t.number


def seed(service: TicketService, kb: KnowledgeBase) -> dict[str, str]:
    """A ticket on every review list (each its own caller: no 督办 for repeated requests)."""
    out = {
        "extension": dispatched(service, "13904710001", "电梯停运三天"),
        "returned": dispatched(service, "13904710002", "小区停水"),
        "supervised": dispatched(service, "13904710003", "楼道堆放杂物"),
        "overdue": dispatched(
            service,
            "13904710004",
            "物业不开暖气",
            now=dt.datetime.now(dt.UTC) - dt.timedelta(days=40),
        ),
        "dissatisfied": dispatched(service, "13904710005", "楼顶漏雨"),
    }
    service.act(out["extension"], "extend_request", actor="dept", note="等电梯配件", days=3)
    service.act(out["returned"], "return", actor="dept", note="停水属于供水公司")
    service.act(out["supervised"], "supervise", actor="super2", note="市长关注")
    service.sweep()  # the overdue one is put under supervision (督办) too
    number = out["dissatisfied"]
    for action, params in (("sign", {}), ("handle", {}), ("finish", {"reply": "已修补"})):
        service.act(number, action, actor="dept", **params)
    service.act(number, "callback", actor="op1002", note="仍然漏雨", satisfaction=1, solved=False)
    kb.propose(
        Draft("供暖投诉受理", "供暖期室温低于18℃，可转供热管理中心，电话0471-6610000。"),
        Actor("op1001", "operator"),
        approve=False,
    )
    return out


@pytest.fixture
async def site(
    rq: RedisQueue, accounts: Accounts, database: Database, service: TicketService, clock: Clock
) -> AsyncIterator[str]:
    kb = KnowledgeBase(database)
    parts = [
        tickets_part(lambda: service),
        supervision_part(),
        knowledge_part(kb),
        wallboard_part(WallboardHub(Wallboard(rq, database, clock=clock))),
    ]
    seed(service, kb)
    app = create_app(rq, AGENTS, accounts, database, parts=parts)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield str(client.make_url("")).rstrip("/")
    await client.close()


async def login(page: Any, site: str, username: str) -> None:
    await page.goto(site + "/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")


async def test_a_supervisor_works_through_the_review_lists(
    site: str, service: TicketService
) -> None:
    expect = playwright_api.expect
    numbers = _numbers(service)
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1600, "height": 900}, locale="zh-CN")
        await login(page, site, "super")
        await expect(page).to_have_url(site + "/wallboard")  # a supervisor's home
        await page.click("text=督办审核 Review")
        await expect(page).to_have_url(site + "/review")
        counts = {"extensions": "1", "returned": "1", "supervised": "2", "overdue": "1",
                  "dissatisfied": "1", "knowledge": "1"}  # fmt: skip
        for view, count in counts.items():
            await expect(page.locator(f"#c-{view}")).to_have_text(count)

        # 延期: the department's reason shown; approved, the row leaves, the new deadline said
        row = page.locator(f"#r-list tr[data-number='{numbers['extension']}']")
        await expect(row).to_contain_text("申请延期 3 个工作日：等电梯配件")
        await expect(row.locator(".dept-name")).to_have_text("呼和浩特市房产管理服务中心")
        await expect(row.locator(".deadline")).to_contain_text("个工作日")
        before = service.get(numbers["extension"]).deadline
        await row.locator(".act-extend-approve").click()
        await expect(page.locator("#r-done")).to_contain_text(
            f"已批准延期：工单 {numbers['extension']}"
        )
        await expect(row).to_have_count(0)
        await expect(page.locator("#c-extensions")).to_have_text("0")
        await expect(page.locator("#r-empty")).to_be_visible()
        assert service.get(numbers["extension"]).deadline > before

        # 退单: no department chosen is the API's refusal; then re-dispatched to the water company
        await page.click("#r-tabs [data-view=returned]")
        row = page.locator(f"#r-list tr[data-number='{numbers['returned']}']")
        await expect(row).to_contain_text("退单：停水属于供水公司")
        await row.locator(".act-redispatch").click()
        await expect(page.locator("#problem")).to_contain_text("HL-WEB-001")
        await row.locator("select.dept").select_option("water")
        await row.locator("input.note").fill("请供水公司处理")
        await row.locator(".act-redispatch").click()
        await expect(page.locator("#r-done")).to_contain_text(
            f"已改派：工单 {numbers['returned']} → 呼和浩特市供水总公司"
        )
        await expect(page.locator("#problem")).to_be_hidden()
        await expect(row).to_have_count(0)
        assert service.get(numbers["returned"]).department == "water"

        # 督办: the reasons shown; a reminder counted on the row, which stays supervised
        await page.click("#r-tabs [data-view=supervised]")
        row = page.locator(f"#r-list tr[data-number='{numbers['supervised']}']")
        await expect(row.locator(".why")).to_have_text("人工督办")
        overdue = page.locator(f"#r-list tr[data-number='{numbers['overdue']}']")
        await expect(overdue.locator(".deadline")).to_contain_text("已超期")
        await expect(overdue.locator(".why")).to_have_text("超期")
        await row.locator("input.note").fill("请今日办结")
        await row.locator(".act-remind").click()
        await expect(page.locator("#r-done")).to_have_text(
            f"已催办：工单 {numbers['supervised']}（第 1 次）"
        )
        await expect(row.locator(".why")).to_have_text("人工督办；已催办 1 次")
        assert service.get(numbers["supervised"]).reminders == 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "review.png"))

        # 回访不满意 → 重办
        await page.click("#r-tabs [data-view=dissatisfied]")
        row = page.locator(f"#r-list tr[data-number='{numbers['dissatisfied']}']")
        await expect(row.locator(".why")).to_have_text("非常不满意，问题未解决：仍然漏雨")
        await row.locator(".act-redo").click()
        await expect(page.locator("#r-done")).to_contain_text(
            f"已重办：工单 {numbers['dissatisfied']}（派单）"
        )
        await expect(row).to_have_count(0)
        await expect(page.locator("#c-dissatisfied")).to_have_text("0")
        assert service.get(numbers["dissatisfied"]).redos == 1

        # 知识库: the proposed text shown in full, approved
        await page.click("#r-tabs [data-view=knowledge]")
        row = page.locator("#r-proposals tbody tr").first
        await expect(row.locator(".body")).to_have_text(
            "供暖期室温低于18℃，可转供热管理中心，电话0471-6610000。"
        )
        await expect(row).to_contain_text("op1001")
        await page.click("#r-tabs [data-view=supervised]")
        # the redone one is 督办 now too: its caller's request handled twice, unresolved
        await expect(page.locator("#r-list tbody tr")).to_have_count(3)
        redone = page.locator(f"#r-list tr[data-number='{numbers['dissatisfied']}'] .why")
        await expect(redone).to_have_text("重复诉求未解决")
        await expect(page.locator("#c-supervised")).to_have_text("3")
        await page.click("#r-tabs [data-view=knowledge]")
        await row.locator(".act-approve").click()
        await expect(page.locator("#r-done")).to_have_text("已批准知识条目「供暖投诉受理」")
        await expect(page.locator("#r-proposals tbody tr")).to_have_count(0)
        await expect(page.locator("#c-knowledge")).to_have_text("0")

        await page.click("text=监控大屏 Wallboard")
        await expect(page).to_have_url(site + "/wallboard")
        await browser.close()


def _numbers(service: TicketService) -> dict[str, str]:
    """The seeded tickets by what they are, found again by their callers."""
    found, _ = service.list_tickets(limit=50)
    by_caller = {t.caller: t.number for t in found}
    names = ("extension", "returned", "supervised", "overdue", "dissatisfied")
    return {name: by_caller[f"1390471000{i}"] for i, name in enumerate(names, 1)}


async def test_a_department_user_sees_the_refusal(site: str) -> None:
    expect = playwright_api.expect
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(locale="zh-CN")
        await login(page, site, "dept")
        await expect(page).to_have_url(site + "/portal")  # a department's home
        await page.goto(site + "/review")
        await expect(page.locator("#problem")).to_contain_text("HL-WEB-004")
        await expect(page.locator("#r-list tbody tr")).to_have_count(0)
        await expect(page.locator("#c-extensions")).to_have_text("–")
        await browser.close()
