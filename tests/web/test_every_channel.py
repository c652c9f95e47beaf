"""Issue 17's evidence across the listeners, on a real Redis and on SQLite and PostgreSQL: a
citizen's web request (the citizens' own listener) and an item a platform forwarded (a file
given to ``hotline import``) each become a ticket; the operator dispatches the web request
from the inbox, the catalogue dispatches the forwarded one; each department signs and
finishes its own on the portal; the citizen reads the reply with the ticket number and phone,
with an SMS receipt and reply on the way; the platform gets its reply as a file; importing
the same file again creates nothing new."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from sqlalchemy import func, select

from ivr.accounts import Accounts
from ivr.cli import main
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.db.outbox_tables import OutboxRow
from ivr.db.tables import TicketRow
from ivr.notify import OutboxNotices
from ivr.notify.delivery import DeliveryLoop
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web.inbox_routes import inbox_part
from ivr.web.portal_routes import portal_part
from ivr.web.ticket_routes import tickets_part
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR
from tests.queueing.conftest import clock, rq  # noqa: F401 (fixtures)
from tests.tickets.conftest import pg_admin_url, pg_template, pg_url  # noqa: F401 (fixtures)
from tests.tickets.outbox_helpers import TIMEZONE, notify
from tests.tickets.test_intake import item
from tests.web.citizen_fixtures import Citizen, citizen_client
from tests.web.conftest import PASSWORD, desks_on

REPLY_WEB, REPLY_UPPER = "已抢修，今晚恢复供水。", "已派人检修供热管道"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'channels.db'}"
    if request.param == "postgresql":
        url = str(request.getfixturevalue("pg_url"))
    db = Database(url)
    db.upgrade()
    yield db
    db.close()


@pytest.fixture
def service(database: Database) -> TicketService:
    catalogue = load_catalogue(CONFIG_DIR)
    notices = OutboxNotices(lambda: notify(), lambda: dict(catalogue.sources))
    deadlines = Deadlines(calendar_from_config(CONFIG_DIR))
    return TicketService(database, catalogue, deadlines, notices=notices)


@pytest.fixture
async def delivery(
    database: Database, service: TicketService, tmp_path: Path
) -> AsyncIterator[DeliveryLoop]:
    sources = dict(service.catalogue.sources)
    loop = DeliveryLoop(database, notify, lambda: sources, tmp_path / "var", lambda: TIMEZONE)
    yield loop
    await loop.stop()


async def body(r: ClientResponse, status: int = 200) -> Any:
    assert r.status == status, await r.text()
    return await r.json()


def ticket_count(database: Database) -> int:
    with database.session() as s:
        return int(s.scalar(select(func.count()).select_from(TicketRow)) or 0)


def outbox(database: Database) -> list[tuple[str, str, str]]:
    with database.session() as s:
        rows = s.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        return [(r.kind, r.target, r.key) for r in rows]


async def test_a_web_request_and_a_forwarded_item_each_reach_their_citizen(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
    service: TicketService,
    delivery: DeliveryLoop,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, department in (("water-dept", "water"), ("heating-dept", "heating")):
        accounts.add_user(name, PASSWORD, "department", department=department, actor="test")
    # a citizen on the public page (no account)
    site = await citizen_client(lambda: service, rq)
    citizen = Citizen(site)
    await citizen.form()
    web = (await body(await citizen.submit()))["number"]
    # a platform's file, imported by the centre
    batch = tmp_path / "people_leaders.json"
    batch.write_text(json.dumps([item(1, phone="13900000001")], ensure_ascii=False), "utf-8")
    args = ["import", str(batch), "--source", "people_leaders", "--config", str(CONFIG_DIR)]
    assert main([*args, "--database-url", database.url]) == 0
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .endswith(
            "1 items: 1 created (1 dispatched, 0 kept at the centre), 0 already there, 0 refused"
        )
    )
    assert ticket_count(database) == 2
    with database.session() as s:
        upper = s.scalars(select(TicketRow).where(TicketRow.source == "people_leaders")).one()
        forwarded = upper.number
        assert (upper.external_id, upper.state, upper.department) == (
            "RMW-2025-0001", "dispatched", "heating",
        )  # fmt: skip

    parts = [tickets_part(lambda: service), inbox_part(), portal_part()]
    extra = ["water-dept", "heating-dept"]
    try:
        async with desks_on(rq, accounts, database, parts, extra) as desks:
            # the operator finds the web request waiting and dispatches it to the water company
            waiting = await body(await desks["op1001"].get("/api/inbox"))
            assert [t["number"] for t in waiting["tickets"]] == [web]
            r = await desks["op1001"].post(f"/api/inbox/{web}/dispatch", {"department": "water"})
            assert (await body(r))["state"] == "dispatched"
            # each department sees its own ticket only, signs for it and finishes it
            for who, number, reply, other in (
                ("water-dept", web, REPLY_WEB, forwarded),
                ("heating-dept", forwarded, REPLY_UPPER, web),
            ):
                dept = desks[who]
                mine = await body(await dept.get("/api/portal/tickets"))
                assert [t["number"] for t in mine["tickets"]] == [number]
                await body(await dept.get(f"/api/portal/tickets/{other}"), 404)
                await body(await dept.post(f"/api/portal/tickets/{number}/sign", {}))
                done = await dept.post(f"/api/portal/tickets/{number}/finish", {"reply": reply})
                assert (await body(done))["state"] == "finished"
    finally:
        await citizen.close()
        await site.close()

    # the citizen reads the reply with the number and the phone, as written on the receipt
    site = await citizen_client(lambda: service, rq)
    citizen = Citizen(site)
    try:
        await citizen.form()
        seen = await body(await citizen.lookup(web, "13800138000"))
        assert (seen["state"], seen["reply"]) == ("finished", REPLY_WEB)
    finally:
        await citizen.close()
        await site.close()
    # an SMS receipt and the reply to the web citizen; a reply file to the platform
    assert outbox(database) == [
        ("sms", "13800138000", f"{web}:accepted"),
        ("sms", "13800138000", f"{web}:finished:0"),
        ("reply", "people_leaders", f"{forwarded}:finished:0"),
    ]
    assert await delivery.run_once() == 3
    var = tmp_path / "var"
    texts = [json.loads(line) for line in (var / "sms-outbox.jsonl").read_text().splitlines()]
    assert [t["to"] for t in texts] == ["13800138000", "13800138000"]
    assert REPLY_WEB in texts[1]["text"]
    path = var / "replies" / "people_leaders" / f"{forwarded}.finished.0.json"
    sent = json.loads(path.read_text("utf-8"))
    assert (sent["external_id"], sent["reply"]) == ("RMW-2025-0001", REPLY_UPPER)

    # the same file again: nothing new, and it says so
    assert main([*args, "--database-url", database.url]) == 0
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .endswith("1 items: 0 created, 1 already there, 0 refused")
    )
    assert ticket_count(database) == 2
    assert len(outbox(database)) == 3
