"""One record per call, with its final outcome: every attempt (AGI session) of a call is kept
and the call's record is their merge, whatever order they arrive in; a call whose server died
is closed as ``server-lost`` from its snapshot. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from ivr.db.database import Database
from ivr.db.tables import CallAttemptRow, CallbackTaskRow, CallRow
from ivr.engine.record import CallRecord
from ivr.records.attempts import Attempt, merge
from ivr.records.store import CallRecordStore
from queueing.events import QueueEvent

T0 = dt.datetime(2025, 9, 26, 2, 0, tzinfo=dt.UTC)
UID = "1758852000.7"


def attempt(n: int, outcome: str, *nodes: str, digits: str = "", uid: str = UID) -> CallRecord:
    rec = CallRecord(uid, "13900000007", "", "12345", "PJSIP/trunk-7", "v1",
                     started_at=T0 + dt.timedelta(minutes=n))  # fmt: skip
    rec.attempt, rec.server = n, f"srv{n}"
    for node in nodes:
        rec.add("enter", node)
    for d in digits:
        rec.add("digit", nodes[-1] if nodes else None, d)
    if outcome == "answered":
        rec.skill, rec.priority, rec.queue_position = "general", 0, 3
        rec.recording = f"/calls/{uid}.wav"
        rec.hangup_by = "agent"
        rec.add("hangup", None, "normal clearing")
    rec.finish(outcome, "1001" if outcome == "answered" else "")
    return rec


@pytest.fixture
def store(db: Database, tmp_path: Path) -> Iterator[CallRecordStore]:
    yield CallRecordStore(db, tmp_path / "journal" / "tickets.jsonl", retry_seconds=0.05)


def call(db: Database, uid: str = UID) -> CallRow:
    with db.session() as session:
        return session.scalars(select(CallRow).where(CallRow.uniqueid == uid)).one()


def attempts(db: Database, uid: str = UID) -> list[tuple[int, bool, str]]:
    with db.session() as session:
        rows = session.scalars(
            select(CallAttemptRow).where(CallAttemptRow.uniqueid == uid)
            .order_by(CallAttemptRow.attempt)
        )  # fmt: skip
        return [(r.attempt, r.synthetic, r.data["outcome"]) for r in rows]


def tasks(db: Database) -> list[tuple[str, str]]:
    with db.session() as session:
        return [(t.ref, t.state) for t in session.scalars(select(CallbackTaskRow))]


def test_merge_rules() -> None:
    first = attempt(1, "error", "main", "housing", digits="21").to_dict()
    second = attempt(2, "answered", "housing").to_dict()
    merged = merge([Attempt(2, second), Attempt(1, first)])
    assert merged["path"] == ["main", "housing", "housing"] and merged["digits"] == "21"
    assert [e["attempt"] for e in merged["events"]] == sorted(
        e["attempt"] for e in merged["events"]
    )
    assert merged["outcome"] == "answered" and merged["agent"] == "1001"
    assert merged["started_at"] == first["started_at"]
    assert merged["ended_at"] == second["ended_at"]
    assert merged["hangup_by"] == "agent" and merged["hangup_cause"] == "normal clearing"
    assert merged["recording"] == f"/calls/{UID}.wav" and merged["attempts"] == 2
    # no answer anywhere: the last outcome that says how the call ended
    handed = attempt(1, "handed-back", "main").to_dict()
    abandoned = attempt(2, "abandoned", "main").to_dict()
    error = attempt(3, "error").to_dict()
    outcome = merge([Attempt(1, handed), Attempt(2, abandoned), Attempt(3, error)])["outcome"]
    assert outcome == "abandoned"
    assert merge([Attempt(1, handed), Attempt(2, error)])["outcome"] == "error"


async def test_attempts_merge_whatever_order_they_arrive_in(
    store: CallRecordStore, db: Database
) -> None:
    answered = attempt(2, "answered", "housing")
    await store.save(answered)  # the re-entry's record is written first
    assert call(db).outcome == "answered"
    await store.save(attempt(1, "error", "main", "housing", digits="21"))  # the late one
    row = call(db)
    assert row.outcome == "answered" and row.outcome_detail == "1001"
    assert row.path == ["main", "housing", "housing"] and row.digits == "21"
    assert row.attempts == 2 and row.hangup_by == "agent" and row.agent == "1001"
    assert row.started_at == T0 + dt.timedelta(minutes=1)
    assert row.ended_at == answered.ended_at and row.skill == "general"
    assert {e["attempt"] for e in row.events} == {1, 2}
    assert attempts(db) == [(1, False, "error"), (2, False, "answered")]
    await store.save(attempt(1, "error", "main"))  # written again: still one record
    assert call(db).outcome == "answered" and len(attempts(db)) == 2


async def test_missed_call_task_follows_the_merged_outcome(
    store: CallRecordStore, db: Database
) -> None:
    first = attempt(1, "error", "main")
    first.skill = "general"
    await store.save(first)
    ab = QueueEvent(T0 + dt.timedelta(minutes=1, seconds=30), UID, "general", "NONE",
                    "ABANDON", ("1", "1", "30"))  # fmt: skip
    await store.queue_event(ab)  # the first server's caller left the queue unanswered
    assert tasks(db) == [(UID, "open")]
    await store.save(attempt(2, "answered", "main"))  # came back, was answered
    assert tasks(db) == [] and call(db).outcome == "answered"
    await store.queue_event(ab)  # the event again (a replay): no task for an answered call
    assert tasks(db) == []


async def test_a_survey_given_apart_stays(store: CallRecordStore, db: Database) -> None:
    await store.save(attempt(1, "answered", "main"))
    await store.survey(UID, 4)
    await store.save(attempt(2, "answered"))  # the re-entry that only said goodbye
    assert call(db).survey_score == 4
    third = attempt(3, "answered")
    third.add("survey", "survey", "2")
    await store.save(third)  # a survey in a record counts
    assert call(db).survey_score == 2


@dataclass(frozen=True)
class Lost:
    uniqueid: str
    server: str
    attempt: int
    done: bool
    snapshot: str


def snapshot(rec: CallRecord) -> str:
    return json.dumps(rec.to_dict(), ensure_ascii=False)


async def test_a_lost_call_is_closed_and_a_real_record_replaces_it(
    store: CallRecordStore, db: Database
) -> None:
    running = CallRecord(UID, "13900000007", "", "12345", "PJSIP/trunk-7", "v1",
                         started_at=T0)  # fmt: skip
    running.attempt, running.server = 1, "srv1"
    running.add("enter", "main")
    running.add("digit", "main", "2")
    running.add("enter", "housing")
    running.skill, running.outcome = "general", "queue"
    lost = Lost(UID, "srv1", 1, False, snapshot(running))
    await store.lost(lost)
    row = call(db)
    assert row.outcome == "server-lost" and row.path == ["main", "housing"]
    assert row.digits == "2" and row.attempts == 2 and row.hangup_node == "housing"
    assert row.ended_at is not None and row.ended_at > T0 + dt.timedelta(days=1)
    assert attempts(db) == [(1, True, "queue"), (2, True, "server-lost")]
    assert tasks(db) == [(UID, "open")]  # a caller lost while waiting: call back
    # the caller came back after all (attempt 2, real): it replaces the synthetic one
    await store.save(attempt(2, "answered", "housing"))
    assert attempts(db) == [(1, True, "queue"), (2, False, "answered")]
    assert call(db).outcome == "answered" and tasks(db) == []
    # and the first server's own record, late: real beats synthetic
    await store.save(attempt(1, "handed-back", "main", "housing"))
    assert attempts(db) == [(1, False, "handed-back"), (2, False, "answered")]
    await store.lost(lost)  # a repeated hand-over never overwrites real records
    assert attempts(db) == [(1, False, "handed-back"), (2, False, "answered")]
    assert call(db).outcome == "answered"


async def test_a_lost_call_already_answered_stays_answered(
    store: CallRecordStore, db: Database
) -> None:
    talking = attempt(1, "queue", "main")
    talking.recording = f"/calls/{UID}.wav"
    await store.lost(Lost(UID, "srv1", 1, True, snapshot(talking)))
    row = call(db)
    assert row.outcome == "answered" and row.recording == f"/calls/{UID}.wav"
    assert tasks(db) == []
    await store.lost(Lost("no-snapshot", "srv2", 3, False, ""))  # nothing known but its id
    assert call(db, "no-snapshot").outcome == "server-lost"
    assert attempts(db, "no-snapshot") == [(4, True, "server-lost")]


async def test_a_batch_is_one_transaction_with_bounded_statements(
    store: CallRecordStore, db: Database
) -> None:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    def batch(k: int, size: int) -> list[CallRecord]:
        out = []
        for i in range(size):
            uid = f"b{k}.{i}"
            out.append(attempt(1, "error", "main", uid=uid))
            out.append(attempt(2, "answered" if i % 2 else "abandoned", "housing", uid=uid))
        return out

    await store.save_many(batch(0, 5))  # statements are cached after the first batch
    statements = []
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for k, size in ((1, 10), (2, 300)):
            seen.clear()
            await store.save_many(batch(k, size))
            statements.append(len(seen))
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert statements[0] == statements[1], statements
    row = call(db, "b2.299")
    assert row.attempts == 2 and row.outcome == "answered"
    assert call(db, "b2.298").outcome == "abandoned"


async def test_records_of_the_process_script_merge_too(
    store: CallRecordStore, db: Database, tmp_path: Path
) -> None:
    from ivr.engine.callstore import JournalStore

    path = tmp_path / "calls.jsonl"
    journal = JournalStore(path)
    await journal.save(attempt(2, "answered", "housing"))
    await journal.save(attempt(1, "error", "main"))
    assert await store.import_journal(path) == 2
    row = call(db)
    assert row.outcome == "answered" and row.path == ["main", "housing"] and row.attempts == 2
