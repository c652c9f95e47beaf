"""The supervisors' listen / whisper / barge (ivr/web/spy_routes.py) on a real Redis and
SQLite, with AMI faked as Asterisk 22 answers (``Getvar BRIDGEPEER``, ``Originate``): who may,
each refusal with its status and id, the Originate of ChanSpy on the supervisor's phone with
the options of each mode, the audit row; the phones of agents.yaml ``supervisors`` checked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError

from ivr.accounts import Accounts
from ivr.compose.transfers import open_manager
from ivr.config.loader import load_config
from ivr.config.queue_models import AgentsFile, SupervisorPhone
from ivr.db.database import Database
from ivr.web import create_app
from ivr.web.spy_routes import spy_part
from queueing.ami import AMIClient
from queueing.queue import QueueRequest, RedisQueue
from tests.conftest import CONFIG_DIR
from tests.queueing.conftest import agent, clock, rq  # noqa: F401 (fixtures)
from tests.queueing.transfer_fakes import FakeManager
from tests.web.conftest import AGENTS, PASSWORD, USERS, Desk, logged_in

# the supervisor's phone; the admin's is agent 1002's seat (a team leader at a desk)
PHONES = AgentsFile(
    agents=AGENTS.agents,
    supervisors=[
        SupervisorPhone(user="super", phone="PJSIP/2001"),
        SupervisorPhone(user="ADMIN", phone="PJSIP/1002", ring_timeout=20),
    ],
)
SPY = "/api/agents/1001/spy"


@pytest.fixture
def ami() -> FakeManager:
    return FakeManager(peers={"c1": "PJSIP/1001-00000001"})


@pytest.fixture
def manager(ami: FakeManager) -> dict[str, FakeManager | None]:
    """What the part is handed (a test may take AMI away: ``None``)."""
    return {"ami": ami}


@pytest.fixture
async def desks(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
    manager: dict[str, FakeManager | None],
) -> AsyncIterator[dict[str, Desk]]:
    app = create_app(rq, PHONES, accounts, database, parts=[spy_part(lambda: manager["ami"])])
    http: TestClient = TestClient(TestServer(app))  # type: ignore[type-arg]
    await http.start_server()
    accounts.add_user("boss2", PASSWORD, "supervisor", actor="test")  # no phone
    out = await logged_in(http, ["boss2"])
    yield out
    for d in out.values():
        await d.close()
    await http.close()


async def talking(rq: RedisQueue, connect: bool = True) -> None:  # noqa: F811
    await rq.login(agent("1001"), ready=True)
    await rq.enqueue(QueueRequest("c1", "13800000001", "12345", "general", 0, rq.clock() - 5))
    if connect:
        await rq.connect("c1", "1001")


async def error_of(r) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    return r.status, (await r.json())["error_id"]


async def test_who_may_listen(desks: dict[str, Desk], rq: RedisQueue) -> None:  # noqa: F811
    await talking(rq)
    for who in [*USERS, "anonymous"]:
        r = await desks[who].post(SPY, {"mode": "listen"})
        role = USERS[who][0] if who in USERS else None
        if role is None:
            assert await error_of(r) == (401, "HL-WEB-003")
        elif role in ("operator", "department"):
            assert await error_of(r) == (403, "HL-WEB-004"), who
        else:
            assert r.status == 200, (who, await r.text())
    r = await desks["super"].post(SPY, {"mode": "listen"}, csrf=False)
    assert await error_of(r) == (403, "HL-WEB-005")


@pytest.mark.parametrize(
    ("mode", "options"), [("listen", "qE"), ("whisper", "qwE"), ("barge", "qBE")]
)
async def test_the_supervisors_phone_rings_into_chanspy(
    desks: dict[str, Desk],
    rq: RedisQueue,  # noqa: F811
    ami: FakeManager,
    accounts: Accounts,
    mode: str,
    options: str,
) -> None:
    await talking(rq)
    r = await desks["super"].post(SPY, {"mode": mode})
    assert r.status == 200, await r.text()
    assert await r.json() == {
        "agent": "1001", "mode": mode, "uniqueid": "c1",
        "operator_channel": "PJSIP/1001-00000001", "phone": "PJSIP/2001",
        "options": options, "state": "ringing",
    }  # fmt: skip
    getvar, originate = ami.actions
    assert getvar == {"Action": "Getvar", "Channel": "c1", "Variable": "BRIDGEPEER"}
    assert originate["Action"] == "Originate" and originate["Async"] == "true"
    assert (originate["Channel"], originate["Application"], originate["Data"]) == (
        "PJSIP/2001", "ChanSpy", f"PJSIP/1001-00000001,{options}"
    )  # fmt: skip
    assert originate["Timeout"] == "30000" and originate["CallerID"].endswith("<1001>")
    row = next(r for r in accounts.audit_log() if r["action"] == "agent.spy")
    assert (row["actor"], row["role"], row["target"]) == ("super", "supervisor", "agent:1001")
    assert row["after"] == {
        "call": "c1", "mode": mode, "channel": "PJSIP/1001-00000001", "phone": "PJSIP/2001"
    }  # fmt: skip


async def test_an_admin_by_its_name_in_any_case(
    desks: dict[str, Desk],
    rq: RedisQueue,  # noqa: F811
    ami: FakeManager,
) -> None:
    await talking(rq)
    r = await desks["admin"].post(SPY, {"mode": "barge"})
    assert r.status == 200 and (await r.json())["phone"] == "PJSIP/1002"
    assert ami.actions[-1]["Timeout"] == "20000"
    # agent 1002's own phone cannot listen to agent 1002
    await rq.login(agent("1002"), ready=True)
    r = await desks["admin"].post("/api/agents/1002/spy", {"mode": "listen"})
    assert await error_of(r) == (409, "HL-WEB-054")


async def test_refusals_each_with_its_id(
    desks: dict[str, Desk],
    rq: RedisQueue,  # noqa: F811
    ami: FakeManager,
    accounts: Accounts,
) -> None:
    desk = desks["super"]
    assert await error_of(await desk.post(SPY, {"mode": "peek"})) == (400, "HL-WEB-001")
    assert await error_of(await desk.post(SPY, {})) == (400, "HL-WEB-001")
    r = await desk.post("/api/agents/9999/spy", {"mode": "listen"})
    assert await error_of(r) == (404, "HL-QUE-030")
    # logged out, then offered a caller (ringing): nothing to hear
    assert await error_of(await desk.post(SPY, {"mode": "listen"})) == (409, "HL-WEB-050")
    await talking(rq, connect=False)
    assert await error_of(await desk.post(SPY, {"mode": "listen"})) == (409, "HL-WEB-050")
    assert ami.actions == []  # nothing reached Asterisk
    await rq.connect("c1", "1001")
    # the caller's channel is not bridged any more (BRIDGEPEER empty)
    ami.peers.clear()
    assert await error_of(await desk.post(SPY, {"mode": "listen"})) == (409, "HL-WEB-050")
    ami.peers["c1"] = "PJSIP/1001-00000001"
    ami.refuse.add("Originate")
    r = await desk.post(SPY, {"mode": "listen"})
    assert await error_of(r) == (502, "HL-WEB-053")
    assert (await r.json())["details"] == {"phone": "PJSIP/2001"}
    ami.down = True
    assert await error_of(await desk.post(SPY, {"mode": "listen"})) == (503, "HL-WEB-051")
    assert not [r for r in accounts.audit_log() if r["action"] == "agent.spy"]


async def test_without_ami_or_a_phone(
    desks: dict[str, Desk],
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    manager: dict[str, FakeManager | None],
) -> None:
    await talking(rq)
    manager["ami"] = None  # queue.yaml dialler off
    r = await desks["super"].post(SPY, {"mode": "whisper"})
    assert await error_of(r) == (503, "HL-WEB-051")
    assert "dialler" in (await r.json())["message"]
    # an account without a phone in agents.yaml supervisors: told first
    r = await desks["boss2"].post(SPY, {"mode": "listen"})
    assert await error_of(r) == (409, "HL-WEB-052")
    assert (await r.json())["details"] == {"user": "boss2"}
    assert not [r for r in accounts.audit_log() if r["action"] == "agent.spy"]


def test_the_phones_in_agents_yaml_are_checked() -> None:
    base = {"agents": [a.model_dump() for a in AGENTS.agents]}
    one = [{"user": "boss", "phone": "PJSIP/2001"}]
    ok = AgentsFile.model_validate({**base, "supervisors": one})
    assert ok.phone_of("BOSS") == SupervisorPhone(user="boss", phone="PJSIP/2001")
    assert ok.phone_of("nobody") is None
    for bad in (
        [{"user": "boss", "phone": "PJSIP/2001, PJSIP/2002"}],
        [{"user": "boss", "phone": "2001"}],
        [{"user": "bo ss", "phone": "PJSIP/2001"}],
        [{"user": "boss", "phone": "PJSIP/2001", "ring_timeout": 1}],
        [{"user": "boss", "phone": "PJSIP/2001"}, {"user": "Boss", "phone": "PJSIP/2002"}],
        [{"user": "boss", "phone": "PJSIP/2001", "extension": "2001"}],
    ):
        with pytest.raises(ValidationError):
            AgentsFile.model_validate({**base, "supervisors": bad})


def test_the_guides_name_the_route_and_its_ids() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs"
    api = (docs / "web-api.md").read_text("utf-8")
    assert "| `POST /api/agents/{agent_id}/spy` (listen, whisper, barge) |" in api
    board = (docs / "wallboard.md").read_text("utf-8")
    for text in ("`qE`", "`qwE`", "`qBE`", "supervisors:", "HL-WEB-052"):
        assert text in board, text


def test_the_ami_connection_of_queue_yaml(tmp_path: Path) -> None:
    """The composition root's connection (ivr/compose/transfers.py): queue.yaml's AMI user,
    none while the dialler is off (then 503 HL-WEB-051)."""
    options = load_config(CONFIG_DIR, tmp_path).queue
    ami = open_manager(options, tmp_path / "ami-secret")
    assert isinstance(ami, AMIClient) and not ami.connected  # opened at the first press
    d = options.dialler
    assert (ami.host, ami.port, ami.username) == (d.host, d.port, d.username)
    off = options.model_copy(update={"dialler": d.model_copy(update={"enabled": False})})
    assert open_manager(off, tmp_path / "ami-secret") is None
