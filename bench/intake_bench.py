"""Import benchmark: forwarded items taken as tickets (``hotline import``'s path) in items/s.

On SQLite (a WAL file) and PostgreSQL (``HOTLINE_BENCH_PG_URL``, or a throwaway durable
cluster started here), each a fresh database migrated by ``db.upgrade()``. The items are one
platform's JSON file over four categories of the shipped catalogue (three dispatched by its
dispatch map, one kept at the centre). Measured: reading the file (JSON and CSV), the first
import (each item accepted and dispatched as the desk does, 200 items a transaction), and
the same file again (nothing new: one look-up a chunk of 500). Printed beside
it, on the same database: the desk's way, ``TicketService.accept`` then ``act("dispatch")``
called directly, two transactions a ticket (the import's own way when chunks race).

    .venv/bin/python bench/intake_bench.py                     # 100,000 items, both backends
    .venv/bin/python bench/intake_bench.py --quick --backend sqlite   # 1,000 items (CI)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tickets_bench import pg_database, sqlite_database  # noqa: E402
from ivr.config.catalogue import load_catalogue  # noqa: E402
from ivr.db.database import Database  # noqa: E402
from ivr.intake.importer import Importer  # noqa: E402
from ivr.intake.parse import read_csv, read_json  # noqa: E402
from ivr.tickets.deadlines import Deadlines, calendar_from_config  # noqa: E402
from ivr.tickets.service import TicketService  # noqa: E402

CONFIG_DIR = ROOT / "config"
CATEGORIES = ["utilities.heating", "housing.property", "pollution", "rural_other.other"]
FIELDS = ["external_id", "received_at", "phone", "content", "type", "category"]


def items(n: int) -> list[dict[str, str]]:
    return [
        {
            "external_id": f"RMW-{k:06d}",
            "received_at": "2025-09-25 08:30",
            "phone": f"139{k:08d}",
            "content": f"第{k}件：小区暖气不热，已经三天了",
            "type": "complaint",
            "category": CATEGORIES[k % len(CATEGORIES)],
        }
        for k in range(n)
    ]


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>10,.0f} items/s  ({seconds:.2f} s)"


def run(name: str, n: int) -> None:
    opener = sqlite_database if name == "sqlite" else pg_database
    data = items(n)
    raw = json.dumps(data, ensure_ascii=False).encode()
    rows = [",".join(FIELDS)] + [",".join(d[f] for f in FIELDS) for d in data]
    csv_raw = ("\n".join(rows) + "\n").encode()
    with opener() as db:
        db.upgrade()
        service = service_on(db)
        print(f"{name}:")
        t = time.perf_counter()
        parsed = read_json(raw)
        print(f"  read JSON                       {rate(n, time.perf_counter() - t)}")
        t = time.perf_counter()
        read_csv(csv_raw)
        print(f"  read CSV                        {rate(n, time.perf_counter() - t)}")
        t = time.perf_counter()
        report = Importer(service, "bench").run(parsed, "people_leaders")
        first = time.perf_counter() - t
        assert report.counts() == {"created": n, "already": 0, "refused": 0}, report.counts()
        print(f"  import, accepted and dispatched {rate(n, first)}")
        t = time.perf_counter()
        again = Importer(service, "bench").run(read_json(raw), "people_leaders")
        assert again.counts() == {"created": 0, "already": n, "refused": 0}, again.counts()
        print(f"  the same file again, nothing new{rate(n, time.perf_counter() - t)}")
        desk = min(n, 2_000)
        t = time.perf_counter()
        for k in range(desk):
            ticket = service.accept(
                caller="13900000000", type="complaint", category=CATEGORIES[k % 3],
                actor="bench", content="desk",
            )  # fmt: skip
            service.act(ticket.number, "dispatch", actor="bench")
        spent = time.perf_counter() - t
        print(f"  the desk's way, one by one      {rate(desk, spent)}  ({desk:,} tickets)")
        print(f"  import / the desk's way         {(n / first) / (desk / spent):>10.2f}")


def service_on(db: Database) -> TicketService:
    return TicketService(
        db, load_catalogue(CONFIG_DIR), Deadlines(calendar_from_config(CONFIG_DIR))
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1,000 items")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    n = 1_000 if args.quick else 100_000
    names = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"intake bench: {n:,} forwarded items" + (" (quick)" * args.quick))
    for name in names:
        run(name, n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
