"""The desk's callback tasks over HTTP (``/api/callbacks``) and click-to-call
(``/api/agents/{id}/call``) on a real Redis and SQLite, with the callback dialler logged in to
a fake AMI (the real Asterisk's Originate is tested in tests/e2e/test_callback.py): the
operator's phone is rung first with the citizen's number as the extension, a ready operator
is paused first, and each refusal has its id."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ivr.accounts import Accounts
from ivr.config.catalogue import load_catalogue
from ivr.config.queue_models import DiallerSettings
from ivr.db.database import Database
from ivr.db.tables import CallbackTaskRow
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService, utcnow
from ivr.web.callback_routes import callbacks_part
from ivr.web.ticket_routes import tickets_part
from queueing.ami import AMIClient
from queueing.callback import CallbackDialler
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR
from tests.queueing.conftest import ami, clock, rq  # noqa: F401 (fixtures)
from tests.queueing.fake_ami import FakeAMI
from tests.web.conftest import AGENTS, Desk, desks_on

CITIZEN = "13904719999"


@pytest.fixture
def service(database: Database) -> TicketService:
    return TicketService(
        database, load_catalogue(CONFIG_DIR), Deadlines(calendar_from_config(CONFIG_DIR))
    )


@pytest.fixture
async def dialler(rq: RedisQueue, ami: FakeAMI) -> AsyncIterator[CallbackDialler]:  # noqa: F811
    client = AMIClient("127.0.0.1", ami.port, "hotline", ami.secret)
    d = CallbackDialler(rq, DiallerSettings(enabled=True, port=ami.port), client)
    await client.connect()
    d.ready = True  # logged in (its run() loop is the hub's; tested in tests/queueing)
    yield d
    await client.close()


class Dialler:
    """What the server's root hands the part: its dialler, or None (off)."""

    def __init__(self, dialler: CallbackDialler | None) -> None:
        self.current = dialler

    def __call__(self) -> CallbackDialler | None:
        return self.current


@pytest.fixture
def switch(dialler: CallbackDialler) -> Dialler:
    return Dialler(dialler)


@pytest.fixture
async def desks(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
    service: TicketService,
    switch: Dialler,
) -> AsyncIterator[dict[str, Desk]]:
    parts = [tickets_part(lambda: service), callbacks_part(switch)]
    async with desks_on(rq, accounts, database, parts) as out:
        yield out


def tasks(database: Database, service: TicketService) -> tuple[int, int, str]:
    """A 回访 of a ticket answered on the spot, and a 漏接回拨 of a caller who left."""
    ticket = service.accept(caller=CITIZEN, type="consult", category="housing_fund", actor="op1002")
    service.act(ticket.number, "answer", actor="op1002", reply="已告知提取所需材料")
    with database.session() as s:
        missed = CallbackTaskRow(
            kind="missed", ref="1790000000.77", caller="13904718888", created_at=utcnow(),
            state="open", attempts=0, result="",
        )  # fmt: skip
        s.add(missed)
        s.commit()
        missed_id = missed.id
    visit = next(t for t in service.callback_tasks("visit") if t.ref == ticket.number)
    return visit.id, missed_id, ticket.number


async def test_the_task_list_and_closing_a_follow_up(
    desks: dict[str, Desk], database: Database, service: TicketService
) -> None:
    visit, missed, number = tasks(database, service)
    op = desks["op1001"]
    listed = await (await op.get("/api/callbacks")).json()
    assert listed["total"] == 2
    assert [(t["id"], t["kind_name"]) for t in listed["tasks"]] == [
        (visit, "回访"),
        (missed, "漏接回拨"),
    ]
    assert listed["tasks"][0]["created_at"].endswith("+08:00")
    only = await (await op.get("/api/callbacks?kind=missed")).json()
    assert [t["id"] for t in only["tasks"]] == [missed]

    r = await op.post(f"/api/callbacks/{visit}/done", {"result": "市民表示满意"})
    assert (r.status, (await r.json())["error_id"]) == (400, "HL-TKT-004")  # no satisfaction
    r = await op.post(f"/api/callbacks/{visit}/done", {"result": "市民表示满意", "satisfaction": 5})
    assert (r.status, (await r.json())["state"]) == (200, "done")
    assert service.get(number).satisfaction == 5
    r = await op.post(f"/api/callbacks/{missed}/attempt", {"result": "无人接听"})
    assert (await r.json())["attempts"] == 1
    left = await (await op.get("/api/callbacks")).json()
    assert [t["id"] for t in left["tasks"]] == [missed]  # open ones by default
    again = await op.post(f"/api/callbacks/{visit}/done", {"result": "x", "satisfaction": 4})
    assert (again.status, (await again.json())["error_id"]) == (409, "HL-TKT-002")
    r = await desks["dept"].get("/api/callbacks")
    assert (r.status, (await r.json())["error_id"]) == (403, "HL-WEB-004")
    r = await op.post("/api/callbacks/999/attempt", {"result": "x"})
    assert (r.status, (await r.json())["error_id"]) == (404, "HL-TKT-003")


async def test_click_to_call_rings_the_operator_first_then_the_citizen(
    desks: dict[str, Desk],
    database: Database,
    service: TicketService,
    rq: RedisQueue,  # noqa: F811
    ami: FakeAMI,  # noqa: F811
    switch: Dialler,
) -> None:
    visit, missed, _ = tasks(database, service)
    op = desks["op1001"]
    r = await op.post("/api/agents/1001/call", {"task_id": missed})
    assert (r.status, (await r.json())["error_id"]) == (409, "HL-WEB-013")  # not logged in
    await rq.login(AGENTS.by_id()["1001"], ready=True)
    r = await op.post("/api/agents/1001/call", {"task_id": missed})
    assert r.status == 200, await r.text()
    assert await r.json() == {"status": "ANSWER", "number": "13904718888", "task_id": missed}
    sent = ami.originates[-1]
    assert (sent["Channel"], sent["Exten"], sent["Context"]) == (
        ["PJSIP/1001"],
        ["13904718888"],
        ["hotline-callback"],
    )
    assert f"HOTLINE_CALLBACK=task-{missed}" in sent["Variable"]
    paused = await rq.agent("1001")
    assert (paused.state, paused.reason) == ("paused", "callback")  # no caller meanwhile
    clicks = [a for a in Accounts(database).audit_log() if a["action"] == "callback.call"]
    assert [(a["target"], a["actor"]) for a in clicks] == [(f"callback:{missed}", "op1001")]
    assert clicks[0]["after"] == {"number": "13904718888", "status": "ANSWER"}

    r = await op.post("/api/agents/1002/call", {"task_id": missed})  # another's phone
    assert (r.status, (await r.json())["error_id"]) == (403, "HL-WEB-004")
    r = await op.post("/api/agents/1001/call", {"task_id": missed}, csrf=False)
    assert (r.status, (await r.json())["error_id"]) == (403, "HL-WEB-005")
    switch.current = None  # the dialler is off on this server
    r = await op.post("/api/agents/1001/call", {"task_id": visit})
    assert (r.status, (await r.json())["error_id"]) == (503, "HL-WEB-012")
