"""Operators' inbox benchmark: the page of accepted tickets with their duplicates, among
100,000 tickets.

On SQLite and PostgreSQL (``HOTLINE_BENCH_PG_URL``, or a throwaway durable cluster), each a
fresh database filled by the tickets benchmark's set-based generator
(``bench/tickets_bench.py``: one month, 200,000 callers), then given addresses (10 streets in
4 districts, 200 numbers: an address has about one ticket a day; full-width digits for every
third ticket) and a caller asking twice in a day for every 97th ticket, and analysed. The
measured request is what the page sends: ``GET /api/inbox?limit=50`` by a supervisor's
session, through the app (the guard, the accepted tickets in deadline order, their
duplicates by number and by address and category within the catalogue's 7 days, JSON), 100
times in turn.

    .venv/bin/python bench/inbox_bench.py                  # 100,000 tickets, both backends
    .venv/bin/python bench/inbox_bench.py --quick --backend sqlite   # 5,000 tickets
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp import ClientSession, CookieJar  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from bench.fastagi_bench import pct  # noqa: E402
from bench.tickets_bench import generate, pg_database, sqlite_database  # noqa: E402
from ivr.accounts import Accounts  # noqa: E402
from ivr.config.catalogue import Catalogue, load_catalogue  # noqa: E402
from ivr.config.queue_models import AgentsFile, QueueSettings  # noqa: E402
from ivr.db.database import Database  # noqa: E402
from ivr.db.tables import TicketRow  # noqa: E402
from ivr.tickets.deadlines import Deadlines, calendar_from_config  # noqa: E402
from ivr.tickets.lifecycle import State  # noqa: E402
from ivr.tickets.service import TicketService  # noqa: E402
from ivr.web import create_app  # noqa: E402
from ivr.web.inbox_routes import inbox_part  # noqa: E402
from ivr.web.ticket_routes import tickets_part  # noqa: E402
from queueing.queue import RedisQueue  # noqa: E402

CONFIG_DIR = ROOT / "config"
TARGET_P99_MS = 300.0
PASSWORD = "bench password 1"


STREETS = ["海拉尔东路", "新华大街", "中山西路", "大学西街", "锡林南路", "成吉思汗大街", "兴安北路",
           "鄂尔多斯大街", "昭乌达路", "呼伦贝尔南路"]  # fmt: skip


def addresses(db: Database) -> None:
    """An address per ticket: one of 10 streets in one of 4 districts, a number of 200 (so
    an address has some 25 tickets a month, about one a day, in any category), full-width
    digits for every third ticket, and its ``address_norm`` as the row's validator writes it;
    and every 97th ticket from the number of the ticket 29
    after it (the same day: a caller asking twice)."""
    streets = " ".join(f"WHEN {i} THEN '{name}'" for i, name in enumerate(STREETS))
    districts = (
        "CASE id % 4 WHEN 0 THEN '新城区 ' WHEN 1 THEN '回民区' WHEN 2 THEN '赛罕区 ' "
        "ELSE '玉泉区' END"
    )
    number = "CAST(id % 200 AS TEXT)"
    full = "replace(replace(replace(" + number + ", '1', '１'), '2', '２'), '0', '０')"
    with db.session() as s:
        s.execute(
            text(
                f"UPDATE tickets SET address = {districts} || "
                f"CASE id % {len(STREETS)} {streets} END || "
                f"CASE WHEN id % 3 = 0 THEN {full} ELSE {number} END || '号'"
            )
        )
        # the normalised address the ticket row's validator writes (ivr/db/addresses.py),
        # said in SQL for what these addresses hold: spaces and full-width digits
        norm = "address"
        for wide, narrow in [(" ", ""), *((chr(0xFF10 + i), str(i)) for i in range(10))]:
            norm = f"replace({norm}, '{wide}', '{narrow}')"
        s.execute(text(f"UPDATE tickets SET address_norm = {norm}"))
        s.execute(
            text(
                "UPDATE tickets SET caller = (SELECT t2.caller FROM tickets t2 "
                "WHERE t2.id = tickets.id + 29) WHERE id % 97 = 0 AND id + 29 <= "
                "(SELECT max(id) FROM tickets)"
            )
        )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


async def inbox_ms(db: Database, catalogue: Catalogue, n: int) -> tuple[list[float], int, int]:
    accounts = Accounts(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    accounts.add_user("bench-super", PASSWORD, "supervisor", actor="bench")
    service = TicketService(db, catalogue, Deadlines(calendar_from_config(CONFIG_DIR)))
    queue = RedisQueue.from_url("redis://127.0.0.1:9/0", QueueSettings())  # never reached
    app = create_app(
        queue, AgentsFile(), accounts, db, parts=[tickets_part(lambda: service), inbox_part()]
    )
    server = TestServer(app)
    await server.start_server()
    out, dups, total = [], 0, 0
    try:
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            base = str(server.make_url("")).rstrip("/")
            login = {"username": "bench-super", "password": PASSWORD}
            assert (await http.post(base + "/api/login", json=login)).status == 200
            for i in range(n + 5):
                t0 = time.perf_counter()
                async with http.get(base + "/api/inbox?limit=50") as r:
                    body = await r.json()
                    assert r.status == 200 and len(body["tickets"]) == min(50, body["total"])
                if i >= 5:  # warm-up done
                    out.append((time.perf_counter() - t0) * 1000)
            dups = sum(len(t["duplicates"]) for t in body["tickets"])
            total = body["total"]
    finally:
        await server.close()
        await queue.close()
    return out, dups, total


def run(name: str, tickets: int, requests: int, catalogue: Catalogue) -> bool:
    opener = sqlite_database if name == "sqlite" else pg_database
    with opener() as db:
        db.upgrade()
        gen = generate(db, catalogue, tickets)
        addresses(db)
        with db.session() as s:
            waiting = s.scalar(select(func.count()).where(TicketRow.state == State.ACCEPTED.value))
        page, dups, total = asyncio.run(inbox_ms(db, catalogue, requests))
    p50, p99 = pct(page, 0.5), pct(page, 0.99)
    ok = p99 < TARGET_P99_MS
    print(f"\n== {name}: {gen.tickets:,} tickets, {waiting:,} accepted (total {total:,})")
    verdict = "OK" if ok else "MISSED"
    print(f"  GET /api/inbox, 50 rows, {dups} duplicates shown   p50 {p50:7.1f} ms   "
          f"p99 {p99:7.1f} ms   target p99 < {TARGET_P99_MS:.0f} ms  {verdict}")  # fmt: skip
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="5,000 tickets, 30 requests")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    tickets, requests = (5_000, 30) if args.quick else (100_000, 100)
    catalogue = load_catalogue(CONFIG_DIR)
    names = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"inbox bench: {tickets:,} tickets, {requests} requests" + (" (quick)" * args.quick))
    ok = all([run(name, tickets, requests, catalogue) for name in names])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
