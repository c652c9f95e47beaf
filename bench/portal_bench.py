"""Department portal benchmark: the page of a department's tickets with 100,000 tickets.

On SQLite (a WAL file) and PostgreSQL (``HOTLINE_BENCH_PG_URL``, or a throwaway durable
cluster started here), each a fresh database migrated by ``db.upgrade()`` and filled with
100,000 tickets over the shipped catalogue's departments by the tickets benchmark's set-based
generator (``bench/tickets_bench.py``), then analysed. The measured request is what the
portal sends: ``GET /api/portal/tickets?state=all&limit=100`` (a full page of 100, the
nearest deadline first) by a department user's session, through
the app (``ivr.web``: the guard, the session check, the query, 100 tickets with their
working-day deadlines, JSON), 200 times in turn, for the department with the most tickets.
Printed beside it, on the same database: the floor, the same rows by a bare SQL query.

Target (issue 15): p99 under 300 ms on each backend.

    .venv/bin/python bench/portal_bench.py                  # 100,000 tickets, both backends
    .venv/bin/python bench/portal_bench.py --quick --backend sqlite   # 5,000 tickets (CI)
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
from sqlalchemy import func, select  # noqa: E402

from bench.fastagi_bench import pct  # noqa: E402
from bench.tickets_bench import generate, pg_database, sqlite_database  # noqa: E402
from ivr.accounts import Accounts  # noqa: E402
from ivr.config.catalogue import Catalogue, load_catalogue  # noqa: E402
from ivr.config.queue_models import AgentsFile, QueueSettings  # noqa: E402
from ivr.db.database import Database  # noqa: E402
from ivr.db.tables import TicketRow  # noqa: E402
from ivr.tickets.deadlines import Deadlines, calendar_from_config  # noqa: E402
from ivr.tickets.lifecycle import AT_DEPARTMENT  # noqa: E402
from ivr.tickets.service import TicketService  # noqa: E402
from ivr.web import create_app  # noqa: E402
from ivr.web.portal_routes import portal_part  # noqa: E402
from ivr.web.ticket_routes import tickets_part  # noqa: E402
from queueing.queue import RedisQueue  # noqa: E402

CONFIG_DIR = ROOT / "config"
TARGET_P99_MS = 300.0
PASSWORD = "bench password 1"
OPEN = [s.value for s in AT_DEPARTMENT]


def busiest(db: Database) -> tuple[str, int]:
    with db.session() as s:
        dept, n = s.execute(
            select(TicketRow.department, func.count())
            .where(TicketRow.department.is_not(None), TicketRow.state.in_(OPEN))
            .group_by(TicketRow.department)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
    return str(dept), int(n)


def floor_ms(db: Database, department: str, n: int) -> list[float]:
    """The same 100 rows by a bare query: what the database alone costs."""
    out = []
    q = (
        select(TicketRow)
        .where(TicketRow.department == department)
        .order_by(TicketRow.deadline, TicketRow.id)
        .limit(100)
    )
    for _ in range(n):
        t0 = time.perf_counter()
        with db.session() as s:
            s.scalars(q).all()
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def portal_ms(db: Database, catalogue: Catalogue, department: str, n: int) -> list[float]:
    accounts = Accounts(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    accounts.add_user("bench-dept", PASSWORD, "department", department=department, actor="bench")
    service = TicketService(db, catalogue, Deadlines(calendar_from_config(CONFIG_DIR)))
    # the portal reads only the queue's settings (the zone): no Redis is reached
    queue = RedisQueue.from_url("redis://127.0.0.1:9/0", QueueSettings())
    app = create_app(
        queue, AgentsFile(), accounts, db, parts=[tickets_part(lambda: service), portal_part()]
    )
    server = TestServer(app)
    await server.start_server()
    out = []
    try:
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            base = str(server.make_url("")).rstrip("/")
            login = {"username": "bench-dept", "password": PASSWORD}
            assert (await http.post(base + "/api/login", json=login)).status == 200
            for i in range(n + 5):
                t0 = time.perf_counter()
                async with http.get(base + "/api/portal/tickets?state=all&limit=100") as r:
                    body = await r.json()
                    assert r.status == 200 and len(body["tickets"]) == min(100, body["total"])
                if i >= 5:  # warm-up done
                    out.append((time.perf_counter() - t0) * 1000)
    finally:
        await server.close()
        await queue.close()
    return out


def run(name: str, tickets: int, requests: int, catalogue: Catalogue) -> bool:
    opener = sqlite_database if name == "sqlite" else pg_database
    with opener() as db:
        db.upgrade()
        gen = generate(db, catalogue, tickets)  # analysed at its end
        department, open_n = busiest(db)
        page = asyncio.run(portal_ms(db, catalogue, department, requests))
        bare = floor_ms(db, department, requests)
    p50, p99 = pct(page, 0.5), pct(page, 0.99)
    ok = p99 < TARGET_P99_MS
    print(f"\n== {name}: {gen.tickets:,} tickets; department {department} has {open_n:,} open")
    print(f"  GET /api/portal/tickets, 100 rows   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   "
          f"target p99 < {TARGET_P99_MS:.0f} ms  {'OK' if ok else 'MISSED'}")  # fmt: skip
    print(f"  bare SQL, the same rows (floor)      p50 {pct(bare, 0.5):7.1f} ms   "
          f"p99 {pct(bare, 0.99):7.1f} ms")  # fmt: skip
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="5,000 tickets, 50 requests")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    tickets, requests = (5_000, 50) if args.quick else (100_000, 200)
    catalogue = load_catalogue(CONFIG_DIR)
    names = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"portal bench: {tickets:,} tickets, {requests} requests" + (" (quick)" * args.quick))
    ok = all([run(name, tickets, requests, catalogue) for name in names])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
