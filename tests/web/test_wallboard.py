"""The supervisors' wallboard on a real Redis and SQLite: the board (GET and pushed over the
socket) shows a caller waiting, the longest wait, then the answer moving the service level
over offered and over answered; the database's figures (overdue and supervised tickets, open
callback tasks); who may see it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ivr.accounts import Accounts
from ivr.config.catalogue import load_catalogue
from ivr.db.database import Database
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web.wallboard import Wallboard
from ivr.web.wallboard_routes import WallboardHub, wallboard_part
from queueing import keys
from queueing.queue import QueueRequest, RedisQueue
from tests.conftest import CONFIG_DIR
from tests.queueing.conftest import Clock, clock, rq  # noqa: F401 (fixtures)
from tests.web.conftest import AGENTS, Desk, desks_on


@pytest.fixture
async def desks(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
    clock: Clock,  # noqa: F811
) -> AsyncIterator[dict[str, Desk]]:
    hub = WallboardHub(Wallboard(rq, database, clock=clock), every=0.2, min_gap=0.05)
    async with desks_on(rq, accounts, database, [wallboard_part(hub)]) as out:
        yield out


async def board(desk: Desk) -> dict[str, Any]:
    r = await desk.get("/api/wallboard")
    assert r.status == 200, await r.text()
    out: dict[str, Any] = await r.json()
    return out


async def test_a_waiting_caller_then_the_answer(
    desks: dict[str, Desk],
    rq: RedisQueue,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    boss = desks["super"]
    await rq.enqueue(QueueRequest("w1", "13900000001", "12345", "general", 0, clock()))
    clock.advance(20)  # longer than the 15 s of the service level
    b = await board(boss)
    assert (b["total"]["waiting"], b["total"]["longest_wait_seconds"]) == (1, 20)
    assert b["skills"]["general"]["waiting"] == 1
    assert b["total"]["service_level_over_offered"] == 0.0  # offered 1, none answered yet
    assert b["service_level_seconds"] == 15
    assert b["time"].endswith("+08:00")
    await rq.enqueue(QueueRequest("w2", "13900000002", "12345", "general", 0, clock()))
    await rq.login(AGENTS.by_id()["1001"], ready=True)  # w1 is offered at once
    clock.advance(1)
    await rq.connect("w1", "1001")
    b = await board(boss)
    t = b["total"]
    assert (t["offered"], t["answered"], t["answered_in_service_level"]) == (2, 1, 0)
    assert (t["service_level_over_offered"], t["service_level_over_answered"]) == (0.0, 0.0)
    assert t["answer_rate"] == 0.5
    assert [(a["id"], a["state"]) for a in b["agents"]] == [("1001", "busy")]
    assert b["agents_by_state"] == {"busy": 1}
    assert set(b["tickets"]) == {"overdue", "due_soon", "supervised"}
    assert len(b["calls_per_hour"]["today"]) == 24


async def test_the_socket_pushes_the_board_and_each_change(
    desks: dict[str, Desk],
    rq: RedisQueue,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    boss = desks["super"]
    url = boss.base.replace("http://", "ws://") + "/api/wallboard/socket"
    async with boss.session.ws_connect(url, headers={"Origin": boss.base}) as ws:

        async def next_board(check: Any) -> dict[str, Any]:
            async def read() -> dict[str, Any]:
                while True:
                    msg = json.loads(await ws.receive_str())
                    if msg["type"] == "board" and check(msg):
                        return msg  # type: ignore[no-any-return]

            return await asyncio.wait_for(read(), 10)

        first = await next_board(lambda b: True)
        assert first["total"]["waiting"] == 0
        await rq.enqueue(QueueRequest("s1", "13900000003", "12345", "general", 0, clock()))
        moved = await next_board(lambda b: b["total"]["waiting"] == 1)
        assert moved["skills"]["general"]["offered"] == 1


async def test_the_databases_figures(
    desks: dict[str, Desk],
    database: Database,
    clock: Clock,  # noqa: F811
) -> None:
    clock.t = time.time()  # the tickets' times are the real ones
    service = TicketService(
        database, load_catalogue(CONFIG_DIR), Deadlines(calendar_from_config(CONFIG_DIR))
    )
    late = service.accept(
        caller="13900000004", type="complaint", category="housing.property", actor="op1001",
        now=dt.datetime.now(dt.UTC) - dt.timedelta(days=10),
    )  # fmt: skip
    service.act(late.number, "dispatch", actor="op1001")
    done = service.accept(caller="13900000005", type="consult", category="housing", actor="op1001")
    service.act(done.number, "answer", actor="op1001", reply="已答复")  # a 回访 task is open
    b = await board(desks["admin"])
    assert b["tickets"]["overdue"] == 1
    assert b["callbacks_pending"] == 1


async def test_who_may_see_it(desks: dict[str, Desk]) -> None:
    for name, status in (("op1001", 403), ("dept", 403), ("anonymous", 401), ("admin", 200)):
        r = await desks[name].get("/api/wallboard")
        assert r.status == status, name
    boss = desks["super"]
    url = boss.base.replace("http://", "ws://") + "/api/wallboard/socket"
    r = await boss.session.get(url, headers={"Origin": "http://elsewhere.example"})
    assert (r.status, (await r.json())["error_id"]) == (403, "HL-WEB-005")


async def test_the_hot_issues_as_the_server_last_refreshed_them(
    desks: dict[str, Desk],
    rq: RedisQueue,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    boss = desks["super"]
    assert (await board(boss))["hotspots"] is None  # before the first refresh
    found = {"window_hours": 24, "min_tickets": 5, "groups": [{"place": "新城区阳光小区"}]}
    await rq.client.set(keys.hotspots(rq.centre), json.dumps(found, ensure_ascii=False))
    assert (await board(boss))["hotspots"] == found
    await rq.client.set(keys.hotspots(rq.centre), "{not json")  # the rest of the board goes on
    b = await board(boss)
    assert b["hotspots"] is None and b["total"]["waiting"] == 0
    assert "[HL-WEB-015] wallboard: the hot issues not read" in caplog.text


async def test_a_caller_whose_asterisk_box_went_away_is_offered_not_abandoned(
    desks: dict[str, Desk],
    rq: RedisQueue,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    await rq.enqueue(QueueRequest("p1", "13900000003", "12345", "general", 0, clock()))
    await rq.enqueue(QueueRequest("p2", "13900000004", "12345", "general", 0, clock()))
    clock.advance(5)
    assert await rq.pbx_lost("p1", "10.0.0.21") == 5
    b = await board(desks["super"])
    t, s = b["total"], b["skills"]["general"]
    assert (t["offered"], t["abandoned"], t["pbx_lost"], t["waiting"]) == (2, 0, 1, 1)
    assert (s["offered"], s["abandoned"], s["pbx_lost"]) == (2, 0, 1)
