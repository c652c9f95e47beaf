"""The call store: idempotent call records and queue events, journal and replay when the
database goes away mid-stream (a real outage on both SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from ivr.db.database import Database
from ivr.db.tables import CallbackTaskRow, CallRow, QueueLogRow
from ivr.engine.record import CallRecord
from ivr.records.store import CallRecordStore
from ivr.tickets.service import TicketService
from queueing.events import QueueEvent

T0 = dt.datetime(2025, 9, 26, 2, 0, tzinfo=dt.UTC)


def record(i: int, outcome: str = "queue", caller: str = "13900000000") -> CallRecord:
    rec = CallRecord(
        uniqueid=f"1758852000.{i}",
        caller=caller,
        caller_name="",
        dialled="12345",
        channel=f"PJSIP/trunk-{i:08x}",
        config_version="v1",
        started_at=T0 + dt.timedelta(seconds=i),
    )
    rec.add("enter", "main")
    rec.add("digit", "main", "1")
    rec.skill = "general"
    rec.finish(outcome)
    return rec


def event(i: int, name: str, *data: str, agent: str = "NONE") -> QueueEvent:
    return QueueEvent(
        at=T0 + dt.timedelta(seconds=i, milliseconds=500),
        callid=f"1758852000.{i}",
        queue="general",
        agent=agent,
        event=name,
        data=data,
    )


class Outage:
    """Takes the database away for real, and brings it back."""

    def __init__(self, db: Database) -> None:
        self.db = db
        url = make_url(db.url)
        self.sqlite_dir = Path(url.database or "").parent if db.dialect == "sqlite" else None
        self.url = url

    def _pg(self, allow: bool) -> None:
        name = self.url.database
        admin = create_engine(self.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {str(allow).lower()}"))
            if not allow:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :n AND pid <> pg_backend_pid()"
                    ),
                    {"n": name},
                )
        admin.dispose()

    def down(self) -> None:
        if self.sqlite_dir is not None:
            self.db.engine.dispose()
            self.sqlite_dir.rename(self.sqlite_dir.with_name("away"))
        else:
            self._pg(False)

    def up(self) -> None:
        if self.sqlite_dir is not None:
            self.sqlite_dir.with_name("away").rename(self.sqlite_dir)
        else:
            self._pg(True)


@pytest.fixture
def store(db: Database, tmp_path: Path) -> Iterator[CallRecordStore]:
    s = CallRecordStore(db, tmp_path / "journal" / "tickets.jsonl", retry_seconds=0.05)
    yield s


def count(db: Database, model: type, **where: object) -> int:
    with db.session() as session:
        q = select(func.count()).select_from(model)
        for key, value in where.items():
            q = q.where(getattr(model, key) == value)
        return int(session.scalar(q) or 0)


async def test_call_record_fields_and_idempotency(store: CallRecordStore, db: Database) -> None:
    rec = record(1)
    await store.queue_event(event(1, "ENTERQUEUE", "", "13900000000"))
    await store.queue_event(event(1, "CONNECT", "12", "1758852000.99", "3", agent="agent7"))
    await store.save(rec)
    await store.save(rec)  # retried: not written twice
    await store.queue_event(event(1, "CONNECT", "12", "1758852000.99", "3", agent="agent7"))
    assert count(db, CallRow) == 1 and count(db, QueueLogRow) == 2
    with db.session() as session:
        row = session.scalars(select(CallRow)).one()
    assert row.uniqueid == rec.uniqueid and row.caller == "13900000000"
    assert row.path == ["main"] and row.digits == "1" and row.outcome == "queue"
    assert row.agent == "agent7" and row.queue_wait == 12.0
    assert row.started_at == rec.started_at and row.day == dt.date(2025, 9, 26)


async def test_a_pumped_batch_of_queue_events_is_one_write(
    store: CallRecordStore, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pump hands the store what it read at once: one group commit, every event kept,
    and an answered call's row still gets its agent and wait from its CONNECT."""
    writes: list[int] = []
    write = store._write

    async def counting(entries: list[dict[str, object]]) -> None:
        writes.append(len(entries))
        await write(entries)

    monkeypatch.setattr(store, "_write", counting)
    await store.save(record(1))
    await store.queue_events(
        [
            event(1, "ENTERQUEUE", "", "13900000000"),
            event(1, "CONNECT", "12", "1758852000.99", "3", agent="agent7"),
            event(2, "ENTERQUEUE", "", "13900000001"),
        ]
    )
    assert writes[-1] == 3
    assert count(db, QueueLogRow) == 3
    with db.session() as session:
        row = session.scalars(select(CallRow)).one()
    assert row.agent == "agent7" and row.queue_wait == 12.0


