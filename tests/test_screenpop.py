"""The screen-pop's content (ivr/web/screenpop.py) on the real Redis and a real SQLite: the
call that rings (line, menu path, keys, priority, wait, reserved ticket number) and the
caller's earlier tickets and calls, made through the ticket service and the record store."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ivr.config.catalogue import load_catalogue
from ivr.config.loader import load_config
from ivr.db.database import Database
from ivr.engine.attempt import snapshot
from ivr.engine.record import CallRecord
from ivr.records.store import CallRecordStore
from ivr.records.ticketno import RedisTicketNumbers
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web.screenpop import ScreenPops
from queueing.queue import QueueRequest, RedisQueue
from tests.conftest import CONFIG_DIR
from tests.queueing.conftest import agent
from tests.redis_clients import redis_client

CALLER = "13912345678"
UID = "1764800000.77"
NOW = dt.datetime.now(dt.UTC)


@dataclass
class Desk:
    queue: RedisQueue
    db: Database
    store: CallRecordStore
    service: TicketService
    numbers: RedisTicketNumbers


@pytest.fixture
async def desk(redis_url: str, tmp_path: Path) -> AsyncIterator[Desk]:
    client = redis_client(redis_url)
    await client.flushdb()
    db = Database(f"sqlite:///{tmp_path / 'hotline.db'}")
    db.upgrade()
    store = CallRecordStore(db, tmp_path / "journal.jsonl")
    service = TicketService(
        db, load_catalogue(CONFIG_DIR), Deadlines(calendar_from_config(CONFIG_DIR))
    )
    numbers = RedisTicketNumbers(client, store)
    yield Desk(RedisQueue(client, server="s1"), db, store, service, numbers)
    await numbers.close()
    await store.close()
    await client.aclose()
    db.close()


def earlier_call(uid: str, days_ago: int, line: str | None, outcome: str) -> CallRecord:
    rec = CallRecord(
        uniqueid=uid,
        caller=CALLER,
        caller_name="",
        dialled=line or "12345",
        channel="PJSIP/trunk-1",
        config_version="v1",
        line_number=line,
        line_name="医保服务热线" if line else "12345",
        line_mode="merged" if line else None,
        department="medical_insurance" if line else None,
        started_at=NOW - dt.timedelta(days=days_ago),
    )
    rec.add("enter", "main")
    rec.finish(outcome)
    return rec


def ringing_call() -> CallRecord:
    rec = CallRecord(
        uniqueid=UID,
        caller=CALLER,
        caller_name="王女士",
        dialled="12393",
        channel="PJSIP/trunk-9",
        config_version="v1",
        line_number="12393",
        line_name="医保服务热线",
        line_mode="merged",
        department="medical_insurance",
        accessible=True,
    )
    for kind, node, detail in (
        ("enter", "main", ""),
        ("digit", "main", "2"),
        ("enter", "medical", ""),
        ("digit", "medical", "1"),
        ("enter", "medical_operator", ""),
    ):
        rec.add(kind, node, detail)
    return rec


async def history(d: Desk) -> None:
    """Two earlier tickets of the caller (an older one answered and done, a newer one
    dispatched and open), one of another caller, and two earlier calls."""
    s = d.service
    old = s.accept(
        caller=CALLER,
        type="consult",
        category="utilities.heating",
        actor="op1",
        now=NOW - dt.timedelta(days=5),
    )
    s.act(old.number, "answer", actor="op1", reply="已答复", now=NOW - dt.timedelta(days=5))
    new = s.accept(
        caller=CALLER,
        type="complaint",
        category="housing.property",
        actor="op2",
        now=NOW - dt.timedelta(days=1),
    )
    s.act(new.number, "dispatch", actor="op2", now=NOW - dt.timedelta(days=1))
    s.accept(caller="13800000000", type="consult", category="housing.property", actor="op1")
    await d.store.save(earlier_call("1764000000.1", 6, None, "answered"))
    await d.store.save(earlier_call("1764000000.2", 1, "12393", "abandoned"))


async def ring(d: Desk, rec: CallRecord, *, note_offer: bool = True) -> None:
    """The call registered, queued with priority 2 half a minute ago, offered to a1."""
    await d.queue.call_started(rec.uniqueid, 1, snapshot(rec))
    request = QueueRequest(rec.uniqueid, rec.caller, rec.dialled, "general", 2, time.time() - 30)
    await d.queue.enqueue(request)
    await d.queue.login(agent("a1"), ready=True)
    if note_offer:  # as the bridge does before it dials
        rec.add("offer", None, "a1 PJSIP/a1")
        await d.queue.call_note(rec.uniqueid, snapshot(rec))


async def test_the_pop_shows_the_call_and_the_callers_history(desk: Desk) -> None:
    await history(desk)
    await ring(desk, ringing_call())
    pops = ScreenPops(desk.queue.client, desk.db, tickets=desk.numbers)
    pop = await pops.build(UID, "a1")
    assert (pop.state, pop.agent, pop.kind) == ("offered", "a1", "call")
    assert (pop.caller, pop.caller_name, pop.anonymous) == (CALLER, "王女士", False)
    assert (pop.dialled, pop.line_number, pop.line_name) == ("12393", "12393", "医保服务热线")
    assert (pop.line_mode, pop.department) == ("merged", "medical_insurance")
    assert pop.path == ["main", "medical", "medical_operator"] and pop.digits == "21"
    assert (pop.priority, pop.accessible, pop.skill) == (2, True, "general")
    assert 29 <= pop.waited_seconds < 40
    # the number the bridge gets for the call is the one the pop shows
    assert pop.ticket_number is not None
    assert await desk.numbers.reserve_ticket(UID) == pop.ticket_number
    # newest first, with state, department and whether each is unresolved
    assert [(t.category, t.state, t.open) for t in pop.tickets] == [
        ("housing.property", "dispatched", True),
        ("utilities.heating", "finished", False),
    ]
    assert pop.tickets[0].state_name == "派单" and pop.tickets[0].department
    assert pop.repeat_caller and pop.open_categories == ["housing.property"]
    assert [(c.uniqueid, c.outcome, c.line_number) for c in pop.calls] == [
        ("1764000000.2", "abandoned", "12393"),
        ("1764000000.1", "answered", None),
    ]
    assert (
        pop.calls[0].day
        == (NOW - dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    )
    assert pop.history_error is None
    assert pop.model_dump(mode="json")["tickets"][0]["open"] is True
    # a desk that reconnects gets the same pop again; an agent without a call none
    again = await pops.for_agent("a1")
    assert again is not None and (again.uniqueid, again.ticket_number) == (UID, pop.ticket_number)
    assert again.tickets == pop.tickets
    assert await pops.for_agent("a2") is None


async def test_a_caller_with_only_resolved_tickets_is_no_repeat(desk: Desk) -> None:
    s = desk.service
    t = s.accept(caller=CALLER, type="consult", category="housing.property", actor="op1")
    s.act(t.number, "answer", actor="op1", reply="已答复")
    await ring(desk, ringing_call())
    pop = await ScreenPops(desk.queue.client, desk.db).build(UID, "a1")
    assert [x.open for x in pop.tickets] == [False]
    assert not pop.repeat_caller and pop.open_categories == []
    assert pop.ticket_number is None  # no ticket numbers given, and none reserved yet


async def test_a_withheld_number_has_no_history(desk: Desk) -> None:
    desk.service.accept(caller="anonymous", type="consult", category="housing.property", actor="x")
    rec = ringing_call()
    rec.caller = "anonymous"
    await ring(desk, rec)
    pop = await ScreenPops(desk.queue.client, desk.db).build(UID, "a1")
    assert pop.anonymous and pop.tickets == [] and pop.calls == [] and not pop.repeat_caller


async def test_the_pop_waits_for_the_offer_to_be_noted(desk: Desk) -> None:
    rec = ringing_call()
    rec.events = rec.events[:1]  # the snapshot of the enqueue: only the first node
    await ring(desk, rec, note_offer=False)

    async def bridge() -> None:
        await asyncio.sleep(0.1)
        for kind, node, detail in (("digit", "main", "3"), ("offer", None, "a1 PJSIP/a1")):
            rec.add(kind, node, detail)
        await desk.queue.call_note(UID, snapshot(rec))

    task = asyncio.create_task(bridge())
    pops = ScreenPops(desk.queue.client, desk.db)
    pop = await pops.build(UID, "a1", settle=2.0)
    await task
    assert pop.digits == "3"
    quick = await pops.build(UID, "a1", settle=0)
    assert quick.digits == "3"


async def test_without_a_snapshot_the_config_names_the_line(desk: Desk) -> None:
    config = load_config(CONFIG_DIR)
    request = QueueRequest("u-plain", CALLER, "12393", "general", 0, time.time())
    await desk.queue.enqueue(request)
    pop = await ScreenPops(desk.queue.client, desk.db, config=lambda: config).build("u-plain")
    assert (pop.state, pop.line_number, pop.line_mode) == ("waiting", "12393", "merged")
    assert (pop.department, pop.department_name) == ("medical_insurance", "呼和浩特市医疗保障局")
    assert pop.path == [] and not pop.accessible


async def test_the_history_is_left_out_when_the_database_is_away(
    desk: Desk, tmp_path: Path
) -> None:
    await ring(desk, ringing_call())
    away = Database(f"sqlite:///{tmp_path / 'missing' / 'nowhere.db'}")
    pop = await ScreenPops(desk.queue.client, away).build(UID, "a1")
    assert pop.caller == CALLER and pop.tickets == [] and pop.history_error
    away.close()
