"""The citizens' pages in Debian's Chromium (Playwright, headless) on a real Redis and SQLite,
beside the staff's app on the same database: a citizen submits a confidential request with a
script in it, gets its number; the operator reads the web ticket over the staff API and
dispatches it; the department sees it on its portal with the caller hidden and the script as
text, replies and finishes it; the citizen looks the number up and reads the reply, and a
wrong phone number gets the same answer as an unknown ticket. The screenshots
docs/screenshots/citizen-submit.png and citizen-lookup.png are taken here."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ivr.accounts import Accounts
from ivr.citizen.citizen_app import create_citizen_app
from ivr.citizen.limits import RateLimiter
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web import create_app
from ivr.web.portal_routes import portal_part
from ivr.web.ticket_routes import tickets_part
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR, ROOT
from tests.web.conftest import AGENTS, PASSWORD

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")
SCRIPT = "<img src=x onerror=alert(1)>"


@pytest.fixture
def service(database: Database) -> TicketService:
    return TicketService(
        database, load_catalogue(CONFIG_DIR), Deadlines(calendar_from_config(CONFIG_DIR))
    )


@pytest.fixture
async def sites(
    rq: RedisQueue, accounts: Accounts, database: Database, service: TicketService
) -> AsyncIterator[tuple[str, str]]:
    """The citizens' site and the staff's, apart, on one database and one Redis."""
    citizen = TestClient(
        TestServer(create_citizen_app(lambda: service, RateLimiter(rq.client, rq.centre)))
    )
    staff_app = create_app(
        rq, AGENTS, accounts, database, parts=[tickets_part(lambda: service), portal_part()]
    )
    staff = TestClient(TestServer(staff_app))
    await citizen.start_server()
    await staff.start_server()
    accounts.add_user("water1", PASSWORD, "department", department="water", actor="t")
    yield (
        str(citizen.make_url("")).rstrip("/"),
        str(staff.make_url("")).rstrip("/"),
    )
    await citizen.close()
    await staff.close()


async def login(page: Any, site: str, username: str) -> None:
    await page.goto(site + "/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")


async def test_a_citizen_submits_a_department_answers_the_citizen_reads_it(
    sites: tuple[str, str], service: TicketService
) -> None:
    expect = playwright_api.expect
    citizen_site, staff_site = sites
    dialogs: list[str] = []
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        citizen = await browser.new_page(viewport={"width": 900, "height": 900}, locale="zh-CN")
        citizen.on("dialog", lambda d: dialogs.append(d.message))

        # 1. the citizen fills the form: type, category, confidential
        await citizen.goto(citizen_site + "/")
        await expect(citizen.locator("#c-type option")).to_have_count(6)
        await expect(citizen.locator("#c-category option").first).to_have_text(
            "不清楚（由热线分类）"
        )
        await citizen.fill("#c-phone", "13800138000")
        await citizen.fill("#c-name", "张三")
        await citizen.select_option("#c-type", label="求助")
        await citizen.select_option("#c-category", label="水、电、气")
        await citizen.fill("#c-address", "新城区海拉尔东街 12 号 " + SCRIPT)
        await citizen.fill("#c-content", "小区停水两天了，没有任何通知，请尽快恢复供水。")
        await citizen.check("#c-confidential")
        await expect(citizen.locator("#c-count")).to_have_text("23 / 2000")
        # a bad number first: the API's refusal on the page, the form kept
        await citizen.fill("#c-phone", "12345")
        await citizen.click("#c-send")
        await expect(citizen.locator("#problem")).to_contain_text("HL-CIT-001")
        await expect(citizen.locator("#c-content")).not_to_be_empty()
        await citizen.fill("#c-phone", "138 0013 8000")
        await citizen.click("#c-send")
        await expect(citizen.locator("#receipt")).to_be_visible()
        await expect(citizen.locator("#problem")).to_be_hidden()
        await expect(citizen.locator("#c-send")).to_be_disabled()  # sent once, kept in view
        await expect(citizen.locator("#c-content")).to_be_disabled()
        number = (await citizen.locator("#r-number").text_content() or "").strip()
        assert number
        await expect(citizen.locator("#r-deadline")).not_to_be_empty()
        await citizen.screenshot(path=str(SHOTS / "citizen-submit.png"), full_page=True)
        t = service.get(number)
        assert (t.source, t.accepted_by, t.caller, t.confidential) == (
            "web", "web", "13800138000", True,
        )  # fmt: skip

        # 2. the operator reads it on the staff's site (not on the citizens'), dispatches it
        staff = await browser.new_page(viewport={"width": 1280, "height": 760}, locale="zh-CN")
        await login(staff, staff_site, "op1001")
        await expect(staff).to_have_url(staff_site + "/desk")
        seen = await (await staff.request.get(f"{staff_site}/api/tickets/{number}")).json()
        assert (seen["accepted_by"], seen["caller"], seen["category"]) == (
            "web", "13800138000", "utilities",
        )  # fmt: skip
        service.act(number, "dispatch", actor="op1001", department="water")
        await staff.close()

        # 3. the water company sees it on its portal: the caller hidden, the script as text
        dept = await browser.new_page(viewport={"width": 1280, "height": 760}, locale="zh-CN")
        await login(dept, staff_site, "water1")
        await expect(dept).to_have_url(staff_site + "/portal")
        row = dept.locator(f"tr[data-number='{number}']")
        await expect(row).to_contain_text("***")
        await expect(row).not_to_contain_text("13800138000")
        await row.click()
        await expect(dept.locator("#d-fields")).to_contain_text(SCRIPT)
        await dept.click("#d-sign")
        await expect(dept.locator("#d-state")).to_have_text("签收")
        await dept.fill("#d-reply", "管网抢修已完成，今晚 8 点前恢复供水。")
        await dept.click("#d-finish")
        await expect(dept.locator("#d-state")).to_have_text("办结")
        await dept.close()

        # 4. the citizen looks it up from the receipt's link: the state and the reply
        await citizen.click("#r-lookup")
        await expect(citizen).to_have_url(f"{citizen_site}/lookup?number={number}")
        await expect(citizen.locator("#l-number")).to_have_value(number)
        await citizen.fill("#l-phone", "13900139000")  # a wrong number: as if unknown
        await citizen.click("#l-send")
        await expect(citizen.locator("#problem")).to_contain_text("HL-CIT-009")
        await expect(citizen.locator("#result")).to_be_hidden()
        await citizen.fill("#l-phone", "138-0013-8000")
        await citizen.click("#l-send")
        await expect(citizen.locator("#o-state")).to_have_text("已办结")
        await expect(citizen.locator("#o-reply")).to_have_text(
            "管网抢修已完成，今晚 8 点前恢复供水。"
        )
        await expect(citizen.locator("#o-category")).to_have_text("水、电、气")
        await expect(citizen.locator("#problem")).to_be_hidden()
        await citizen.screenshot(path=str(SHOTS / "citizen-lookup.png"), full_page=True)

        # the staff's pages are not on the citizens' listener
        r = await citizen.request.get(citizen_site + "/desk")
        assert r.status == 404
        await browser.close()
    assert dialogs == []  # no script ran
