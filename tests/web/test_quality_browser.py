"""Quality checks in Debian's Chromium (Playwright, headless): a supervisor logs in, goes from
the wallboard to the quality page, picks a recorded call (the player is pointed at the call's
recording), scores it on the form of the shipped config/quality.yaml and sees the score saved,
on the call's row and in the figures per operator. The screenshot in docs/ is taken here."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ivr.accounts import Accounts
from ivr.db.database import Database
from ivr.db.tables import CallRow
from ivr.quality import QualityForms, Scoring
from ivr.web import create_app
from ivr.web.quality_routes import quality_part
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR, ROOT
from tests.web.conftest import AGENTS, PASSWORD

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")


def add_calls(db: Database) -> None:
    now = dt.datetime.now(dt.UTC)
    with db.session() as s:
        for n, agent in enumerate(["1001", "1002", "1001"]):
            at = now - dt.timedelta(minutes=10 * (3 - n))
            s.add(
                CallRow(
                    uniqueid=f"1764900000.{n}",
                    caller="13900000000",
                    dialled="12345",
                    started_at=at,
                    day=at.date(),
                    outcome="answered",
                    agent=agent,
                    recording=f"calls/{at:%Y%m%d}/1764900000.{n}",
                    duration=60.0 + 37 * n,
                    line_name="12345 市民服务热线",
                    skill="general",
                )
            )


@pytest.fixture
async def site(rq: RedisQueue, accounts: Accounts, database: Database) -> AsyncIterator[str]:
    add_calls(database)
    app = create_app(
        rq, AGENTS, accounts, database, parts=[quality_part(QualityForms(CONFIG_DIR).current)]
    )
    client = TestClient(TestServer(app))
    await client.start_server()
    yield str(client.make_url("")).rstrip("/")
    await client.close()


async def test_a_supervisor_scores_a_call_and_sees_it_saved(site: str, database: Database) -> None:
    expect = playwright_api.expect
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        await page.goto(site + "/login")
        await page.fill("#username", "super")
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await expect(page).to_have_url(site + "/wallboard")  # a supervisor's home
        await page.click("text=质检 Quality")
        await expect(page).to_have_url(site + "/quality")
        rows = page.locator("#q-calls tbody tr")
        await expect(rows).to_have_count(3)
        await expect(rows.first).to_contain_text("未质检")
        call = page.locator("tr[data-call='1764900000.2']")
        await call.click()
        audio = page.locator("#q-audio")
        await expect(audio).to_have_attribute("src", "/api/calls/1764900000.2/recording")
        await expect(page.locator("#q-items input")).to_have_count(4)
        await expect(page.locator("#q-items")).to_contain_text("服务态度（0–30）")
        for code, points in {"attitude": 27, "accuracy": 30, "wording": 16, "record": 18}.items():
            await page.fill(f"#q-item-{code}", str(points))
        await expect(page.locator("#q-total")).to_have_text("91")
        await page.fill("#q-comment", "结束语不规范，工单地址未复述")
        await page.click("#q-form button[type=submit]")
        await expect(page.locator("#q-saved")).to_contain_text("已保存 91 / 100 分 合格")
        await expect(call.locator("td").last).to_have_text("91/100（1）")
        await expect(page.locator("#q-checks")).to_contain_text("super：91/100")
        figures = page.locator("#q-operators tr[data-agent='1001']")
        await expect(figures).to_contain_text("91 / 100")
        await expect(figures).to_contain_text("服务态度 27/30")
        await page.screenshot(path=str(SHOTS / "quality.png"))

        # a re-score replaces it; the page shows the new one
        await page.fill("#q-item-attitude", "10")
        await page.click("#q-form button[type=submit]")
        await expect(page.locator("#q-saved")).to_contain_text("已保存 74 / 100 分 不合格")
        await expect(call.locator("td").last).to_have_text("74/100（1）")
        await browser.close()
    [check] = Scoring(database).checks("1764900000.2")
    assert (check.reviewer, check.total, check.comment) == (
        "super",
        74,
        "结束语不规范，工单地址未复述",
    )
