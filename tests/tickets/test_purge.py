"""The retention purge of config/privacy.yaml, on SQLite and PostgreSQL: what has expired is
gone (recording files and their paths, call rows with their attempts, queue_log rows, tasks
and quality checks, closed tickets with their history), what is fresh is kept, an open ticket
is kept however old, the run is audited with its counts, a dry run deletes nothing; in batches."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ivr.config.privacy_models import Retention
from ivr.db.database import Database
from ivr.db.quality_tables import QualityCheckRow, QualityScoreRow
from ivr.db.tables import (
    AuditRow,
    CallAttemptRow,
    CallbackTaskRow,
    CallRow,
    QueueLogRow,
    TicketCallRow,
    TicketEventRow,
    TicketRow,
)
from ivr.privacy.daily import DailyPurge, next_run
from ivr.privacy.purge import SYSTEM_ACTOR, Purger
from ivr.tickets.service import TicketService
from queueing import keys
from tests.redis_clients import redis_client
from tests.tickets.conftest import Clock

NOW = dt.datetime(2028, 1, 10, 4, 0, tzinfo=dt.UTC)  # 12:00 in Beijing
ZONE = "Asia/Shanghai"
RETENTION = Retention(recordings_days=30, call_records_days=365, tickets_days=365, batch_size=2)


def add_call(db: Database, root: Path, uid: str, day: dt.date, *, message: bool = False) -> Path:
    """A call of ``day`` with its recording file (and a voice message), an attempt, a
    queue_log row and a missed-call task."""
    rec = f"calls/{day:%Y%m%d}/{uid}.wav"
    msg = f"messages/{day:%Y%m%d}/{uid}"
    for name in [rec, *([msg + ".wav"] if message else [])]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"RIFF")
    at = dt.datetime.combine(day, dt.time(2, 0), dt.UTC)
    with db.session() as s:
        s.add(
            CallRow(
                uniqueid=uid, caller="13900000001", dialled="12345", started_at=at, day=day,
                outcome="answered", agent="1001", recording=rec,
                messages=[msg] if message else [],
            )
        )  # fmt: skip
        s.add(CallAttemptRow(uniqueid=uid, attempt=1, data={}, written_at=at))
        s.add(
            QueueLogRow(
                key=f"{uid}-connect", at=at, day=day, callid=uid, queue="general",
                agent="1001", event="CONNECT",
            )
        )  # fmt: skip
        s.add(
            CallbackTaskRow(
                kind="message" if message else "missed", ref=uid, call_uniqueid=uid,
                caller="13900000001", created_at=at, recording=msg if message else None,
            )
        )  # fmt: skip
        check = QualityCheckRow(
            call_uniqueid=uid, agent="1001", call_day=day, reviewer="boss", scored_at=at,
            total=8, max_total=10, passed=True, comment="",
        )  # fmt: skip
        s.add(check)
        s.flush()
        s.add(
            QualityScoreRow(
                check_id=check.id, item="manner", position=0, name="态度", points=8,
                max_points=10,
            )
        )  # fmt: skip
    return root / rec


def count(db: Database, table: type) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def audits(db: Database) -> list[AuditRow]:
    with db.session() as s:
        return list(s.scalars(select(AuditRow).where(AuditRow.action == "retention.purge")))


@pytest.fixture
def world(db: Database, service: TicketService, clock: Clock, tmp_path: Path) -> dict[str, str]:
    """Calls and tickets of every age around the cut-offs of :data:`RETENTION`."""
    root = tmp_path / "recordings"
    today = NOW.date()
    for uid, age in [("old1", 800), ("old2", 700), ("old3", 400), ("mid", 100), ("new", 5)]:
        add_call(db, root, uid, today - dt.timedelta(days=age), message=uid == "mid")
    names = {}
    clock.now = NOW - dt.timedelta(days=700)
    for name in ("closed_old", "merged_old", "open_old"):
        names[name] = service.accept(
            caller="139", type="consult", category="housing.property", actor="op1",
            call_uniqueid="old1" if name == "closed_old" else None,
        ).number  # fmt: skip
    service.act(names["closed_old"], "answer", actor="op1", reply="已答复")
    service.act(names["merged_old"], "merge", actor="op1", into=names["open_old"])
    clock.now = NOW - dt.timedelta(days=10)
    names["closed_new"] = service.accept(
        caller="139", type="consult", category="housing.property", actor="op1"
    ).number
    service.act(names["closed_new"], "answer", actor="op1", reply="已答复")
    return names


def test_expired_things_go_fresh_and_open_ones_stay(
    db: Database, world: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "recordings"
    report = Purger(db, root, now=lambda: NOW).run(RETENTION, ZONE, "cli:tester")
    figures = report.figures()
    # recordings: the conversations of mid and every old call (old ones' files go with
    # their rows: counted in the recordings step first), and mid's voice message
    assert figures["recordings"] == 5 and figures["recordings_failed"] == 0
    assert figures["call_records"] == 3 and figures["call_attempts"] == 3
    assert figures["queue_log"] == 3 and figures["tickets"] == 2
    assert figures["quality_checks"] == 3
    assert report.batches >= 4  # batch_size 2: paged, not one transaction
    with db.session() as s:
        calls = {c.uniqueid: c for c in s.scalars(select(CallRow))}
        tickets = {t.number for t in s.scalars(select(TicketRow))}
        attempts = set(s.scalars(select(CallAttemptRow.uniqueid)))
        queue_log = set(s.scalars(select(QueueLogRow.callid)))
        tasks = {t.call_uniqueid: t for t in s.scalars(select(CallbackTaskRow)) if t.call_uniqueid}
        visits = set(
            s.scalars(select(CallbackTaskRow.ticket_id).where(CallbackTaskRow.kind == "visit"))
        )
        events = set(s.scalars(select(TicketEventRow.ticket_id)))
        links = set(s.scalars(select(TicketCallRow.call_uniqueid)))
        checks = set(s.scalars(select(QualityCheckRow.call_uniqueid)))
        scored = len(s.scalars(select(QualityScoreRow.check_id)).all())
    assert set(calls) == {"mid", "new"} == attempts == queue_log == set(tasks) == checks
    assert scored == 2  # the scores of the purged checks went with them
    assert calls["mid"].recording is None and calls["mid"].messages == []
    assert tasks["mid"].recording is None  # the voice message's task keeps its row
    assert calls["new"].recording is not None and (root / calls["new"].recording).is_file()
    assert sorted(p.name for p in root.rglob("*.wav")) == ["new.wav"]
    assert tickets == {world["open_old"], world["closed_new"]}
    assert links == set()  # closed_old's link to its call went with it
    assert len(events) == 2
    assert len(visits) == 1  # closed_old's 回访 task went with it, closed_new's stays
    [row] = audits(db)
    assert (row.actor, row.role, row.target) == ("cli:tester", "cli", "retention")
    after = json.loads(row.after_json or "{}")
    assert after["tickets"] == 2 and after["call_records"] == 3
    assert json.loads(row.before_json or "{}")["calls_before_day"] == "2027-01-10"
    # a second run finds nothing more, and says so in its own audit row
    again = Purger(db, root, now=lambda: NOW).run(RETENTION, ZONE, SYSTEM_ACTOR)
    assert sum(again.figures().values()) == 0
    assert [(a.actor, a.role) for a in audits(db)][-1] == ("system:purge", "system")


def test_a_dry_run_counts_and_deletes_nothing(
    db: Database, world: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "recordings"
    files = sorted(root.rglob("*.wav"))
    tables = (CallRow, TicketRow, CallAttemptRow, QueueLogRow, QualityCheckRow, QualityScoreRow)
    before = [count(db, t) for t in tables]
    report = Purger(db, root, now=lambda: NOW).run(RETENTION, ZONE, "cli:x", dry_run=True)
    figures = report.figures()
    assert figures["recordings"] == 5 and figures["call_records"] == 3
    assert figures["tickets"] == 2 and figures["quality_checks"] == 3
    assert sorted(root.rglob("*.wav")) == files
    assert [count(db, t) for t in tables] == before
    assert audits(db) == []
    assert "would delete" in report.describe()


def test_null_keeps_for_ever(db: Database, world: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "recordings"
    keep = Retention(recordings_days=None, call_records_days=None, tickets_days=None)
    report = Purger(db, root, now=lambda: NOW).run(keep, ZONE, "cli:x")
    assert sum(report.figures().values()) == 0 and report.batches == 0
    assert count(db, CallRow) == 5 and count(db, TicketRow) == 4
    assert len(audits(db)) == 1  # the run itself is still audited


def test_a_file_that_cannot_go_keeps_its_row(db: Database, tmp_path: Path) -> None:
    root = tmp_path / "recordings"
    outside = tmp_path / "secret.wav"
    outside.write_bytes(b"keep me")
    add_call(db, root, "evil", NOW.date() - dt.timedelta(days=800))
    with db.session() as s:
        s.scalars(select(CallRow)).one().recording = "../secret.wav"
    report = Purger(db, root, now=lambda: NOW).run(RETENTION, ZONE, "cli:x")
    assert report.figures()["recordings_failed"] == 2  # both steps refused it
    assert outside.read_bytes() == b"keep me"
    assert count(db, CallRow) == 1  # kept, to be tried again


def test_next_run_is_the_next_local_time() -> None:
    at = next_run(NOW, "03:30", ZONE)  # 12:00 Beijing: tomorrow 03:30 Beijing
    assert at == dt.datetime(2028, 1, 10, 19, 30, tzinfo=dt.UTC)
    assert next_run(at - dt.timedelta(seconds=1), "03:30", ZONE) == at


async def test_one_server_a_day_runs_the_daily_purge(
    db: Database, world: dict[str, str], tmp_path: Path, redis_url: str
) -> None:
    redis = redis_client(redis_url)
    centre = f"purge{id(db)}"
    try:
        purger = Purger(db, tmp_path / "recordings", now=lambda: NOW)
        servers = [DailyPurge(purger, lambda: (RETENTION, ZONE), redis, centre) for _ in "ab"]
        day = dt.date(2028, 1, 11)
        first, second = [await s.run_once(day) for s in servers]
        assert first is not None and first.figures()["tickets"] == 2
        assert second is None  # the other server took the day
        assert await redis.ttl(keys.purge_day(day.isoformat(), centre)) > 86400
        assert [(a.actor, a.role) for a in audits(db)] == [("system:purge", "system")]
    finally:
        await redis.delete(keys.purge_day("2028-01-11", centre))
        await redis.aclose()


async def test_the_daily_loop_sleeps_to_daily_at_then_purges(
    db: Database, world: dict[str, str], tmp_path: Path
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) > 1:
            raise asyncio.CancelledError  # the server stops while waiting for the next day

    purger = Purger(db, tmp_path / "recordings", now=lambda: NOW)
    daily = DailyPurge(purger, lambda: (RETENTION, ZONE), None, "x", now=lambda: NOW, sleep=sleep)
    daily.start()
    assert daily._task is not None
    await asyncio.gather(daily._task, return_exceptions=True)
    assert slept[0] == (next_run(NOW, "03:30", ZONE) - NOW).total_seconds() == 15.5 * 3600
    assert [(a.actor, json.loads(a.after_json or "{}")["tickets"]) for a in audits(db)] == [
        ("system:purge", 2)
    ]
    await daily.stop()
