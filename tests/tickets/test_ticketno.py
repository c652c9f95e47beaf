"""Ticket numbers from Redis (HOTLINE_TICKET): no database round trip on the call's path,
never handed out twice (walk-in tickets, Redis forgetting), every reservation in the
database once it is back. Real Redis, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from ivr.db.database import Database
from ivr.db.tables import TicketReservationRow
from ivr.records.store import CallRecordStore
from ivr.records.ticketno import RedisTicketNumbers
from ivr.tickets.service import TicketService
from queueing import keys
from tests.redis_clients import redis_client
from tests.tickets.conftest import Clock


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = redis_client(redis_url)
    await c.flushdb()
    yield c
    await c.aclose()


@pytest.fixture
async def store(db: Database, tmp_path: Path) -> AsyncIterator[CallRecordStore]:
    s = CallRecordStore(db, tmp_path / "journal" / "tickets.jsonl", retry_seconds=0.1)
    await s.start()
    yield s
    await s.close()


def numbers_for(client: aioredis.Redis, store: CallRecordStore, clock: Clock,
                **kw: float) -> RedisTicketNumbers:  # fmt: skip
    return RedisTicketNumbers(client, store, clock=lambda: clock.now.timestamp(), **kw)  # type: ignore[arg-type]


def reserved(db: Database) -> dict[str, str]:
    with db.session() as session:
        rows = session.execute(
            select(TicketReservationRow.call_uniqueid, TicketReservationRow.number)
        )
        return {uid: number for uid, number in rows}


async def until(what: str, check: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


@contextmanager
def locked(db: Database) -> Iterator[None]:
    """The database locked by another connection: SQLite, an exclusive transaction;
    PostgreSQL, LOCK TABLE in another session."""
    url = make_url(db.url)
    if db.dialect == "sqlite":
        conn = sqlite3.connect(url.database or "", isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text("LOCK TABLE ticket_counters, ticket_reservations, tickets, "
                          "call_records, call_attempts IN ACCESS EXCLUSIVE MODE"))  # fmt: skip
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()


async def test_numbers_are_kept_distinct_and_taken_by_the_ticket(
    client: aioredis.Redis, store: CallRecordStore, db: Database, service: TicketService,
    clock: Clock,
) -> None:  # fmt: skip
    source = numbers_for(client, store, clock, block=8)
    first = await source.reserve_ticket("call-1")
    assert first == "20250926000001"
    assert await source.reserve_ticket("call-1") == first  # offered again: the same
    other = RedisTicketNumbers(client, store, clock=lambda: clock.now.timestamp())  # type: ignore[arg-type]
    assert await other.reserve_ticket("call-1") == first  # another server: the same
    got = [await source.reserve_ticket(f"call-{i}") for i in range(2, 30)]  # several blocks
    assert None not in got and len(set(got)) == len(got) and first not in got
    await until("reservations in the database", lambda: len(reserved(db)) == 29)
    ticket = service.accept(caller="13800000001", type="consult", category="dogs",
                            actor="op", call_uniqueid="call-1")  # fmt: skip
    assert ticket.number == first
    walk_in = service.accept(caller="13800000002", type="consult", category="dogs", actor="op")
    assert walk_in.number not in got and walk_in.number != first
    late = await source.reserve_ticket("call-99")  # after the walk-in: still distinct
    assert late is not None and late not in {walk_in.number, first, *got}
    await source.close()


class Elsewhere(CallRecordStore):
    """A server whose reservations are still only in its journal."""

    def note_reservation(self, *args: object, **kw: object) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_redis_forgetting_never_hands_a_number_out_twice(
    client: aioredis.Redis, store: CallRecordStore, db: Database, clock: Clock, tmp_path: Path
) -> None:
    elsewhere = Elsewhere(db, tmp_path / "elsewhere.jsonl")
    before = [await numbers_for(client, elsewhere, clock).reserve_ticket(f"a{i}")
              for i in range(5)]  # fmt: skip
    assert reserved(db) == {}  # not in the database yet
    await client.flushall()  # Redis forgets the counter and the calls' numbers
    source = numbers_for(client, store, clock)
    after = [await source.reserve_ticket(f"b{i}") for i in range(5)]
    assert None not in before + after and not set(before) & set(after)
    assert len(set(after)) == 5


async def test_database_locked_no_reservation_waits_on_it(
    client: aioredis.Redis, store: CallRecordStore, db: Database, clock: Clock
) -> None:
    source = numbers_for(client, store, clock, db_timeout=0.5)
    assert await source.reserve_ticket("seed") is not None  # the day's block is claimed
    await until("the first reservation stored", lambda: len(reserved(db)) == 1)
    with locked(db):
        got = await asyncio.gather(*(source.reserve_ticket(f"c{i}") for i in range(20)))
        # all answered while the database is still locked: nobody waited for it
        assert None not in got and len(set(got)) == 20
    await until("every reservation reaches the database", lambda: len(reserved(db)) == 21)
    assert set(reserved(db).values()) >= set(got)  # type: ignore[arg-type]


async def test_database_away_at_the_seed(
    client: aioredis.Redis, store: CallRecordStore, db: Database, clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    source = numbers_for(client, store, clock, db_timeout=0.3)
    with caplog.at_level(logging.ERROR), locked(db):
        assert await source.reserve_ticket("x1") is None  # the call goes on without one
        assert await source.reserve_ticket("x2") is None
    assert sum("HL-TKT-021" in r.getMessage() for r in caplog.records) == 1
    await until_claim_allowed(source, "x3")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(TicketReservationRow)) in (0, 1)


async def until_claim_allowed(source: RedisTicketNumbers, uid: str) -> None:
    """Back: a reservation gets a number again (after the short back-off)."""
    deadline = time.monotonic() + 30
    while await source.reserve_ticket(uid) is None:
        assert time.monotonic() < deadline, "no number once the database is back"
        await asyncio.sleep(0.1)


async def test_a_block_is_claimed_ahead_so_the_first_call_of_an_outage_has_a_number(
    client: aioredis.Redis, store: CallRecordStore, db: Database, clock: Clock
) -> None:
    source = numbers_for(client, store, clock, db_timeout=0.3)
    source.start(every=0.1)
    try:
        today = dt.datetime.fromtimestamp(clock.now.timestamp(), ZoneInfo("Asia/Shanghai"))
        key = keys.ticket_counter(f"{today:%Y%m%d}")

        async def claimed() -> bool:
            return await client.hget(key, "limit") is not None

        deadline = time.monotonic() + 30
        while not await claimed():
            assert time.monotonic() < deadline, "no block claimed ahead"
            await asyncio.sleep(0.05)
        with locked(db):  # no call has asked for a number yet, and the database is away
            assert await source.reserve_ticket("first") is not None
    finally:
        await source.close()
