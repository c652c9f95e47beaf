"""Ticket database benchmark: call-record writes per second, and the monthly report at 1M.

On SQLite (a WAL file in a temp directory) and on PostgreSQL (``HOTLINE_BENCH_PG_URL``, a
server where the user may create databases; else a throwaway cluster started here with
PostgreSQL's durable defaults - fsync on, synchronous_commit on - so a commit costs what it
costs on a real server). Each backend gets a fresh database migrated by ``db.upgrade()``, so
the indexes measured are the ones the migrations ship.

1. **Call records/s** through :class:`ivr.records.store.CallRecordStore`, the way the server
   writes them (each record a realistic menu + queue call, ``CallRecord.to_dict`` and all):
   - *single, sequential*: ``await store.save(record)`` one after another, one transaction
     each. Printed for information, not judged: one writer waiting on every commit measures
     a transaction's latency (a durable commit waits for the disk's fsync), which no amount
     of throughput changes; the server never writes that way;
   - *single, concurrent*: 64 calls ending at once, each awaiting its own ``save`` (the
     server's shape: calls end concurrently and the store commits what is waiting together,
     see "group commit" in the store);
   - *batched*: ``await store.save_many(records)`` in batches of 500.
2. **Monthly report over 1,000,000 tickets**: one month is filled with 1,000,000 tickets,
   1,300,000 call records (seed 004's ratio of calls to tickets) and 2,600,000 queue_log
   events, by set-based SQL (``INSERT ... SELECT`` over a recursive CTE on SQLite,
   ``generate_series`` on PostgreSQL); then ``ANALYZE`` (PostgreSQL: ``VACUUM ANALYZE``, as
   autovacuum would), then :func:`ivr.reports.build_report` for that month is timed:
   one cold run, then the median of three. The report's figures are checked against the
   counts the generator put in.

Targets (issue 4): at least 2,000 call records/s, a monthly report over 1M tickets in under
2 s. The concurrent and batched write rates and the report time are printed with OK or
MISSED against their target (exit status 1 if one is missed); the sequential rate is
printed as information, with the time per commit.

    .venv/bin/python bench/tickets_bench.py             # the full run (several minutes)
    .venv/bin/python bench/tickets_bench.py --quick     # a smoke run, 50k tickets (< 1 min)
    .venv/bin/python bench/tickets_bench.py --backend sqlite --tickets 200000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from ivr.config.catalogue import Catalogue, load_catalogue  # noqa: E402
from ivr.db.database import Database  # noqa: E402
from ivr.devtools.pgtemp import admin, throwaway_postgres, url_for  # noqa: E402
from ivr.engine.record import CallEvent, CallRecord  # noqa: E402
from ivr.records.store import CallRecordStore  # noqa: E402
from ivr.reports import build_report, parse_period  # noqa: E402
from ivr.tickets.lifecycle import DONE, State  # noqa: E402

CONFIG_DIR = ROOT / "config"
TARGET_RECORDS_PER_S = 2000.0
TARGET_REPORT_S = 2.0
MONTH = "2020-02"  # 29 days
UTC_OFFSET_HOURS = 8  # Asia/Shanghai
CALLS_PER_TICKET = 1.3  # seed 004: 8570 calls, 6610 tickets

# --------------------------------------------------------------------------- call records

T0 = dt.datetime(2025, 9, 26, 2, 0, tzinfo=dt.UTC)


def make_record(run: str, i: int) -> CallRecord:
    """A typical call: menu, two digits, queue, answered (1 in 10 abandoned)."""
    start = T0 + dt.timedelta(seconds=i)
    rec = CallRecord(
        uniqueid=f"{run}.{i}",
        caller=f"139{i % 100_000_000:08d}",
        caller_name="",
        dialled="12345",
        channel=f"PJSIP/trunk-{i:08x}",
        config_version="bench",
        started_at=start,
    )
    events = [
        ("enter", "main", ""),
        ("prompt", "main", "welcome"),
        ("digit", "main", "2"),
        ("enter", "housing", ""),
        ("digit", "housing", "1"),
        ("queue", "housing", "general"),
        ("hangup", None, "normal clearing"),
    ]
    for k, (kind, node, detail) in enumerate(events):
        rec.events.append(
            CallEvent(start + dt.timedelta(seconds=3 * k), 3.0 * k, kind, node, detail)
        )
    rec.skill = "general"
    rec.priority = 0
    rec.queue_position = 1 + i % 7
    rec.outcome = "abandoned" if i % 10 == 0 else "queue"
    rec.ended_at = start + dt.timedelta(seconds=120)
    return rec


@dataclass
class Writes:
    single: float = 0.0
    concurrent: float = 0.0
    batched: float = 0.0


async def _writes(db: Database, journal: Path, single: int, batched: int, batch: int) -> Writes:
    store = CallRecordStore(db, journal)
    await store.start()
    out = Writes()
    run = uuid.uuid4().hex[:8]
    try:
        # warm up: connections, statement caches
        await store.save_many([make_record(f"w{run}", i) for i in range(50)])
        for i in range(20):
            await store.save(make_record(f"w1{run}", i))

        records = [make_record(f"s{run}", i) for i in range(single)]
        t = time.perf_counter()
        for rec in records:
            await store.save(rec)
        out.single = single / (time.perf_counter() - t)

        records = [make_record(f"c{run}", i) for i in range(single)]
        width = 64

        async def caller(k: int) -> None:
            for rec in records[k::width]:
                await store.save(rec)

        t = time.perf_counter()
        await asyncio.gather(*(caller(k) for k in range(width)))
        out.concurrent = single / (time.perf_counter() - t)

        records = [make_record(f"b{run}", i) for i in range(batched)]
        t = time.perf_counter()
        for k in range(0, batched, batch):
            await store.save_many(records[k : k + batch])
        out.batched = batched / (time.perf_counter() - t)

        assert not store.degraded and store.journal.empty(), "the database went away"
        with db.engine.connect() as conn:
            n = conn.execute(
                text("SELECT count(*) FROM call_records WHERE config_version = 'bench'")
            ).scalar_one()
        assert n == 70 + 2 * single + batched, f"{n} call records written"
    finally:
        await store.close()
    return out


# --------------------------------------------------------------------------- 1M tickets


@dataclass
class Dialect:
    """The few expressions that differ between SQLite and PostgreSQL."""

    name: str

    def seq(self, count: int) -> tuple[str, str]:
        """(prefix, FROM clause) giving rows n = 1..count."""
        if self.name == "sqlite":
            return (
                "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
                f"WHERE n < {count}) ",
                "seq",
            )
        return "", f"generate_series(1, {count}) AS seq(n)"

    def day(self, start: dt.date, offset: str) -> str:
        if self.name == "sqlite":
            return f"date('{start}', '+' || ({offset}) || ' days')"
        return f"(DATE '{start}' + ({offset}))"

    def utc(self, start: dt.date, days: str, seconds: str) -> str:
        """Naive UTC of local ``start + days + seconds``."""
        if self.name == "sqlite":
            return (
                f"datetime('{start}', '+' || ({days}) || ' days', '+' || ({seconds}) || "
                f"' seconds', '-{UTC_OFFSET_HOURS} hours')"
            )
        return (
            f"(TIMESTAMP '{start} 00:00:00' + make_interval(days => ({days}), "
            f"secs => ({seconds})) - INTERVAL '{UTC_OFFSET_HOURS} hours')"
        )

    def plus_hours(self, ts: str, hours: int) -> str:
        if self.name == "sqlite":
            return f"datetime({ts}, '+{hours} hours')"
        return f"({ts} + INTERVAL '{hours} hours')"

    def pad(self, value: str, width: int) -> str:
        if self.name == "sqlite":
            return f"printf('%0{width}d', {value})"
        return f"lpad(({value})::text, {width}, '0')"

    def yyyymmdd(self, day: str) -> str:
        if self.name == "sqlite":
            return f"strftime('%Y%m%d', {day})"
        return f"to_char({day}, 'YYYYMMDD')"

    def true(self, cond: str) -> str:
        return f"({cond})"  # 0/1 on SQLite, boolean on PostgreSQL


def _case(expr: str, values: list[str]) -> str:
    whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
    return f"(CASE {expr} {whens} END)"


# ticket states by n % 100: mostly done, some open, 1 % merged
STATE_BUCKETS = [
    (40, State.FINISHED),
    (30, State.VISITED),
    (20, State.ARCHIVED),
    (2, State.ACCEPTED),
    (3, State.DISPATCHED),
    (1, State.SIGNED),
    (2, State.HANDLING),
    (1, State.RETURNED),
    (1, State.MERGED),
]


def _state_case() -> str:
    parts, low = [], 0
    for width, state in STATE_BUCKETS:
        parts.append(f"WHEN n % 100 < {low + width} THEN '{state.value}'")
        low += width
    return "(CASE " + " ".join(parts) + " END)"


@dataclass
class Generated:
    tickets: int
    calls: int
    queue_events: int
    seconds: float
    expected_accepted: int = 0
    expected_finished: int = 0


def generate(db: Database, catalogue: Catalogue, tickets: int) -> Generated:
    """Fill the month with ``tickets`` tickets, their calls and queue events, set-based."""
    d = Dialect(db.dialect)
    period = parse_period(month=MONTH)
    days = (period.end - period.start).days
    start = period.start
    types = list(catalogue.types)
    leaves = [c for c in catalogue.categories.values() if c.depth >= 2] or list(
        catalogue.categories.values()
    )
    departments = list(catalogue.departments)
    calls = round(tickets * CALLS_PER_TICKET)
    t0 = time.perf_counter()

    # tickets: n -> day n % days, sequence n / days + 1 within that day
    day = d.day(start, f"n % {days}")
    accepted_at = d.utc(start, f"n % {days}", "((n % 86400) * 7919) % 86400")
    state = _state_case()
    done = ", ".join(f"'{s.value}'" for s in DONE)
    prefix, source = d.seq(tickets)
    cat = f"n % {len(leaves)}"
    db_exec(
        db,
        prefix + "INSERT INTO tickets (number, call_uniqueid, source, accepted_at, accepted_day, "
        "accepted_by, caller, caller_name, confidential, dialled, type, category, category_top, "
        "content, address, urgency, department, state, deadline, extension_requested, "
        "finished_at, reply, satisfaction, survey_score, solved, merged_into, due_soon, overdue, "
        "was_overdue, supervised, reminders, returns, extensions, redos, version) "
        f"SELECT {d.yyyymmdd(day)} || {d.pad(f'n / {days} + 1', 6)}, 'bench.' || n, 'phone', "
        f"{accepted_at}, {day}, 'op' || (n % 40), "
        f"'139' || {d.pad('n % 200000', 8)}, '', {d.true('1 = 0')}, '12345', "
        f"{_case(f'n % {len(types)}', types)}, "
        f"{_case(cat, [c.path for c in leaves])}, {_case(cat, [c.top for c in leaves])}, "
        "'generated by bench/tickets_bench.py', '', 0, "
        f"CASE WHEN n % 3 = 0 THEN NULL ELSE "
        f"{_case(f'n % {len(departments)}', departments)} END, "
        f"{state}, {d.plus_hours(accepted_at, 24)}, NULL, "
        f"CASE WHEN {state} IN ({done}) THEN {d.plus_hours(accepted_at, 3)} END, '', "
        f"CASE WHEN {state} IN ('visited', 'archived') THEN 1 + n % 5 END, NULL, NULL, NULL, "
        f"{d.true('1 = 0')}, {d.true(f'{state} NOT IN ({done}) AND n % 7 = 0')}, "
        f"{d.true('n % 20 = 0')}, {d.true('n % 25 = 0')}, 0, 0, 0, 0, 1 "
        f"FROM {source}",
    )
    db_exec(
        db,
        "INSERT INTO supervisions (ticket_id, reason, started_at, day, note) "
        "SELECT id, CASE WHEN id % 2 = 0 THEN 'overdue' ELSE 'repeated' END, deadline, "
        "accepted_day, '' FROM tickets WHERE supervised AND call_uniqueid LIKE 'bench.%'",
    )

    # call records: n -> the same day spread
    prefix, source = d.seq(calls)
    started = d.utc(start, f"n % {days}", "((n % 86400) * 7919) % 86400")
    db_exec(
        db,
        prefix + "INSERT INTO call_records (uniqueid, caller, caller_name, dialled, channel, "
        "config_version, accessible, started_at, ended_at, day, duration, outcome, "
        "outcome_detail, hangup_cause, skill, priority, queue_wait, agent, path, digits, "
        "messages, events) "
        f"SELECT 'bench.' || n, '139' || {d.pad('n % 200000', 8)}, '', '12345', 'PJSIP/trunk', "
        f"'bench-month', {d.true('1 = 0')}, {started}, {d.plus_hours(started, 0)}, "
        f"{d.day(start, f'n % {days}')}, 120.0, "
        "CASE WHEN n % 10 = 0 THEN 'abandoned' ELSE 'queue' END, '', 'normal clearing', "
        "'general', 0, (n % 40) * 1.0, CASE WHEN n % 10 = 0 THEN NULL ELSE 'agent' || (n % 50) "
        "END, '[\"main\"]', '2', '[]', '[]' "
        f"FROM {source}",
    )

    # queue_log: 2 events per call (ENTERQUEUE, then CONNECT / ABANDON / EXITWITHTIMEOUT)
    prefix, source = d.seq(2 * calls)
    call = "((n + 1) / 2)"
    second = f"CASE WHEN {call} % 20 = 0 THEN 'EXITWITHTIMEOUT' WHEN {call} % 10 = 0 THEN "
    second += "'ABANDON' ELSE 'CONNECT' END"
    event = f"CASE WHEN n % 2 = 1 THEN 'ENTERQUEUE' ELSE {second} END"
    offset = f"(({call} % 86400) * 7919) % 86400"  # stays in 32-bit integers
    db_exec(
        db,
        prefix + "INSERT INTO queue_log (key, at, day, callid, queue, agent, event, data1, "
        "data2, data3, data4, data5, wait) "
        f"SELECT 'bench.' || n, {d.utc(start, f'{call} % {days}', offset)}, "
        f"{d.day(start, f'{call} % {days}')}, 'bench.' || {call}, 'general', 'NONE', {event}, "
        f"'', '', '', '', '', CASE WHEN n % 2 = 0 THEN ({call} % 40) * 1.0 END "
        f"FROM {source}",
    )
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        db_exec(db, "ANALYZE")
        with db.engine.connect() as conn:  # as the server's autocheckpoint would, by then
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    seconds = time.perf_counter() - t0

    merged = sum(1 for n in range(1, tickets + 1) if n % 100 == 99)
    done_buckets = sum(w for w, s in STATE_BUCKETS if s in DONE)
    finished = sum(1 for n in range(1, tickets + 1) if n % 100 < done_buckets)
    return Generated(tickets, calls, 2 * calls, seconds, tickets - merged, finished)


def db_exec(db: Database, sql: str) -> None:
    with db.engine.begin() as conn:
        if db.dialect == "sqlite":  # a bulk load: a big page cache for the index inserts
            conn.exec_driver_sql("PRAGMA cache_size=-1000000")
        conn.execute(text(sql))
        if db.dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size=-65536")


@dataclass
class ReportTimes:
    cold: float = 0.0
    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def time_report(db: Database, catalogue: Catalogue, gen: Generated) -> ReportTimes:
    period = parse_period(month=MONTH)
    out = ReportTimes()
    for i in range(4):
        t = time.perf_counter()
        report = build_report(db, catalogue, period)
        elapsed = time.perf_counter() - t
        if i == 0:
            out.cold = elapsed
            assert report.accepted == gen.expected_accepted, (report.accepted, gen)
            assert report.finished == gen.expected_finished, (report.finished, gen)
            assert report.calls == gen.calls, (report.calls, gen)
            assert report.queue.offered == gen.calls, (report.queue.offered, gen)
        else:
            out.runs.append(elapsed)
    return out


# --------------------------------------------------------------------------- the run


@contextlib.contextmanager
def sqlite_database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        try:
            yield db
        finally:
            db.close()


@contextlib.contextmanager
def pg_database() -> Iterator[Database]:
    given = os.environ.get("HOTLINE_BENCH_PG_URL")
    with contextlib.ExitStack() as stack:
        server = given or stack.enter_context(throwaway_postgres(durable=True))
        name = f"hotline_bench_{os.getpid()}"
        admin(server, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
        db = Database(url_for(server, name))
        try:
            yield db
        finally:
            db.close()
            admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def run_backend(name: str, args: argparse.Namespace, catalogue: Catalogue) -> bool:
    opener = sqlite_database if name == "sqlite" else pg_database
    ok = True
    with opener() as db, tempfile.TemporaryDirectory() as tmp:
        db.upgrade()
        where = db.safe_url if name == "sqlite" else db.safe_url.split("?")[0]
        print(f"\n== {name}: {where}", flush=True)
        w = asyncio.run(
            _writes(db, Path(tmp) / "journal.jsonl", args.single, args.batched, args.batch)
        )
        # Information only: one writer awaiting each commit in turn measures the latency of
        # a transaction (a durable commit waits for the disk), not the store's throughput.
        # The server never writes that way: calls end concurrently and share a commit.
        print(
            f"call records/s  {f'single, sequential ({args.single})':<34} {w.single:>9,.0f}   "
            f"info: {1000 / w.single:.1f} ms per commit, one writer waiting on each",
            flush=True,
        )
        for label, rate in (
            (f"single, 64 concurrent ({args.single})", w.concurrent),
            (f"batched by {args.batch} ({args.batched})", w.batched),
        ):
            good = rate >= TARGET_RECORDS_PER_S
            ok &= good
            print(
                f"call records/s  {label:<34} {rate:>9,.0f}   "
                f"target >= {TARGET_RECORDS_PER_S:,.0f}  {verdict(good)}",
                flush=True,
            )
        gen = generate(db, catalogue, args.tickets)
        print(
            f"generated {gen.tickets:,} tickets, {gen.calls:,} calls, "
            f"{gen.queue_events:,} queue events in {MONTH} in {gen.seconds:.1f} s",
            flush=True,
        )
        times = time_report(db, catalogue, gen)
        good = times.median < TARGET_REPORT_S
        ok &= good
        runs = ", ".join(f"{x:.2f}" for x in times.runs)
        print(
            f"monthly report over {gen.tickets:,} tickets: median {times.median:.2f} s "
            f"(cold {times.cold:.2f} s; runs {runs})   target < {TARGET_REPORT_S:.0f} s  "
            f"{verdict(good)}",
            flush=True,
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run: 50k tickets")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--tickets", type=int, help="tickets in the report month (1,000,000)")
    parser.add_argument("--single", type=int, help="records written one by one (5,000)")
    parser.add_argument("--batched", type=int, help="records written in batches (50,000)")
    parser.add_argument("--batch", type=int, default=500, help="batch size (500)")
    args = parser.parse_args(argv)
    args.tickets = args.tickets or (50_000 if args.quick else 1_000_000)
    args.single = args.single or (1_000 if args.quick else 5_000)
    args.batched = args.batched or (10_000 if args.quick else 50_000)
    catalogue = load_catalogue(CONFIG_DIR)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(
        f"tickets bench: python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
        + (" (quick)" if args.quick else "")
    )
    ok = True
    for name in backends:
        ok &= run_backend(name, args, catalogue)
    print("\nall targets met" if ok else "\nsome targets MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
