"""The admin console's config editing over HTTP (``/api/config``) on a copy of the shipped
config: a broken draft is refused with each problem at its line and column and changes
nothing; a valid save is kept, reloaded into the running config and audited with its diff; a
file changed on disk since it was read is a conflict showing the difference; a rollback is
one request; only admins may."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.accounts import Accounts
from ivr.config.editing import ConfigEditor
from ivr.db.database import Database
from ivr.runtime import ConfigHolder
from ivr.web.config_routes import config_part
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR, ROOT
from tests.queueing.conftest import clock, rq  # noqa: F401 (fixtures)
from tests.web.conftest import Desk, desks_on

RECORDINGS = ROOT / "recordings"


@pytest.fixture
def holder(tmp_path: Path) -> ConfigHolder:
    shutil.copytree(CONFIG_DIR, tmp_path / "config")
    return ConfigHolder(tmp_path / "config", RECORDINGS)


@pytest.fixture
async def desks(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
    holder: ConfigHolder,
    tmp_path: Path,
) -> AsyncIterator[dict[str, Desk]]:
    editor = ConfigEditor(holder.directory, RECORDINGS, tmp_path / "history")
    async with desks_on(rq, accounts, database, [config_part(editor, holder.reload_async)]) as out:
        yield out


async def test_a_broken_draft_is_refused_at_its_line(
    desks: dict[str, Desk], holder: ConfigHolder
) -> None:
    admin = desks["admin"]
    files = await (await admin.get("/api/config/files")).json()
    assert {"menu.yaml", "agents.yaml", "tickets/catalogue.yaml"} <= {f["name"] for f in files}
    menu = await (await admin.get("/api/config/file?name=menu.yaml")).json()
    lines = menu["text"].splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("prompt:"))
    lines[at] = lines[at].replace("prompt:", "prompt: [unclosed", 1)
    broken = "\n".join(lines) + "\n"
    checked = await (
        await admin.post("/api/config/check", {"name": "menu.yaml", "text": broken})
    ).json()
    [p] = checked["problems"][:1]
    assert p["file"] == "menu.yaml" and p["line"] >= at + 1 and p["code"].startswith("HL-CFG-")
    r = await admin.post(
        "/api/config/file", {"name": "menu.yaml", "text": broken, "version": menu["version"]}
    )
    body = await r.json()
    assert (r.status, body["error_id"]) == (400, "HL-WEB-017")
    assert body["details"]["problems"][0]["file"] == "menu.yaml"
    assert (holder.directory / "menu.yaml").read_text("utf-8") == menu["text"]  # untouched
    before = holder.current.version
    assert (await (await admin.get("/api/config/history?name=menu.yaml")).json()) == []
    assert holder.current.version == before


async def test_a_valid_save_is_kept_reloaded_audited_and_rolled_back(
    desks: dict[str, Desk], holder: ConfigHolder, accounts: Accounts
) -> None:
    admin = desks["admin"]
    agents = await (await admin.get("/api/config/file?name=agents.yaml")).json()
    assert holder.current.agents.by_id()["1001"].name == "王丽"
    changed = agents["text"].replace("name: 王丽", "name: 王丽华", 1)
    r = await admin.post(
        "/api/config/file", {"name": "agents.yaml", "text": changed, "version": agents["version"]}
    )
    saved = await r.json()
    assert r.status == 200, saved
    assert saved["reloaded"] is True and "+    name: 王丽华" in saved["diff"]
    assert holder.current.agents.by_id()["1001"].name == "王丽华"  # the running config
    row = next(a for a in accounts.audit_log() if a["action"] == "config.save")
    assert row["target"] == "config:agents.yaml" and "王丽华" in row["after"]["diff"]
    [kept] = await (await admin.get("/api/config/history?name=agents.yaml")).json()
    assert kept["version"] == agents["version"]

    stale = await admin.post(  # the version read before the save: changed on disk since
        "/api/config/file",
        {"name": "agents.yaml", "text": agents["text"], "version": agents["version"]},
    )
    body = await stale.json()
    assert (stale.status, body["error_id"]) == (409, "HL-WEB-016")
    assert "-    name: 王丽华" in body["details"]["diff"]

    back = await admin.post(
        "/api/config/rollback",
        {"name": "agents.yaml", "version_id": kept["id"], "version": saved["version"]},
    )
    assert back.status == 200, await back.text()
    assert holder.current.agents.by_id()["1001"].name == "王丽"
    assert (holder.directory / "agents.yaml").read_text("utf-8") == agents["text"]


async def test_only_admins(desks: dict[str, Desk]) -> None:
    for name, status in (("super", 403), ("op1001", 403), ("dept", 403), ("anonymous", 401)):
        assert (await desks[name].get("/api/config/files")).status == status, name
    r = await desks["admin"].get("/api/config/file?name=../settings.py")
    assert (r.status, (await r.json())["error_id"]) == (404, "HL-WEB-006")
    r = await desks["admin"].post(
        "/api/config/check", {"name": "menu.yaml", "text": "x"}, csrf=False
    )
    assert (r.status, (await r.json())["error_id"]) == (403, "HL-WEB-005")
