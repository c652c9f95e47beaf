"""``/api/knowledge...`` (ivr/web/knowledge_routes.py) on an app built as the composition root
will build it: ``create_app(..., parts=[knowledge_part(kb)])``, with one account per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ivr.accounts import Accounts
from ivr.db.database import Database
from ivr.knowledge import Actor, Draft, KnowledgeBase
from ivr.web import create_app
from ivr.web.knowledge_routes import knowledge_part, knowledge_routes
from queueing.queue import RedisQueue
from tests.queueing.conftest import clock, rq  # noqa: F401 (fixtures)
from tests.web.conftest import AGENTS, USERS, Desk

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def kb(database: Database) -> KnowledgeBase:
    kb = KnowledgeBase(database, {"water": "呼和浩特市供水总公司"})
    admin = Actor("cli:root", "cli")
    kb.propose(
        Draft("城乡居民医保缴费", "每年9月至12月缴纳次年的城乡居民医保。"), admin, approve=True
    )
    kb.propose(
        Draft("供水报修", "停水、漏水请转供水公司。", "phone", "water", "0471-6969110"),
        admin,
        approve=True,
    )
    return kb


@pytest.fixture
async def desks(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
    kb: KnowledgeBase,
) -> AsyncIterator[dict[str, Desk]]:
    app = create_app(rq, AGENTS, accounts, database, parts=[knowledge_part(kb)])
    client = TestClient(TestServer(app))
    await client.start_server()
    out = {name: Desk(client) for name in USERS}
    for name in USERS:
        assert (await out[name].login(name)).status == 200
    yield out
    for d in out.values():
        await d.close()
    await client.close()


async def ok(response: Any) -> Any:
    assert response.status == 200, await response.text()
    return await response.json()


async def refused(response: Any, status: int, error_id: str) -> Any:
    body = await response.json()
    assert (response.status, body["error_id"]) == (status, error_id), body
    return body


async def test_an_operator_finds_yibao(desks: dict[str, Desk]) -> None:
    got = await ok(await desks["op1001"].get("/api/knowledge", params={"q": "医保"}))
    assert (got["query"], got["state"]) == ("医保", "approved")
    [hit] = got["hits"]
    assert hit["entry"]["title"] == "城乡居民医保缴费"
    assert hit["title_marks"] == [[4, 6]]
    start, end = hit["marks"][0]
    assert hit["snippet"][start:end] == "医保"
    assert hit["entry"]["proposed_at"].endswith("+08:00")  # the centre's time
    water = await ok(await desks["super"].get("/api/knowledge?q=供水总公司"))
    assert water["hits"][0]["entry"]["phone"] == "0471-6969110"
    listing = await ok(await desks["op1001"].get("/api/knowledge"))
    assert len(listing["hits"]) == 2 and listing["hits"][0]["score"] == 0


async def test_a_proposal_is_found_once_a_supervisor_approves_it(desks: dict[str, Desk]) -> None:
    op, sup = desks["op1001"], desks["super"]
    body = {"title": "社保卡挂失", "body": "可在电子社保卡办理临时挂失。", "tags": ["社保卡"]}
    entry = await ok(await op.post("/api/knowledge", body))
    assert (entry["state"], entry["proposed_by"], entry["version"]) == ("proposed", "op1001", 1)
    path = f"/api/knowledge/{entry['id']}"
    assert (await ok(await op.get("/api/knowledge?q=社保卡")))["hits"] == []
    assert (await ok(await op.get(path)))["state"] == "proposed"  # its own proposal
    await refused(await desks["op1002"].get(path), 404, "HL-KNO-001")
    # the proposals are for supervisors
    await refused(await op.get("/api/knowledge?state=proposed"), 403, "HL-KNO-004")
    waiting = await ok(await sup.get("/api/knowledge?state=proposed"))
    assert [h["entry"]["title"] for h in waiting["hits"]] == ["社保卡挂失"]
    found = await ok(await sup.get("/api/knowledge?q=社保卡&state=proposed"))
    assert [h["entry"]["title"] for h in found["hits"]] == ["社保卡挂失"]
    # an operator cannot approve; a supervisor can
    await refused(await op.post(path + "/approve"), 403, "HL-WEB-004")
    approved = await ok(await sup.post(path + "/approve", {"note": "核实无误"}))
    assert (approved["state"], approved["decided_by"]) == ("approved", "super")
    hits = (await ok(await op.get("/api/knowledge?q=社保卡")))["hits"]
    assert [h["entry"]["title"] for h in hits] == ["社保卡挂失"]
    await refused(await sup.post(path + "/approve"), 409, "HL-KNO-003")


async def test_a_supervisors_entry_is_approved_at_once_unless_it_asks(
    desks: dict[str, Desk],
) -> None:
    body = {
        "title": "燃气报修",
        "body": "闻到燃气味请开窗。",
        "kind": "phone",
        "phone": "0471-6514119",
    }
    assert (await ok(await desks["super"].post("/api/knowledge", body)))["state"] == "approved"
    later = await ok(await desks["admin"].post("/api/knowledge", {**body, "approve": False}))
    assert later["state"] == "proposed"
    await refused(
        await desks["op1001"].post("/api/knowledge", {**body, "approve": True}), 403, "HL-KNO-004"
    )


async def test_edit_reject_retire(desks: dict[str, Desk], kb: KnowledgeBase) -> None:
    sup, op = desks["super"], desks["op1001"]
    water = "/api/knowledge/2"
    body = {"title": "供水报修", "body": "停水、漏水、水压低请转供水公司。", "kind": "phone",
            "department": "water", "phone": "0471-6969110", "version": 1}  # fmt: skip
    await refused(await op.post(water, body), 403, "HL-WEB-004")
    edited = await ok(await sup.post(water, body))
    assert edited["version"] == 2
    await refused(await sup.post(water, body), 409, "HL-KNO-003")  # version 1 is stale
    hits = (await ok(await op.get("/api/knowledge?q=水压")))["hits"]
    assert [h["entry"]["id"] for h in hits] == [2]
    p = await ok(await op.post("/api/knowledge", {"title": "医保", "body": "转医保局。"}))
    await refused(await sup.post(f"/api/knowledge/{p['id']}/reject"), 400, "HL-KNO-002")
    rejected = await ok(await sup.post(f"/api/knowledge/{p['id']}/reject", {"note": "重复"}))
    assert (rejected["state"], rejected["decision_note"]) == ("rejected", "重复")
    assert (await ok(await sup.post(water + "/retire")))["state"] == "retired"
    assert (await ok(await op.get("/api/knowledge?q=供水")))["hits"] == []


async def test_refusals(desks: dict[str, Desk]) -> None:
    op = desks["op1001"]
    entry = {"title": "t", "body": "b"}
    await refused(await op.post("/api/knowledge", entry, csrf=False), 403, "HL-WEB-005")
    await refused(await op.post("/api/knowledge", {"title": "t"}), 400, "HL-WEB-001")
    await refused(await op.post("/api/knowledge", {**entry, "kind": "faq"}), 400, "HL-WEB-001")
    await refused(await op.post("/api/knowledge", {**entry, "kind": "phone"}), 400, "HL-KNO-002")
    await refused(await op.get("/api/knowledge?q=x&limit=abc"), 400, "HL-WEB-020")
    await refused(await op.get("/api/knowledge?limit=51"), 400, "HL-WEB-020")
    await refused(await op.get("/api/knowledge?state=lost"), 400, "HL-WEB-020")
    await refused(await op.get("/api/knowledge/abc"), 404, "HL-KNO-001")
    await refused(await op.get("/api/knowledge/999"), 404, "HL-KNO-001")
    await refused(await op.get("/api/knowledge/²"), 404, "HL-KNO-001")  # a digit, not decimal
    await refused(await op.get("/api/knowledge/" + "9" * 30), 404, "HL-KNO-001")
    await refused(await op.get("/api/knowledge?limit=²"), 400, "HL-WEB-020")
    await refused(await desks["dept"].get("/api/knowledge?q=医保"), 403, "HL-WEB-004")


async def test_changes_are_audited_with_the_address(
    desks: dict[str, Desk], accounts: Accounts
) -> None:
    p = await ok(await desks["op1001"].post("/api/knowledge", {"title": "t", "body": "b"}))
    await ok(await desks["super"].post(f"/api/knowledge/{p['id']}/approve"))
    rows = accounts.audit_log(2)  # the newest first
    assert [(r["actor"], r["action"], r["target"]) for r in rows] == [
        ("super", "knowledge.approve", f"knowledge:{p['id']}"),
        ("op1001", "knowledge.propose", f"knowledge:{p['id']}"),
    ]
    assert rows[0]["address"] == "127.0.0.1"
    assert (rows[0]["before"]["state"], rows[0]["after"]["state"]) == ("proposed", "approved")


async def test_the_api_document_and_the_guide_name_the_routes(desks: dict[str, Desk]) -> None:
    doc = await ok(await desks["op1001"].get("/api/openapi.json"))
    assert doc["paths"]["/api/knowledge"]["get"]["x-roles"] == ["operator", "supervisor", "admin"]
    approve = doc["paths"]["/api/knowledge/{entry_id}/approve"]["post"]
    assert approve["x-roles"] == ["supervisor", "admin"]
    for model in ("KnowledgeDraftBody", "KnowledgeSearchOut", "KnowledgeEntryOut"):
        assert model in doc["components"]["schemas"]
    guide = (ROOT / "docs" / "web-api.md").read_text("utf-8").replace("\\|", "|")
    rows = [line for line in guide.splitlines() if line.startswith("| `")]
    for route in knowledge_routes():
        prefix, last = route.path.rsplit("/", 1)
        assert any(
            f"`{route.method} {route.path}`" in row
            or (f"{route.method} {prefix}/" in row and last in row.split(prefix + "/", 1)[1])
            for row in rows
        ), f"docs/web-api.md does not name {route.method} {route.path}"
