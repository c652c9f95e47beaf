"""The attempt a killed server never recorded: a call that comes back on another server after
its server died (SIGKILL, a crash) gets that attempt back into its record from the snapshot
the dead server left in the live-call registry, so the record holds the whole path. The
snapshot is synthetic: the real record of that attempt, should it arrive late, replaces it,
and an existing real record stays."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ivr.db.database import Database
from ivr.db.tables import CallAttemptRow, CallRow
from ivr.engine.record import CallRecord
from ivr.hotline import HotlineService, LiveCalls
from ivr.records.attempts import snapshot_entry
from ivr.records.store import CallRecordStore
from queueing.queue import LiveCall

T0 = dt.datetime(2025, 9, 26, 2, 0, tzinfo=dt.UTC)
UID = "1758852000.9"


def record(n: int, outcome: str, *nodes: str, digits: str = "") -> CallRecord:
    rec = CallRecord(UID, "13900000009", "", "12345", "PJSIP/trunk-9", "v1",
                     started_at=T0 + dt.timedelta(minutes=n))  # fmt: skip
    rec.attempt, rec.server = n, f"srv{n}"
    for node in nodes:
        rec.add("enter", node)
    for d in digits:
        rec.add("digit", nodes[-1] if nodes else None, d)
    if outcome == "queue":
        rec.skill, rec.priority, rec.queue_position = "general", 0, 2
    if outcome == "answered":
        rec.hangup_by = "agent"
    rec.finish(outcome, "1001" if outcome == "answered" else "general")
    return rec


def waiting_snapshot() -> str:
    """What the killed server last noted: the menu walked, the caller in the queue."""
    return json.dumps(record(1, "queue", "main", "operator", digits="0").to_dict())


@pytest.fixture
def store(db: Database, tmp_path: Path) -> Iterator[CallRecordStore]:
    yield CallRecordStore(db, tmp_path / "journal" / "tickets.jsonl", retry_seconds=0.05)


def call(db: Database) -> CallRow:
    with db.session() as session:
        return session.scalars(select(CallRow).where(CallRow.uniqueid == UID)).one()


def attempts(db: Database) -> list[tuple[int, bool, str]]:
    with db.session() as session:
        rows = session.scalars(
            select(CallAttemptRow).where(CallAttemptRow.uniqueid == UID)
            .order_by(CallAttemptRow.attempt)
        )  # fmt: skip
        return [(r.attempt, r.synthetic, r.data["outcome"]) for r in rows]


async def test_the_killed_attempt_is_merged_in_whatever_order(
    store: CallRecordStore, db: Database
) -> None:
    await store.earlier_attempt(UID, 1, waiting_snapshot())
    await store.save(record(2, "answered", "operator"))
    row = call(db)
    assert row.outcome == "answered" and row.attempts == 2
    assert row.path == ["main", "operator", "operator"] and row.digits == "0"
    assert row.started_at is not None and row.started_at < T0 + dt.timedelta(minutes=2)
    assert attempts(db) == [(1, True, "queue"), (2, False, "answered")]
    # the killed server's own record after all (its journal, replayed): real beats synthetic
    await store.save(record(1, "error", "main", "operator", digits="0"))
    assert attempts(db) == [(1, False, "error"), (2, False, "answered")]
    # and a snapshot handed over again never overwrites it
    await store.earlier_attempt(UID, 1, waiting_snapshot())
    assert attempts(db) == [(1, False, "error"), (2, False, "answered")]
    assert call(db).outcome == "answered" and call(db).path[0] == "main"


async def test_the_snapshot_arriving_after_the_later_attempt(
    store: CallRecordStore, db: Database
) -> None:
    await store.save(record(2, "answered", "operator"))
    await store.earlier_attempt(UID, 1, waiting_snapshot())
    row = call(db)
    assert row.outcome == "answered" and row.attempts == 2
    assert row.path == ["main", "operator", "operator"]


async def test_nothing_usable_writes_nothing(store: CallRecordStore, db: Database) -> None:
    for text in ("", "not json", "[1, 2]", json.dumps({"uniqueid": UID})):
        assert snapshot_entry(UID, 1, text) is None
        await store.earlier_attempt(UID, 1, text)
    assert attempts(db) == []


class FakeQueue:
    """``RedisQueue.call_started`` as the test says; this server is ``srv2``."""

    server = "srv2"

    def __init__(self, before: LiveCall) -> None:
        self.before = before

    async def call_started(self, uniqueid: str, attempt: int, snapshot: str) -> LiveCall:
        return self.before


class Earlier:
    def __init__(self) -> None:
        self.got: list[tuple[str, int, str]] = []

    async def earlier_attempt(self, uniqueid: str, attempt: int, snapshot: str) -> None:
        self.got.append((uniqueid, attempt, snapshot))


def live_calls(before: LiveCall, earlier: Any) -> LiveCalls:
    return LiveCalls(FakeQueue(before), earlier=earlier)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("before", "handed"),
    [
        (LiveCall("srv1", 1, False, "", "{}"), True),  # another server's attempt, a snapshot
        (LiveCall("srv2", 1, False, "", "{}"), False),  # this server wrote its own record
        (LiveCall("srv1", 1, False, ""), False),  # no snapshot (an older server)
        (LiveCall("", 0, False, ""), False),  # a new call
    ],
)
async def test_live_calls_hand_over_only_a_dead_servers_attempt(
    before: LiveCall, handed: bool
) -> None:
    earlier = Earlier()
    tracker = live_calls(before, earlier)
    info = await tracker.started(record(2, "in_progress"))
    await tracker.drain()
    assert info is not None and info.snapshot == before.snapshot
    assert earlier.got == ([(UID, 1, "{}")] if handed else [])


async def test_a_re_entered_call_gets_its_killed_attempt_through_the_service(
    store: CallRecordStore, db: Database
) -> None:
    """LiveCalls wired to the store by the service (as ``hotline serve`` builds them)."""
    tracker = LiveCalls(FakeQueue(LiveCall("srv1", 1, False, "", waiting_snapshot())))  # type: ignore[arg-type]
    HotlineService(None, None, store, tracker=tracker)  # type: ignore[arg-type]
    assert tracker.earlier is store
    again = record(2, "in_progress")
    await tracker.started(again)
    again.add("resume", None, "general p0")
    again.add("enter", "operator")
    again.finish("answered", "1001")
    await store.save(again)
    await tracker.drain()
    row = call(db)
    assert row.outcome == "answered" and row.attempts == 2
    assert row.path == ["main", "operator", "operator"]


async def test_no_call_record_while_the_call_is_still_being_served(
    store: CallRecordStore, db: Database
) -> None:
    """The snapshot of the broken attempt alone is not the call's record: the call is still
    in progress on the server that took it over; its row comes when that session ends."""
    await store.earlier_attempt(UID, 1, waiting_snapshot())
    assert attempts(db) == [(1, True, "queue")]
    with db.session() as session:
        assert session.scalars(select(CallRow).where(CallRow.uniqueid == UID)).first() is None
    await store.save(record(2, "answered", "operator"))
    assert call(db).outcome == "answered"
