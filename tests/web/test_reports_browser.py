"""Publishing a report in Debian's Chromium (Playwright, headless): on seed 004's month made by
``seed-demo``, a supervisor opens the reports page, picks February 2020, opens its narrative
(drafted by the system), edits and saves it, publishes it, and reads the published report
with the edited text, the forwarded items' paragraph and the charts inside. The screenshot
docs/screenshots/report-publish.png is taken here."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ivr.accounts import Accounts
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.devtools.demo import seed_demo
from ivr.devtools.seed004 import DEMO_CONFIG_DIR
from ivr.reports import parse_period
from ivr.reports.publications import Publications
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web import create_app
from ivr.web.report_routes import reports_part
from ivr.web.ticket_routes import tickets_part
from queueing.queue import RedisQueue
from tests.conftest import ROOT
from tests.web.conftest import AGENTS, PASSWORD

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")
EDIT = "1.关于疫情方面问题\n（1）小区垃圾清理不及时、拾荒老人随意堆放物品问题。"


@pytest.fixture
async def site(
    rq: RedisQueue, accounts: Accounts, database: Database, tmp_path: Path
) -> AsyncIterator[str]:
    service = TicketService(
        database,
        load_catalogue(DEMO_CONFIG_DIR),
        Deadlines(calendar_from_config(DEMO_CONFIG_DIR)),
    )
    seed_demo(database, service.catalogue, service.deadlines, parse_period(month="2020-02"))
    parts = [tickets_part(lambda: service), reports_part(tmp_path / "reports")]
    app = create_app(rq, AGENTS, accounts, database, parts=parts)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield str(client.make_url("")).rstrip("/")
    await client.close()


async def test_a_supervisor_edits_and_publishes_the_month(site: str, database: Database) -> None:
    expect = playwright_api.expect
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = await browser.new_context(
            viewport={"width": 1280, "height": 1000}, locale="zh-CN"
        )
        page = await context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        await page.goto(site + "/login")
        await page.fill("#username", "super")
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await expect(page).to_have_url(site + "/wallboard")
        await page.goto(site + "/reports")
        await page.fill("#r-month", "2020-02")
        await page.click("#r-edit")
        await expect(page.locator("#n-state")).to_contain_text("系统草稿")
        await expect(page.locator("#n-problems")).not_to_have_value("")
        drafted = await page.locator("#n-problems").input_value()
        assert "比上期0件增加" in drafted  # January has no tickets: every category grew
        assert "回访" in await page.locator("#n-solved").input_value()
        await expect(page.locator("#n-publish")).to_be_disabled()  # save first
        await page.fill("#n-problems", EDIT)
        await page.click("#n-save")
        await expect(page.locator("#n-state")).to_contain_text("已保存，未发布")
        await expect(page.locator("#n-state")).to_contain_text("编辑 super")
        await page.click("#n-publish")
        await expect(page.locator("#n-state")).to_contain_text("已发布")
        await expect(page.locator("#n-problems")).not_to_be_editable()
        await expect(page.locator("#n-save")).to_be_disabled()
        link = page.locator("#n-published")
        await expect(link).to_be_visible()
        row = page.locator("#n-list tr[data-period='month/2020-02']")
        await expect(row).to_contain_text("已发布")
        await page.screenshot(path=str(SHOTS / "report-publish.png"), full_page=True)

        url = await link.get_attribute("href")
        assert url == "/api/report-publications/month/2020-02/published"
        shown = await context.new_page()  # the same session
        await shown.goto(site + url)
        body = shown.locator("body")
        await expect(body).to_contain_text("小区垃圾清理不及时、拾荒老人随意堆放物品问题。")
        await expect(body).to_contain_text("省长公开电话办公室转来的《人民网领导留言板》")
        await expect(body).to_contain_text("共接到群众各种诉求电话8570个")
        images = shown.locator("img[src^='data:image/png;base64,']")
        await expect(images).to_have_count(3)
        await browser.close()
    tz = calendar_from_config(DEMO_CONFIG_DIR).tz
    store = Publications(database, load_catalogue(DEMO_CONFIG_DIR), tz)
    text, _ = store.published(parse_period(month="2020-02"))
    assert "## 一、2020年2月份反映比较突出的几个问题" in text and EDIT.splitlines()[1] in text
