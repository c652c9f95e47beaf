"""Every promise kept on the ticket side: each voice message and each promised callback is a
task on the operators' list (``hotline callbacks``), with its recording and the caller's
number, once per call whatever path files the record, and counted in the reports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from ivr.db.database import Database
from ivr.db.tables import CallbackTaskRow
from ivr.engine.callstore import JournalStore
from ivr.engine.record import CallRecord
from ivr.records.store import CallRecordStore
from ivr.records.tasks import NOTE_GAVE_UP, NOTE_PROMISED, message_ref
from ivr.reports import build_report, parse_period
from ivr.reports.render import markdown
from ivr.tickets.service import TicketService
from queueing.events import QueueEvent
from tests.tickets.test_operator_cli import Run, cli  # noqa: F401 (the fixture)
from tests.tickets.test_store import T0, event, record


def tasks(db: Database) -> list[CallbackTaskRow]:
    with db.session() as session:
        return list(session.scalars(select(CallbackTaskRow).order_by(CallbackTaskRow.ref)))


def message_call(i: int, caller: str = "13900000000", n: int = 1) -> CallRecord:
    rec = record(i, caller=caller)
    for k in range(n):
        rec.messages.append(f"messages/20250926/{rec.uniqueid}{'' if k == 0 else k}.wav")
    rec.finish("message", "general")
    return rec


def callback_call(i: int, merged_into: str = "") -> CallRecord:
    rec = record(i)
    detail = f"position 3 merged into {merged_into}" if merged_into else "position 3"
    rec.add("callback", None, detail)
    rec.finish("callback", "general")
    return rec


async def test_each_voice_message_is_a_task_with_its_recording(
    db: Database, tmp_path: Path
) -> None:
    store = CallRecordStore(db, tmp_path / "j.jsonl")
    await store.save(message_call(1))
    await store.save(message_call(2, caller="alice", n=2))  # a SIP name: a message anyway
    await store.save(message_call(1))  # filed again: nothing doubles
    got = [(t.kind, t.ref, t.caller, t.recording, t.state) for t in tasks(db)]
    assert got == [
        ("message", "1758852000.1", "13900000000", "messages/20250926/1758852000.1.wav", "open"),
        ("message", "1758852000.2", "alice", "messages/20250926/1758852000.2.wav", "open"),
        (
            "message",
            message_ref("1758852000.2", "messages/20250926/1758852000.21.wav"),
            "alice",
            "messages/20250926/1758852000.21.wav",
            "open",
        ),
    ]


async def test_process_script_messages_become_tasks_once(db: Database, tmp_path: Path) -> None:
    store = CallRecordStore(db, tmp_path / "j.jsonl")
    path = tmp_path / "calls.jsonl"
    await JournalStore(path).save(message_call(5))
    assert await store.import_journal(path) == 1
    await JournalStore(path).save(message_call(5))  # an import redone after a crash
    assert await store.import_journal(path) == 1
    assert [(t.kind, t.ref) for t in tasks(db)] == [("message", "1758852000.5")]


async def test_a_promised_callback_is_a_task_done_when_the_dialler_gets_through(
    db: Database, tmp_path: Path
) -> None:
    store = CallRecordStore(db, tmp_path / "j.jsonl")
    await store.save(callback_call(1))
    await store.save(callback_call(2, merged_into="1758852000.1"))  # no second task
    [task] = tasks(db)
    assert (task.kind, task.ref, task.state, task.note) == (
        "missed",
        "1758852000.1",
        "open",
        NOTE_PROMISED,
    )
    await store.queue_event(event(1, "CONNECT", "600", "", "2", agent="1001"))
    [task] = tasks(db)
    assert task.state == "done" and "1001" in task.result
    # the dialler got through before the record was filed (a late journal import)
    await store.queue_event(event(3, "CONNECT", "700", "", "2", agent="1002"))
    await store.save(callback_call(3))
    assert [(t.ref, t.state) for t in tasks(db)][-1] == ("1758852000.3", "done")


async def test_a_callback_the_dialler_gave_up_on_stays_open_for_a_person(
    db: Database, tmp_path: Path
) -> None:
    store = CallRecordStore(db, tmp_path / "j.jsonl")
    await store.save(callback_call(1))
    await store.queue_event(event(1, "ABANDON", "0", "3", "900", "callback"))
    [task] = tasks(db)
    assert (task.state, task.note) == ("open", NOTE_GAVE_UP)


async def test_tasks_are_listed_and_counted_in_the_report(
    service: TicketService,
    db: Database,
    tmp_path: Path,
    cli: Run,  # noqa: F811
) -> None:
    store = CallRecordStore(db, tmp_path / "j.jsonl")
    await store.save(message_call(1))
    await store.save(message_call(2))
    await store.save(callback_call(3))
    await store.save(record(4, outcome="abandoned"))
    await store.queue_event(event(4, "ABANDON", "1", "1", "30", "hangup"))
    t0 = T0 + dt.timedelta(seconds=5)
    for i in (5, 6):  # placed at answer; one chose self-service in the menu
        await store.queue_event(QueueEvent(t0, f"x{i}", "general", "NONE", "ENTERQUEUE"))
    await store.queue_event(
        QueueEvent(t0, "x6", "general", "NONE", "EXITWITHKEY", ("lookup", "1", "1", "4"))
    )
    first = tasks(db)[0]
    service.close_task(first.id, "已回复")
    report = build_report(db, service.catalogue, parse_period(day="2025-09-26"))
    counts = {t.kind: (t.created, t.done) for t in report.tasks}
    assert counts == {"message": (2, 1), "missed": (2, 0)}
    assert (report.queue.offered, report.queue.self_service) == (1, 1)
    text = markdown(report)
    assert "## 留言与回拨任务" in text and "| 留言 | 2 | 1 | 1 |" in text

    r = cli("callbacks", "list", "--kind", "message", "--open")
    assert r.code == 0, r.err
    assert "message 留言" in r.out and "messages/20250926/1758852000.2.wav" in r.out
    assert "1 callback task(s)" in r.out


async def test_a_call_whose_asterisk_box_died_is_called_back_and_counted_apart(
    service: TicketService, db: Database, tmp_path: Path
) -> None:
    """pbx-lost (issue 18): a missed-call task as for an abandon; in the report offered,
    not abandoned, counted on its own row."""
    store = CallRecordStore(db, tmp_path / "j.jsonl")
    await store.save(record(7, outcome="pbx-lost"))
    await store.queue_event(event(7, "ENTERQUEUE"))
    await store.queue_event(event(7, "PBXLOST", "1", "1", "12", "127.0.0.1"))
    assert [(t.kind, t.ref) for t in tasks(db)] == [("missed", record(7).uniqueid)]
    q = build_report(db, service.catalogue, parse_period(day="2025-09-26")).queue
    assert (q.offered, q.abandoned, q.pbx_lost) == (1, 0, 1)
