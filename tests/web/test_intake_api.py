"""``POST /api/intake/items``: a platform's batch as JSON or CSV from a supervisor's API token
or session, counted and audited once per batch; re-sent, nothing new; refusals as JSON with
their ids (the role matrix and CSRF for every route are tests/web/test_access.py's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

import ivr.web.intake_routes as intake_routes
from ivr.accounts import Accounts
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web.intake_routes import intake_part
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR
from tests.tickets.test_intake import item
from tests.web.conftest import Desk, desks_on, open_client

URL = "/api/intake/items"


@pytest.fixture
def service(database: Database) -> TicketService:
    return TicketService(
        database, load_catalogue(CONFIG_DIR), Deadlines(calendar_from_config(CONFIG_DIR))
    )


@pytest.fixture
async def client(
    rq: RedisQueue, accounts: Accounts, database: Database, service: TicketService
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    http = await open_client(rq, accounts, database, parts=[intake_part(lambda: service)])
    yield http
    await http.close()


def _auth(accounts: Accounts, user: str = "super") -> dict[str, str]:
    return {"Authorization": f"Bearer {accounts.create_token(user, 'platform', actor='test')}"}


async def test_a_json_batch_with_a_token_then_again(
    client: TestClient,  # type: ignore[type-arg]
    accounts: Accounts,
) -> None:
    auth = _auth(accounts)
    body = {
        "source": "gov_cn",
        "items": [item(1, category="供暖问题"), item(2, phone="?"), item(3), 42],
        "category_map": {"供暖问题": "utilities.heating"},
    }
    r = await client.post(URL, json=body, headers=auth)
    assert r.status == 200
    out = await r.json()
    assert out["counts"] == {"created": 2, "already": 0, "refused": 2}
    first, bad, third, number = out["items"]
    assert (number["where"], number["error_id"]) == ("item 4", "HL-IMP-002")
    assert (first["outcome"], first["state"], first["department"]) == (
        "created", "dispatched", "heating",
    )  # fmt: skip
    assert (bad["where"], bad["column"], bad["error_id"]) == ("item 2", "phone", "HL-IMP-002")
    r = await client.post(URL, json=body, headers=auth)
    again = await r.json()
    assert again["counts"] == {"created": 0, "already": 2, "refused": 2}
    assert [i["number"] for i in again["items"]] == [first["number"], None, third["number"], None]
    audit = [a for a in accounts.audit_log() if a["action"] == "intake.import"]
    assert [(a["actor"], a["role"], a["target"], a["after"]["created"]) for a in audit] == [
        ("super", "supervisor", "source:gov_cn", 0),
        ("super", "supervisor", "source:gov_cn", 2),
    ]


async def test_a_csv_body_from_a_session(
    rq: RedisQueue, accounts: Accounts, database: Database, service: TicketService
) -> None:
    text = (
        "external_id,received_at,phone,content,type,category\n"
        "M-1,2025-09-25 08:30,13900000001,噪音,投诉,pollution\n"
    )
    async with desks_on(rq, accounts, database, [intake_part(lambda: service)]) as desks:
        admin: Desk = desks["admin"]
        headers = {"X-CSRF-Token": admin.csrf, "Content-Type": "text/csv"}
        r = await admin.session.post(
            admin.base + URL + "?source=mayor_mailbox", data=text.encode("gbk"), headers=headers
        )
        out = await r.json()
        assert r.status == 200 and out["counts"]["created"] == 1
        assert (out["encoding"], out["items"][0]["department"]) == ("GBK (GB18030)", "environment")
        r = await admin.session.post(admin.base + URL, data=b"x", headers=headers)
        assert r.status == 400 and (await r.json())["error_id"] == "HL-WEB-001"  # no source
        r = await admin.session.post(
            admin.base + URL + "?source=mayor_mailbox", data="电话\n1\n".encode(), headers=headers
        )
        assert r.status == 400 and (await r.json())["error_id"] == "HL-IMP-001"
        r = await desks["op1001"].post(URL, {"source": "gov_cn", "items": []})
        assert r.status == 403 and (await r.json())["error_id"] == "HL-WEB-004"
        r = await desks["dept"].post(URL, {"source": "gov_cn", "items": []})
        assert r.status == 403


async def test_refusals_are_json_with_their_ids(
    client: TestClient,  # type: ignore[type-arg]
    accounts: Accounts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth = _auth(accounts, "admin")

    async def post(body: Any, **kw: Any) -> tuple[int, str]:
        r = await client.post(URL, json=body, headers=auth, **kw)
        return r.status, (await r.json())["error_id"]

    assert await post({"source": "phone", "items": [item(1)]}) == (400, "HL-IMP-003")
    assert await post({"source": "gov_cn", "items": "x"}) == (400, "HL-WEB-001")
    assert await post({"source": "gov_cn", "items": [], "default_category": "外星人"}) == (
        400, "HL-IMP-001",
    )  # fmt: skip
    monkeypatch.setattr(intake_routes, "MAX_ITEMS", 2)
    assert await post({"source": "gov_cn", "items": [item(1)] * 3}) == (413, "HL-IMP-005")
    monkeypatch.setattr(intake_routes, "MAX_BODY", 1000)
    assert await post({"source": "gov_cn", "items": [item(1)] * 10}) == (413, "HL-IMP-005")
    r = await client.post(URL, data=b"[]", headers={**auth, "Content-Type": "text/plain"})
    assert r.status == 400 and (await r.json())["error_id"] == "HL-WEB-001"
    assert [a for a in accounts.audit_log() if a["action"] == "intake.import"] == []
