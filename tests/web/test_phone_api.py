"""The desk's browser phone on the HTTP API (docs/webrtc.md): the login chooses the phone the
queue rings, the phone's SIP account goes to its own operator only, the pages may connect to
the phone's WebSocket, and JsSIP is served pinned from static/vendor/."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

import pytest

from ivr.accounts import Accounts
from ivr.config.queue_models import AgentsFile, AgentSpec, WebrtcAccount
from ivr.db.database import Database
from ivr.web.pages import VENDOR
from ivr.web.phone_routes import BrowserPhones, phone_part
from queueing.queue import RedisQueue
from tests.queueing.conftest import agent
from tests.web import conftest as web_conftest
from tests.web.conftest import Desk, desks_on

WS = "wss://pbx.example:8089/ws"


def with_phone(spec: AgentSpec) -> AgentSpec:
    return spec.model_copy(
        update={"webrtc": WebrtcAccount(username=f"{spec.id}-web", secret="env:HOTLINE_WEB_T")}
    )


@pytest.fixture
async def desks(
    rq: RedisQueue, accounts: Accounts, database: Database, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[dict[str, Desk]]:
    """1001 has a browser phone (password s3cret), 1002 none."""
    agents = AgentsFile(agents=[with_phone(agent("1001", general=5)), agent("1002", general=3)])
    monkeypatch.setattr(web_conftest, "AGENTS", agents)
    phones = BrowserPhones(WS, lambda spec: "s3cret" if spec.webrtc else None)
    async with desks_on(rq, accounts, database, [phone_part(phones)]) as out:
        yield out


async def test_the_login_chooses_the_phone_the_queue_rings(desks: dict[str, Desk]) -> None:
    op = desks["op1001"]
    r = await op.post("/api/agents/1001/login", {"ready": True, "phone": "browser"})
    assert r.status == 200
    assert (await r.json())["interface"] == "PJSIP/1001-web"
    await op.post("/api/agents/1001/logout")
    r = await op.post("/api/agents/1001/login", {"ready": True})
    assert (await r.json())["interface"] == "PJSIP/1001"  # the desk phone, by default
    r = await desks["op1002"].post("/api/agents/1002/login", {"phone": "browser"})
    body = await r.json()
    assert (r.status, body["error_id"]) == (400, "HL-WEB-070"), body
    assert (await desks["super"].get("/api/agents/1002")).status == 200
    r = await desks["super"].get("/api/agents/1002")
    assert (await r.json())["state"] == "offline"  # nothing changed


async def test_the_phone_account_goes_to_its_own_operator_only(desks: dict[str, Desk]) -> None:
    r = await desks["op1001"].get("/api/agents/1001/phone")
    body = await r.json()
    assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
    assert body == {
        "available": True,
        "reason": "",
        "ws_url": WS,
        "uri": "sip:1001-web@hotline",
        "username": "1001-web",
        "password": "s3cret",
        "display_name": body["display_name"],
        "interface": "PJSIP/1001-web",
    }
    r = await desks["op1002"].get("/api/agents/1002/phone")
    body = await r.json()
    assert (body["available"], body["password"]) == (False, "")
    assert "agents.yaml webrtc" in body["reason"]
    for who in ("op1002", "super", "admin"):
        r = await desks[who].get("/api/agents/1001/phone")
        assert (r.status, (await r.json())["error_id"]) == (403, "HL-WEB-004"), who


async def test_the_desk_may_connect_to_the_phones_websocket_and_gets_jssip_pinned(
    desks: dict[str, Desk],
) -> None:
    r = await desks["op1001"].get("/desk")
    policy = r.headers["Content-Security-Policy"]
    connect = re.search(r"connect-src ([^;]*);", policy)
    assert connect and "wss://pbx.example:8089" in connect.group(1).split(), policy
    page = await r.text()
    script = re.search(r'src="/static/vendor/(jssip-[0-9.]+\.min\.js)"', page)
    assert script, "the desk loads JsSIP from static/vendor"
    readme = (VENDOR / "README.md").read_text("utf-8")
    file = VENDOR / script.group(1)
    assert hashlib.sha256(file.read_bytes()).hexdigest() in readme  # pinned, as noted
    r = await desks["op1001"].get(f"/static/vendor/{script.group(1)}")
    assert r.status == 200 and (await r.read()) == file.read_bytes()
    assert (await desks["anonymous"].get(f"/static/vendor/{script.group(1)}")).status == 401
    assert (await desks["op1001"].get("/static/vendor/..%2FREADME.md")).status == 404
    licence = await (await desks["op1001"].get("/static/vendor/JsSIP-LICENSE.txt")).text()
    assert "MIT" in licence or "Permission is hereby granted" in licence
