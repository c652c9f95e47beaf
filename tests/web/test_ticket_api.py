"""The desk's ticket form over HTTP (``/api/tickets``, ``/api/catalogue``) on a real Redis and
SQLite: the reserved number of the call, answer / dispatch / merge in one step, a retried form
that files nothing twice, and each refusal with its status and id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ivr.accounts import Accounts
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web.ticket_routes import tickets_part
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR
from tests.queueing.conftest import clock, rq  # noqa: F401 (fixtures)
from tests.web.conftest import Desk, desks_on, logged_in, open_client


@pytest.fixture
def service(database: Database) -> TicketService:
    return TicketService(
        database, load_catalogue(CONFIG_DIR), Deadlines(calendar_from_config(CONFIG_DIR))
    )


class Redis:
    """The calls' numbers as Redis has them (a number whose reservation row is still on its
    way to the database through the journaled write path)."""

    def __init__(self) -> None:
        self.numbers: dict[str, str] = {}

    async def reserved(self, uniqueid: str) -> str | None:
        return self.numbers.get(uniqueid)


@pytest.fixture
def redis_numbers() -> Redis:
    return Redis()


@pytest.fixture
async def desks(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
    service: TicketService,
    redis_numbers: Redis,
) -> AsyncIterator[dict[str, Desk]]:
    async with desks_on(
        rq, accounts, database, [tickets_part(lambda: service, redis_numbers)]
    ) as out:
        yield out


FORM: dict[str, Any] = {
    "caller": "13900000001",
    "dialled": "12329",
    "type": "complaint",
    "category": "housing.property",
    "content": "小区电梯停运三天，物业不修",
    "address": "新城区海东路 12 号",
    "caller_name": "王女士",
    "confidential": True,
}


async def test_catalogue_cascades_with_the_dispatch_map(desks: dict[str, Desk]) -> None:
    r = await desks["op1001"].get("/api/catalogue")
    assert r.status == 200
    cat = await r.json()
    assert {"code": "complaint", "name": "投诉", "deadline_days": 1} in cat["types"]
    by_path = {c["path"]: c for c in cat["categories"]}
    assert by_path["housing"]["parent"] is None
    assert by_path["housing.property"] == {
        "path": "housing.property",
        "name": "物业服务",
        "parent": "housing",
        "department": "property",
    }
    codes = {d["code"] for d in cat["departments"]}
    assert {"property", "water", "housing_fund"} <= codes


async def test_dispatch_takes_the_calls_reserved_number_once(
    desks: dict[str, Desk], service: TicketService
) -> None:
    reserved = service.reserve_number("call-1")
    form = {**FORM, "call_uniqueid": "call-1", "action": "dispatch", "note": "请尽快处理"}
    first = await desks["op1001"].post("/api/tickets", form)
    assert first.status == 200, await first.text()
    ticket = await first.json()
    assert ticket["number"] == reserved
    assert (ticket["state"], ticket["department"]) == ("dispatched", "property")
    assert ticket["department_name"] and ticket["state_name"]
    assert ticket["call_uniqueid"] == "call-1" and ticket["accepted_by"] == "op1001"
    assert ticket["deadline"].endswith("+08:00")
    assert [e["action"] for e in ticket["events"]] == ["accept", "dispatch"]
    # the browser retried (a lost answer): the same ticket, nothing done twice
    again = await (await desks["op1001"].post("/api/tickets", form)).json()
    assert again["number"] == reserved
    assert [e["action"] for e in again["events"]] == ["accept", "dispatch"]
    read = await (await desks["super"].get(f"/api/tickets/{reserved}")).json()
    assert read == again


async def test_the_number_redis_handed_out_before_its_row_reached_the_database(
    desks: dict[str, Desk], service: TicketService, redis_numbers: Redis
) -> None:
    """The screen-pop showed the number Redis reserved; the operator was quicker than the
    reservation's journaled write: the ticket still takes that number."""
    number = service.reserve_number("call-elsewhere")  # the database's sequence moves on
    redis_numbers.numbers["call-9"] = number[:8] + "000777"
    form = {**FORM, "call_uniqueid": "call-9", "action": "accept"}
    ticket = await (await desks["op1001"].post("/api/tickets", form)).json()
    assert ticket["number"] == number[:8] + "000777"


async def test_answer_finishes_and_needs_a_reply(desks: dict[str, Desk]) -> None:
    op = desks["op1002"]
    r = await op.post("/api/tickets", {**FORM, "type": "consult", "action": "answer"})
    assert r.status == 400
    assert (await r.json())["error_id"] == "HL-TKT-004"
    body = {**FORM, "type": "consult", "action": "answer", "reply": "已告知物业维修电话"}
    done = await (await op.post("/api/tickets", body)).json()
    assert (done["state"], done["reply"], done["department"]) == (
        "finished",
        "已告知物业维修电话",
        None,
    )


async def test_merge_into_an_earlier_ticket(desks: dict[str, Desk]) -> None:
    op = desks["op1001"]
    earlier = await (await op.post("/api/tickets", {**FORM, "action": "accept"})).json()
    assert earlier["state"] == "accepted"
    merged = await op.post(
        "/api/tickets", {**FORM, "action": "merge", "merge_into": earlier["number"]}
    )
    out = await merged.json()
    assert (out["state"], out["merged_into"]) == ("merged", earlier["number"])
    missing = await op.post("/api/tickets", {**FORM, "action": "merge", "merge_into": "X1"})
    assert missing.status == 404
    assert (await missing.json())["error_id"] == "HL-TKT-003"
    unnamed = await op.post("/api/tickets", {**FORM, "action": "merge"})
    assert (unnamed.status, (await unnamed.json())["error_id"]) == (400, "HL-TKT-004")


async def test_refusals_have_their_ids(desks: dict[str, Desk]) -> None:
    form = {**FORM, "action": "dispatch"}
    cases: list[tuple[Desk, dict[str, Any], bool, int, str]] = [
        (desks["anonymous"], form, True, 401, "HL-WEB-003"),
        (desks["dept"], form, True, 403, "HL-WEB-004"),
        (desks["op1001"], form, False, 403, "HL-WEB-005"),
        (desks["op1001"], {**form, "category": "nowhere"}, True, 400, "HL-TKT-004"),
        (desks["op1001"], {**form, "department": "nowhere"}, True, 400, "HL-TKT-004"),
        (desks["op1001"], {**form, "colour": "red"}, True, 400, "HL-WEB-001"),
        (desks["op1001"], {**form, "content": ""}, True, 400, "HL-WEB-001"),
    ]
    for desk, body, csrf, status, error_id in cases:
        r = await desk.post("/api/tickets", body, csrf=csrf)
        assert (r.status, (await r.json())["error_id"]) == (status, error_id), body
    r = await desks["op1001"].get("/api/tickets/NOPE")
    assert (r.status, (await r.json())["error_id"]) == (404, "HL-TKT-003")


async def test_a_server_without_a_catalogue_says_so(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
) -> None:
    http: TestClient = await open_client(  # type: ignore[type-arg]
        rq, accounts, database, parts=[tickets_part(lambda: None)]
    )
    sessions = await logged_in(http)
    try:
        r = await sessions["op1001"].get("/api/catalogue")
        assert (r.status, (await r.json())["error_id"]) == (503, "HL-WEB-011")
    finally:
        for d in sessions.values():
            await d.close()
        await http.close()
