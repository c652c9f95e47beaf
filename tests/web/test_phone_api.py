"""The desk's browser phone on the HTTP API (docs/webrtc.md): the login chooses the phone the
queue rings, the phone's SIP account goes to its own operator only, the pages may connect to
the phone's WebSocket, and JsSIP is served pinned from static/vendor/."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.accounts import Accounts
from ivr.cli import main
from ivr.config.queue_models import AgentsFile, AgentSpec, WebrtcAccount
from ivr.db.database import Database
from ivr.errors import HotlineError
from ivr.web.ice_servers import IceServer, parse_ice_servers
from ivr.web.pages import VENDOR
from ivr.web.phone_routes import BrowserPhones, phone_part
from queueing.queue import RedisQueue
from tests.queueing.conftest import agent
from tests.web import conftest as web_conftest
from tests.web.conftest import Desk, desks_on

WS = "wss://pbx.example:8089/ws"
ICE = (
    '[{"urls": "stun:stun.example.gov.cn:3478"}, {"urls": ["turn:turn.example.gov.cn:3478'
    '?transport=udp", "turns:turn.example.gov.cn:5349"], "username": "seat", "credential": "pw"}]'
)


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
    ice = tuple(parse_ice_servers(ICE))
    phones = BrowserPhones(WS, lambda spec: "s3cret" if spec.webrtc else None, ice)
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
        "ice_servers": [  # HOTLINE_WEBRTC_ICE_SERVERS, for JsSIP's pcConfig.iceServers
            {"urls": ["stun:stun.example.gov.cn:3478"], "username": "", "credential": ""},
            {
                "urls": [
                    "turn:turn.example.gov.cn:3478?transport=udp",
                    "turns:turn.example.gov.cn:5349",
                ],
                "username": "seat",
                "credential": "pw",
            },
        ],
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


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("stun:stun.example:3478", "is not JSON"),
        ('{"urls": "stun:x"}', "must be a JSON list"),
        ('["stun:x"]', "item 1 is not an object"),
        ('[{"url": "stun:x"}]', "unknown key(s) url"),
        ('[{"urls": []}]', "item 1 needs urls"),
        ('[{"urls": "stun:x"}, {"urls": "http://turn.example"}]', "item 2: 'http://turn"),
        ('[{"urls": "turn:turn.example:3478"}]', "needs username and credential"),
        ('[{"urls": "turn:t", "username": "u", "credential": 5}]', "must be strings"),
    ],
)
def test_the_ice_servers_setting_is_checked(value: str, said: str) -> None:
    with pytest.raises(HotlineError) as info:
        parse_ice_servers(value)
    assert info.value.code == "HL-SRV-015"
    assert said in info.value.message and "HOTLINE_WEBRTC_ICE_SERVERS" in info.value.message
    assert parse_ice_servers("  ") == []
    assert parse_ice_servers('[{"urls": "stun:s:3478"}]') == [IceServer(urls=["stun:s:3478"])]


def test_hotline_serve_refuses_a_wrong_ice_setting_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("HOTLINE_WEBRTC_ICE_SERVERS", '[{"urls": "turn:turn.example:3478"}]')
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(tmp_path))
    assert main(["serve", "--port", "0", "--http-port", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("[HL-SRV-015] HOTLINE_WEBRTC_ICE_SERVERS item 1: a TURN server needs")
    assert "\n" not in err and "Traceback" not in err