async def test_a_busy_store_gathers_what_comes_into_one_transaction(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle, the store writes at once; right after a transaction it lingers, so that what
    other calls hand over meanwhile joins the next one (issue 13: fewer thread hops and
    commits under load). Nothing is lost or written twice."""
    s = CallRecordStore(db, tmp_path / "journal" / "tickets.jsonl", linger=1.0)
    batches: list[int] = []
    write = s._write_batch

    def counting(entries: list[dict[str, object]]) -> None:
        batches.append(len(entries))
        write(entries)

    monkeypatch.setattr(s, "_write_batch", counting)
    first = asyncio.create_task(s.save(record(1)))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(s.save(record(2)))
    await asyncio.sleep(0.05)
    third = asyncio.create_task(s.save(record(3)))
    await asyncio.gather(first, second, third)
    assert batches == [1, 2]  # idle: alone, at once; busy: the next two together
    assert count(db, CallRow) == 3


async def test_missed_calls_get_callback_tasks(store: CallRecordStore, db: Database) -> None:
    await store.save(record(1, outcome="abandoned"))  # record first, then the event
    await store.queue_event(event(1, "ABANDON", "2", "3", "40"))
    await store.queue_event(event(2, "EXITWITHTIMEOUT", "1", "1", "300"))  # event first
    await store.save(record(2, outcome="queue"))
    await store.save(record(3, outcome="abandoned", caller="anonymous"))
    await store.save(record(4, outcome="queue"))  # answered
    await store.queue_event(event(4, "CONNECT", "5", "x", "2", agent="a1"))
    with db.session() as session:
        refs = sorted(session.scalars(select(CallbackTaskRow.ref)))
    assert refs == ["1758852000.1", "1758852000.2"]


async def test_outage_mid_stream_loses_and_duplicates_nothing(
    store: CallRecordStore, db: Database
) -> None:
    outage = Outage(db)
    for i in range(20):
        await store.save(record(i))
    outage.down()
    for i in range(20, 50):
        await store.save(record(i))
        await store.queue_event(event(i, "ENTERQUEUE", "", "139"))
    await store.save(record(5))  # a retry of a record already in the database
    assert store.degraded and len(store.journal) == 61
    outage.up()
    # Back up: still degraded, so new writes queue behind the journal, in order.
    await store.save(record(50))
    assert len(store.journal) == 62
    assert await store.replay() == 62
    assert not store.degraded and store.journal.empty()
    assert count(db, CallRow) == 51 and count(db, QueueLogRow) == 30
    await store.save(record(51))  # straight to the database again
    assert count(db, CallRow) == 52 and store.journal.empty()


async def test_replay_repeated_after_crash_is_harmless(
    store: CallRecordStore, db: Database, tmp_path: Path
) -> None:
    outage = Outage(db)
    outage.down()
    for i in range(10):
        await store.save(record(i))
    outage.up()
    copy = tmp_path / "copy.jsonl"
    shutil.copy(store.journal.path, copy)
    await store.replay()
    # a crash after the commit but before the journal was cleared: the same lines again,
    # plus a torn last line that was never acknowledged
    shutil.copy(copy, store.journal.path)
    with store.journal.path.open("ab") as f:
        f.write(b'{"kind":"call","data":{"uniq')
    restarted = CallRecordStore(db, store.journal.path)
    assert restarted.degraded
    await restarted.start()
    assert restarted.journal.empty() and not restarted.degraded
    await restarted.close()
    assert count(db, CallRow) == 10


async def test_background_replay_when_database_returns(
    store: CallRecordStore, db: Database
) -> None:
    outage = Outage(db)
    await store.start()
    try:
        outage.down()
        for i in range(5):
            await store.save(record(i))
        await asyncio.sleep(0.2)  # retries fail while it is away
        assert len(store.journal) == 5
        outage.up()
        deadline = time.monotonic() + 20
        while not store.journal.empty():
            assert time.monotonic() < deadline, "journal was not replayed"
            await asyncio.sleep(0.05)
        assert count(db, CallRow) == 5
    finally:
        await store.close()


async def test_refused_entries_are_kept_aside(store: CallRecordStore, db: Database) -> None:
    bad = record(1)
    bad.caller = "x" * 500  # longer than the column: PostgreSQL refuses, SQLite keeps
    await store.save(bad)
    await store.save(record(2))
    assert count(db, CallRow) + len(store.rejected) == 2
    assert store.journal.empty() and not store.degraded


async def test_status_lookup(store: CallRecordStore, service: TicketService) -> None:
    ticket = service.accept(caller="13900000001", type="consult", category="dogs", actor="op")
    assert await store.status(ticket.number, "13900000001") == "accepted"
    assert await store.status(ticket.number, "13900000002") is None  # not the caller's
    assert await store.status("123", "13900000001") is None
    service.act(ticket.number, "dispatch", actor="op")
    assert await store.status(ticket.number, "13900000001") == "dispatched"


async def test_survey_lands_on_call_and_ticket(
    store: CallRecordStore, service: TicketService
) -> None:
    await store.save(record(1))
    await store.survey("1758852000.1", 4)
    ticket = service.accept(
        caller="13900000000",
        type="consult",
        category="dogs",
        actor="op",
        call_uniqueid="1758852000.1",
    )
    assert service.get(ticket.number).survey_score == 4
    await store.survey("1758852000.1", 5)
    assert service.get(ticket.number).survey_score == 5


async def test_a_survey_in_a_late_record_reaches_the_accepted_ticket(
    store: CallRecordStore, service: TicketService
) -> None:
    """The process script's record (its journal, imported later) carries the survey as an
    event; the ticket the operator accepted meanwhile gets the score when it arrives."""
    ticket = service.accept(
        caller="13900000000", type="consult", category="dogs", actor="op",
        call_uniqueid="1758852000.7",
    )  # fmt: skip
    late = record(7)
    late.add("survey", None, "4")
    await store.save(late)
    assert service.get(ticket.number).survey_score == 4


def test_to_dict_carries_every_field_of_the_record() -> None:
    """The record's fast serialisation must not drop or change a field of the call record
    (compared with dataclasses.asdict, times as ISO text)."""
    record = CallRecord("u.1", "13800000000", "张", "12345", "PJSIP/x", "v1")
    record.recording = "/rec/calls/20261123/u.1.wav"
    record.messages.append("/rec/messages/u.1.wav")
    record.add("enter", "main")
    record.finish("answered", "1001")
    record.agent, record.queue_wait, record.queue_exit = "1001", 3.0, "connect"
    fast, full = record.to_dict(), dataclasses.asdict(record)
    full.pop("_t0")
    missing = set(full) - set(fast)
    assert not missing, f"to_dict drops {missing}"
    for key, value in full.items():
        if key in ("started_at", "ended_at"):
            assert fast[key] == value.isoformat(), key
        elif key == "events":
            assert fast[key] == [{**e, "at": e["at"].isoformat()} for e in value]
        else:
            assert fast[key] == value, key
    assert fast["path"] == ["main"] and fast["digits"] == ""


async def test_process_script_records_are_imported_once(
    store: CallRecordStore, db: Database, tmp_path: Path
) -> None:
    """The process AGI script (one process per call) appends its records to a journal; the
    server imports them, whatever lands while it does, and a redone import adds nothing."""
    from ivr.engine.callstore import JournalStore, take_journal

    path = tmp_path / "calls.jsonl"
    journal = JournalStore(path)
    await journal.save(record(1))
    await journal.save(record(2, outcome="abandoned"))
    with path.open("a") as f:
        f.write("{not json\n")  # a torn line is skipped, with its file:line in the log
    assert await store.import_journal(path) == 2
    assert not path.exists() and take_journal(path) == []
    await journal.save(record(3))  # a process still running appends to a fresh journal
    await journal.save(record(1))  # and an import redone after a crash is harmless
    assert await store.import_journal(path) == 2
    assert count(db, CallRow) == 3
    assert count(db, CallbackTaskRow) == 1  # the abandoned caller's 漏接回拨 task
