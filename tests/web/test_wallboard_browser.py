"""The wallboard in Debian's Chromium (Playwright, headless) on a real Redis and SQLite: a
supervisor logs in and lands on the wallboard; a caller waiting appears at once, with the
longest wait red past 15 s; when an operator answers, the service level moves; an operator
on a call has listen / whisper / barge buttons, and pressing one says what happened; six
complaints about one estate's heating today are a hot issue in its panel. The screenshot
in docs/screenshots/ is taken here."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ivr.accounts import Accounts
from ivr.config.catalogue import load_catalogue
from ivr.config.queue_models import AgentsFile, SupervisorPhone
from ivr.db.database import Database
from ivr.db.tables import CallRow
from ivr.hotspots.refresh import HotspotRefresher
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web import create_app
from ivr.web.desk_socket import DeskHub
from ivr.web.screenpop import ScreenPops
from ivr.web.spy_routes import spy_part
from ivr.web.wallboard import Wallboard
from ivr.web.wallboard_routes import WallboardHub, wallboard_part
from queueing.ami import AMIClient
from queueing.notices import NoticeSubscriber
from queueing.queue import QueueRequest, RedisQueue
from tests.conftest import CONFIG_DIR, free_port
from tests.queueing.conftest import Clock
from tests.queueing.transfer_fakes import FakeManager
from tests.web.conftest import AGENTS, PASSWORD

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")


def traffic(database: Database, now: float) -> None:
    """Call records of today and yesterday, more in the working hours, for the hourly chart."""
    zone = ZoneInfo("Asia/Shanghai")
    today = dt.datetime.fromtimestamp(now, zone).replace(minute=0, second=0, microsecond=0)
    rows = []
    for back in (0, 1):
        day = today - dt.timedelta(days=back)
        for hour in range(24 if back else today.hour + 1):
            busy = 12 if 8 <= hour < 18 else 3
            for n in range(busy + (hour % 3) * 2 - back * 2):
                at = day.replace(hour=hour, minute=n % 60)
                rows.append(CallRow(uniqueid=f"tr-{back}-{hour}-{n}", caller="13900000000",
                                    dialled="12345", started_at=at.astimezone(dt.UTC),
                                    day=at.date(), outcome="answered"))  # fmt: skip
    with database.session() as s:
        s.add_all(rows)
        s.commit()


HEATING = [
    ("阳光小区3号楼暖气不热，室温只有12度，老人受不了", "新城区海拉尔东路街道阳光小区3号楼"),
    ("家里暖气不热，温度太低，孩子感冒了", "阳光小区5号楼2单元"),
    ("暖气片不热，供热不达标，屋里很冷", "新城区阳光小区"),
    ("供暖温度不够，暖气不热已经三天了", "呼和浩特市新城区阳光小区12号楼"),
    ("暖气时冷时热，室温不到18度", "阳光小区8号楼"),
    ("暖气不热，家里只有十几度，请供热公司来看看", "新城区阳光小区1号楼1单元"),
]


async def hot_issue(database: Database, rq: RedisQueue, now: float) -> list[str]:
    """Six complaints about one estate's heating in the last hours, and one about noise;
    the hot issues refreshed as hotline serve does."""
    catalogue = load_catalogue(CONFIG_DIR)
    service = TicketService(database, catalogue, Deadlines(calendar_from_config(CONFIG_DIR)))
    at = dt.datetime.fromtimestamp(now, dt.UTC) - dt.timedelta(hours=3)
    numbers = []
    for n, (content, address) in enumerate([*HEATING, ("楼下餐馆油烟扰民", "阳光小区")]):
        category = "pollution" if n == len(HEATING) else "utilities.heating"
        row = service.accept(caller="13900000000", type="complaint", category=category,
                             actor="1001", content=content, address=address,
                             now=at + dt.timedelta(minutes=20 * n))  # fmt: skip
        numbers.append(row.number)
    hot = HotspotRefresher(database, lambda: (catalogue, "Asia/Shanghai"), rq.client, rq.centre)
    await hot.run_once()
    return numbers[: len(HEATING)]


@pytest.fixture
def manager() -> dict[str, Any]:
    """The AMI the spy buttons use: first where no Asterisk listens (a test swaps it)."""
    return {"ami": AMIClient("127.0.0.1", free_port(), "hotline", "secret", timeout=2)}


@pytest.fixture
async def site(
    rq: RedisQueue,
    accounts: Accounts,
    database: Database,
    redis_url: str,
    clock: Clock,
    manager: dict[str, Any],
) -> AsyncIterator[str]:
    clock.t = time.time()  # the queue's clock is the browser's
    traffic(database, clock.t)
    desks = DeskHub(NoticeSubscriber(redis_url, rq.centre), ScreenPops(rq.client, database), rq)
    board = WallboardHub(Wallboard(rq, database, clock=clock))
    desks.listeners.append(board.poke)  # at once on every queue event
    # the supervisor's phone for listen / whisper / barge
    agents = AgentsFile(
        agents=AGENTS.agents, supervisors=[SupervisorPhone(user="super", phone="PJSIP/2001")]
    )
    parts = [wallboard_part(board), spy_part(lambda: manager["ami"])]
    app = create_app(rq, agents, accounts, database, desks=desks, parts=parts)
    client = TestClient(TestServer(app))
    await client.start_server()
    await asyncio.wait_for(desks.subscriber.subscribed.wait(), 10)
    yield str(client.make_url("")).rstrip("/")
    await client.close()


async def test_a_supervisor_watches_a_caller_wait_and_be_answered(
    site: str, rq: RedisQueue, clock: Clock, manager: dict[str, Any], database: Database
) -> None:
    expect = playwright_api.expect
    heating = await hot_issue(database, rq, clock())
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1600, "height": 900}, locale="zh-CN")
        await page.goto(site + "/login")
        await page.fill("#username", "super")
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await expect(page).to_have_url(site + "/wallboard")  # a supervisor's home
        await expect(page.locator("#link")).to_contain_text("在线")
        await expect(page.locator("#t-waiting")).to_have_text("0")

        # a caller who has waited 20 s already (re-entered), and one just now
        await rq.enqueue(QueueRequest("b1", "13900000011", "12345", "general", 0, clock() - 20))
        await rq.enqueue(QueueRequest("b2", "13900000012", "12345", "general", 0, clock()))
        await expect(page.locator("#t-waiting")).to_have_text("2")
        await expect(page.locator("#tile-longest")).to_have_class("tile late")  # past 15 s
        await expect(page.locator("#t-sl-offered")).to_have_text("0.0%")
        await rq.login(AGENTS.by_id()["1001"], ready=True)  # b1 is offered
        await rq.connect("b1", "1001")
        await rq.login(AGENTS.by_id()["1002"], ready=True)  # b2 is offered
        await rq.connect("b2", "1002")  # within 15 s
        await expect(page.locator("#t-waiting")).to_have_text("0")
        await expect(page.locator("#t-sl-offered")).to_have_text("50.0%")  # 1 of 2 in 15 s
        await expect(page.locator("#t-sl-answered")).to_have_text("50.0%")
        await expect(page.locator("#t-answer-rate")).to_have_text("100.0%")
        await expect(page.locator("#wb-agents tbody tr")).to_have_count(2)
        await expect(page.locator("#wb-agents tbody tr.agent-busy")).to_have_count(2)
        await expect(page.locator("#wb-hourly rect.today")).to_have_count(24)
        # an operator on a call has listen / whisper / barge
        await expect(page.locator("#wb-agents tbody tr.agent-busy button")).to_have_count(6)
        # the hot issue: one group, its place, its six tickets, the newest five linked
        hot = page.locator("#wb-hotspots tbody tr.hot-group")
        await expect(hot).to_have_count(1)
        await expect(hot.locator("td").nth(1)).to_have_text("新城区阳光小区")
        await expect(hot.locator("td").nth(3)).to_have_text("6")
        await expect(hot.locator("td").nth(0)).to_contain_text("暖气")
        await expect(hot.locator("a")).to_have_count(5)
        await expect(hot.locator("a").last).to_have_text(heating[-1])
        await expect(hot.locator("a").last).to_have_attribute("href", f"/api/tickets/{heating[-1]}")
        await expect(page.locator("#wb-hot-none")).to_be_hidden()
        # a caller whose Asterisk box went away: offered, not abandoned, shown apart
        await rq.enqueue(QueueRequest("b3", "13900000013", "12345", "general", 0, clock()))
        await rq.pbx_lost("b3", "10.0.0.21")
        await expect(page.locator("#t-pbx-lost")).to_have_text("1")
        await expect(page.locator("#t-abandoned")).to_have_text("0")
        await expect(page.locator("#t-offered")).to_have_text("3")
        skill = page.locator("#wb-skills tbody tr", has_text="general").locator("td")
        await expect(skill.nth(8)).to_have_text("1")
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "wallboard.png"))
        # Asterisk is away here: the line under the list says so, with the id
        await page.locator("#wb-agents tbody tr", has_text="1001").locator(".spy-listen").click()
        line = page.locator("#spy-status")
        await expect(line).to_contain_text("HL-WEB-051")
        await expect(line).to_contain_text("监听 Listen 1001")
        await expect(line).to_have_class("error")
        # with Asterisk: the supervisor's phone rings
        manager["ami"] = FakeManager(peers={"b1": "PJSIP/1001-00000001"})
        await page.locator("#wb-agents tbody tr", has_text="1001").locator(".spy-whisper").click()
        await expect(line).to_contain_text("正在呼叫您的话机 PJSIP/2001")
        await expect(line).to_have_class("muted")
        assert manager["ami"].actions[-1]["Data"] == "PJSIP/1001-00000001,qwE"
        # the queue's own pause of an operator whose browser phone went away, in words
        await rq.complete("b1", "1001", "caller")
        await rq.pause("1001", "phone offline")
        row = page.locator("#wb-agents tbody tr", has_text="1001")
        await expect(row).to_contain_text("暂停 (话机离线)")
        await browser.close()
