"""The admin console in Debian's Chromium (Playwright, headless) on a copy of the shipped
config: an admin logs in and lands on the config editor; a broken menu is refused with the
problem at its line and column (a click puts the cursor there) and nothing changes; a valid
change to agents.yaml is saved and reloaded into the running config at once; the older
version is one click from a rollback; a valid change to the menu is heard by the next call
(the menu engine on the running config, as the server runs each call). The screenshot in docs/
is taken here."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ivr.accounts import Accounts
from ivr.config.editing import ConfigEditor
from ivr.db.database import Database
from ivr.engine.callstore import MemoryStore
from ivr.engine.channel import CallInfo
from ivr.engine.menu import MenuEngine
from ivr.runtime import ConfigHolder
from ivr.web import create_app
from ivr.web.config_routes import config_part
from ivr.web.user_routes import users_part
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR, ROOT
from tests.fakes import FakeChannel
from tests.web.conftest import PASSWORD

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")


@pytest.fixture
def holder(tmp_path: Path) -> ConfigHolder:
    shutil.copytree(CONFIG_DIR, tmp_path / "config")
    return ConfigHolder(tmp_path / "config", ROOT / "recordings")


@pytest.fixture
async def site(
    rq: RedisQueue, accounts: Accounts, database: Database, holder: ConfigHolder, tmp_path: Path
) -> AsyncIterator[str]:
    editor = ConfigEditor(holder.directory, ROOT / "recordings", tmp_path / "history")
    app = create_app(
        rq,
        lambda: holder.current.agents,  # the running config's agents, as the server has them
        accounts,
        database,
        parts=[config_part(editor, holder.reload_async), users_part()],
    )
    client = TestClient(TestServer(app))
    await client.start_server()
    yield str(client.make_url("")).rstrip("/")
    await client.close()


async def heard(holder: ConfigHolder, rq: RedisQueue, uniqueid: str) -> list[str]:
    """The prompts a caller who presses nothing hears, on the config the server runs now."""
    channel = FakeChannel(keys="")
    engine = MenuEngine(holder.current, rq, MemoryStore())
    await engine.run(channel, CallInfo(uniqueid=uniqueid, caller="13700000009", dnid="12345"))
    return channel.played


async def test_an_admin_is_refused_a_broken_menu_then_saves_a_change(
    site: str, holder: ConfigHolder, rq: RedisQueue
) -> None:
    expect = playwright_api.expect
    menu_before = (holder.directory / "menu.yaml").read_text("utf-8")
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        await page.goto(site + "/login")
        await page.fill("#username", "admin")
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await expect(page).to_have_url(site + "/admin")  # an admin's home
        await page.select_option("#a-file", "menu.yaml")
        await expect(page.locator("#a-status")).to_contain_text("menu.yaml")
        text = await page.input_value("#a-text")
        lines = text.split("\n")
        at = next(i for i, line in enumerate(lines) if line.strip().startswith("prompt:"))
        lines[at] = lines[at].replace("prompt:", "prompt: [unclosed", 1)
        await page.fill("#a-text", "\n".join(lines))
        await page.click("#a-save")
        await expect(page.locator("#problem")).to_contain_text("HL-WEB-017")
        where = page.locator("#a-problems a.where").first
        await expect(where).to_contain_text("menu.yaml:")
        line = int((await where.text_content() or "").split(":")[1])
        assert line >= at + 1
        await where.click()  # the cursor goes to the problem's line
        caret = await page.evaluate("document.getElementById('a-text').selectionStart")
        assert "\n".join(lines)[:caret].count("\n") == line - 1
        await page.screenshot(path=str(SHOTS / "admin.png"))
        assert (holder.directory / "menu.yaml").read_text("utf-8") == menu_before
        assert "welcome" in await heard(holder, rq, "before.1")

        # a valid change: the main menu no longer opens with the welcome; the next call hears it
        fixed = "\n".join(lines).replace("prompt: [unclosed", "prompt:", 1)
        assert "prompt: [welcome, main_menu]" in fixed
        await page.fill(
            "#a-text", fixed.replace("prompt: [welcome, main_menu]", "prompt: [main_menu]", 1)
        )
        await page.click("#a-save")
        await expect(page.locator("#a-status")).to_contain_text("已保存并生效")
        await expect(page.locator("#a-diff")).to_contain_text("+    prompt: [main_menu]")
        after = await heard(holder, rq, "after.1")
        assert "welcome" not in after and "main_menu" in after, after

        await page.select_option("#a-file", "agents.yaml")
        await expect(page.locator("#a-status")).to_contain_text("agents.yaml")
        text = await page.input_value("#a-text")
        await page.fill("#a-text", text.replace("name: 王丽", "name: 王丽华", 1))
        await page.click("#a-save")
        await expect(page.locator("#a-status")).to_contain_text("已保存并生效")
        await expect(page.locator("#a-diff")).to_contain_text("+    name: 王丽华")
        assert holder.current.agents.by_id()["1001"].name == "王丽华"  # running, at once
        await expect(page.locator("#a-history tbody tr")).to_have_count(1)
        await page.click("#a-history .rollback")
        await expect(page.locator("#a-diff")).to_contain_text("-    name: 王丽华")  # rolled back
        await expect(page.locator("#a-history tbody tr")).to_have_count(2)
        assert holder.current.agents.by_id()["1001"].name == "王丽"

        # the accounts: a department user added, then disabled
        await page.click("text=账号 Accounts")
        await expect(page).to_have_url(site + "/users")
        await page.fill("#u-name", "heat1")
        await page.fill("#u-display", "热力公司")
        await page.select_option("#u-role", "department")
        await page.fill("#u-binding", "heating")
        await page.fill("#u-password", "a good first password")
        await page.click("#u-add button[type=submit]")
        await expect(page.locator("#u-result")).to_contain_text("已新增 heat1")
        row = page.locator("tr[data-user='heat1']")
        await expect(row).to_contain_text("heating")
        await row.locator(".u-toggle").click()
        await expect(row).to_contain_text("已停用")
        await page.screenshot(path=str(SHOTS / "admin-accounts.png"))
        await browser.close()
