"""The desk's transfer routes (ivr/web/call_routes.py) on a real Redis and SQLite, with the
transfer service on a fake AMI: every route for every role, each refusal with its status and
id, the audit row, the OpenAPI document and docs/web-api.md."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from ivr.accounts import Accounts
from ivr.db.database import Database
from ivr.web.call_routes import calls_part
from queueing.queue import QueueRequest, RedisQueue
from queueing.transfer import Target, TransferService
from tests.queueing.conftest import agent, clock, rq  # noqa: F401 (fixtures)
from tests.queueing.transfer_fakes import FakeManager
from tests.web.conftest import USERS, Desk, logged_in, open_client

TARGETS = [
    Target("110", "公安 110", "emergency", "PJSIP/110@carrier", ("blind", "threeway")),
    Target("water", "供水热线", "department", "PJSIP/96116@carrier"),
]
ROUTES = calls_part(None).routes


@pytest.fixture
def ami() -> FakeManager:
    return FakeManager(peers={"c1": "PJSIP/1001-00000001"})


@pytest.fixture
async def desks(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
    ami: FakeManager,
) -> AsyncIterator[dict[str, Desk]]:
    service = TransferService(rq.client, ami, lambda: TARGETS, clock=rq.clock)
    http: TestClient = await open_client(  # type: ignore[type-arg]
        rq, accounts, database, parts=[calls_part(service)]
    )
    out = await logged_in(http)
    yield out
    for d in out.values():
        await d.close()
    await service.close()
    await http.close()


async def talking(rq: RedisQueue) -> None:  # noqa: F811
    await rq.login(agent("1001"), ready=True)
    await rq.enqueue(QueueRequest("c1", "13800000001", "12345", "general", 0, rq.clock() - 5))
    await rq.connect("c1", "1001")


async def error_of(r) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    return r.status, (await r.json())["error_id"]


async def test_targets_for_the_desk(desks: dict[str, Desk]) -> None:
    r = await desks["op1001"].get("/api/transfers/targets")
    assert r.status == 200
    assert await r.json() == {
        "available": True,
        "targets": [
            {"key": "110", "name": "公安 110", "kind": "emergency",
             "modes": ["blind", "threeway"]},
            {"key": "water", "name": "供水热线", "kind": "department",
             "modes": ["blind", "threeway", "consult"]},
        ],
        "colleague_prefix": "agent:",
    }  # fmt: skip


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_every_route_for_every_role(desks: dict[str, Desk], route) -> None:  # type: ignore[no-untyped-def]
    path = route.path.replace("{agent_id}", "1001")
    body = {"target": "110"} if route.body == "TransferBody" else {"action": "join"}
    for who in [*USERS, "anonymous"]:
        desk = desks[who]
        r = await (desk.get(path) if route.method == "GET" else desk.post(path, body))
        role = USERS[who][0] if who in USERS else None
        got = (r.status, (await r.json()).get("error_id") if r.status >= 400 else None)
        if role is None:
            assert got == (401, "HL-WEB-003"), who
        elif role not in route.roles or (
            route.own_agent and role == "operator" and USERS[who][1] != "1001"
        ):
            assert got == (403, "HL-WEB-004"), who  # another operator's agent too
        elif route.method == "GET":
            assert r.status == 200, (who, got)
        else:
            assert got == (409, "HL-QUE-080"), who  # nobody is talking to agent 1001


async def test_a_transfer_over_http_is_audited(
    desks: dict[str, Desk],
    rq: RedisQueue,  # noqa: F811
    ami: FakeManager,
    accounts: Accounts,
) -> None:
    await talking(rq)
    desk = desks["op1001"]
    # bad bodies and refusals, each with its id; nothing reached Asterisk
    assert await error_of(await desk.post("/api/agents/1001/transfer", {"mode": "blind"})) == (
        400, "HL-WEB-001"
    )  # fmt: skip
    bad = {"target": "110", "mode": "park"}
    assert await error_of(await desk.post("/api/agents/1001/transfer", bad)) == (400, "HL-WEB-001")
    r = await desk.post("/api/agents/1001/transfer", {"target": "999"})
    assert await error_of(r) == (400, "HL-QUE-081")
    r = await desk.post("/api/agents/1001/transfer", {"target": "110", "mode": "consult"})
    assert await error_of(r) == (400, "HL-QUE-081")
    r = await desk.post("/api/agents/1001/transfer", {"target": "110"}, csrf=False)
    assert await error_of(r) == (403, "HL-WEB-005")
    r = await desk.post("/api/agents/9999/transfer", {"target": "110"})
    assert r.status in (403, 404)
    assert ami.names() == []
    # the emergency button
    r = await desk.post("/api/agents/1001/transfer", {"target": "110", "mode": "blind"})
    assert r.status == 200, await r.text()
    assert await r.json() == {
        "uniqueid": "c1", "agent": "1001", "target": "110", "mode": "blind",
        "state": "released", "operator_channel": "PJSIP/1001-00000001",
    }  # fmt: skip
    assert ami.names() == ["Getvar", "Setvar", "Hangup"]
    row = next(r for r in accounts.audit_log() if r["action"] == "agent.transfer")
    assert (row["actor"], row["target"]) == ("op1001", "agent:1001")
    assert "110" in str(row["after"]) and "c1" in str(row["after"])
    # twice: the first is under way
    r = await desk.post("/api/agents/1001/transfer", {"target": "110"})
    assert await error_of(r) == (409, "HL-QUE-084")
    r = await desk.post("/api/agents/1001/transfer/consult", {"action": "join"})
    assert await error_of(r) == (409, "HL-QUE-084")


async def test_ami_away_is_a_503(
    desks: dict[str, Desk],
    rq: RedisQueue,  # noqa: F811
    ami: FakeManager,
) -> None:
    await talking(rq)
    ami.down = True
    r = await desks["super"].post("/api/agents/1001/transfer", {"target": "water"})
    assert await error_of(r) == (503, "HL-QUE-082")


async def test_a_server_without_transfers_says_so(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
) -> None:
    http: TestClient = await open_client(  # type: ignore[type-arg]
        rq, accounts, database, parts=[calls_part(None)]
    )
    desks = await logged_in(http)
    try:
        r = await desks["super"].get("/api/transfers/targets")
        assert (r.status, await r.json()) == (
            200, {"available": False, "targets": [], "colleague_prefix": "agent:"}
        )  # fmt: skip
        # nothing to transfer anyway: 409 first; a connected call: 503
        r = await desks["super"].post("/api/agents/1001/transfer", {"target": "110"})
        assert await error_of(r) == (409, "HL-QUE-080")
        await talking(rq)
        r = await desks["super"].post("/api/agents/1001/transfer", {"target": "110"})
        assert await error_of(r) == (503, "HL-WEB-031")
        r = await desks["super"].post("/api/agents/1001/transfer/consult", {"action": "join"})
        assert await error_of(r) == (503, "HL-WEB-031")
        doc = await (await desks["super"].get("/api/openapi.json")).json()
        op = doc["paths"]["/api/agents/{agent_id}/transfer"]["post"]
        assert op["x-roles"] == ["operator", "supervisor", "admin"]
        assert {"TransferBody", "TransferOut", "TargetsOut"} <= set(doc["components"]["schemas"])
    finally:
        for d in desks.values():
            await d.close()
        await http.close()


def test_the_web_api_guide_names_the_transfer_routes() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "web-api.md").read_text("utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    for route in ROUTES:
        assert any(f"`{route.method} {route.path}`" in row for row in rows), route.path
