"""``hotline`` subcommands of this package, registered by :mod:`ivr.cli`.

- ``hotline db upgrade``: create or migrate the database (``HOTLINE_DATABASE_URL``);
- ``hotline db current``: the schema revision;
- ``hotline report --day D | --week W | --month M [--out DIR]``: Markdown, HTML (+PNG), CSV;
- ``hotline seed-demo [--month 2020-02] [--scale 1.0]``: a month of generated traffic;
- ``hotline tickets sweep``: flags and automatic supervision now;
- ``hotline tickets supervised``: the supervised tickets for the hotline office;
- ``hotline tickets show NUMBER``: a ticket and its audit trail;
- ``hotline tickets replay``: write the local journal to the database.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from ivr.errors import HotlineError
from ivr.settings import Settings


def _db(args: argparse.Namespace, settings: Settings) -> Any:
    from ivr.tickets.db import Database, database_url

    return Database(args.database_url or database_url(settings.var_dir))


def _config(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.config) if getattr(args, "config", None) else settings.config_dir


def _service(args: argparse.Namespace, settings: Settings) -> Any:
    from ivr.tickets.catalogue import load_catalogue
    from ivr.tickets.deadlines import Deadlines, calendar_from_config
    from ivr.tickets.service import TicketService

    directory = _config(args, settings)
    db = _db(args, settings)
    db.check_schema()
    return TicketService(db, load_catalogue(directory), Deadlines(calendar_from_config(directory)))


def _run(func: Any) -> Any:
    def wrapped(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return int(func(args, settings))
        except HotlineError as exc:
            print(exc, file=sys.stderr)
            return 1

    return wrapped


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    db = _db(args, settings)
    revision = db.upgrade()
    print(f"{db.safe_url}: schema at revision {revision}")
    db.close()
    return 0


def cmd_db_current(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.tickets.db import current_revision, head_revision

    db = _db(args, settings)
    current = current_revision(db.engine)
    print(f"{db.safe_url}: revision {current or 'none'} (newest {head_revision()})")
    db.close()
    return 0 if current == head_revision() else 1


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.tickets.reports import build_report, parse_period
    from ivr.tickets.reports.render import write_report

    period = parse_period(day=args.day, week=args.week, month=args.month)
    service = _service(args, settings)
    report = build_report(service.db, service.catalogue, period)
    out = Path(args.out) if args.out else settings.var_dir / "reports"
    for path in write_report(report, out):
        print(path)
    return 0


def cmd_seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.tickets.demo import seed_demo
    from ivr.tickets.reports import parse_period

    period = parse_period(month=args.month)
    service = _service(args, settings)
    result = seed_demo(service.db, service.catalogue, service.deadlines, period, scale=args.scale)
    print(
        f"{service.db.safe_url}: {result.calls} calls, {result.tickets} tickets "
        f"({result.finished} finished), {result.queue_events} queue events in {period.label}; "
        f"now run: hotline report --month {period.label}"
    )
    return 0


def cmd_sweep(args: argparse.Namespace, settings: Settings) -> int:
    result = _service(args, settings).sweep()
    print(
        f"due soon {result.due_soon}, overdue {result.overdue}, newly supervised: "
        f"{result.supervised_overdue} overdue, {result.supervised_repeated} repeated"
    )
    return 0


def cmd_supervised(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(args, settings)
    rows = service.supervised()
    for ticket, reasons in rows:
        dept = service.catalogue.department_name(ticket.department)
        cat = service.catalogue.category_name(ticket.category)
        due = f"{ticket.deadline:%Y-%m-%d %H:%M}Z"
        why = ", ".join(reasons)
        print(f"{ticket.number}  {ticket.state:<10} {dept:<12} {cat}  due {due}  [{why}]")
    print(f"{len(rows)} supervised ticket(s)")
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(args, settings)
    ticket = service.get(args.number)
    cat = service.catalogue
    print(
        f"{ticket.number} {ticket.state} {cat.type_name(ticket.type)} "
        f"{cat.category_name(ticket.category)} -> {cat.department_name(ticket.department) or '-'}"
        f"\ncaller {ticket.caller}  deadline {ticket.deadline.isoformat()}"
        f"  overdue={ticket.overdue} supervised={ticket.supervised}\n{ticket.content}"
    )
    for e in service.history(args.number):
        move = f"{e.from_state or '-'} -> {e.to_state}"
        print(f"  {e.at:%Y-%m-%d %H:%M:%S}Z {e.actor:<10} {e.action:<14} {move}  {e.note}")
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.tickets.store import TicketStore

    store = TicketStore(_db(args, settings), settings.var_dir / "tickets-journal.jsonl")
    count = asyncio.run(store.replay())
    print(f"{count} journal entries written to the database")
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this package's subcommands. Each sets ``func(args, settings) -> int``."""

    def common(p: argparse.ArgumentParser, config: bool = True) -> None:
        p.add_argument(
            "--database-url", help="database URL (default: $HOTLINE_DATABASE_URL or SQLite in var/)"
        )
        if config:
            p.add_argument("--config", help="config directory (default: $HOTLINE_CONFIG_DIR)")

    db = sub.add_parser("db", help="the ticket database")
    db = db.add_subparsers(dest="db_command", required=True)
    p = db.add_parser(
        "upgrade", help="create or migrate the database schema to the newest revision"
    )
    common(p, config=False)
    p.set_defaults(func=_run(cmd_db_upgrade))
    p = db.add_parser("current", help="show the schema revision (exit 1 if not the newest)")
    common(p, config=False)
    p.set_defaults(func=_run(cmd_db_current))

    p = sub.add_parser(
        "report", help="daily/weekly/monthly report: Markdown, HTML with charts, CSV"
    )
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--day", help="YYYY-MM-DD")
    when.add_argument("--week", help="ISO week, YYYY-Www")
    when.add_argument("--month", help="YYYY-MM")
    p.add_argument("--out", help="output directory (default: var/reports)")
    common(p)
    p.set_defaults(func=_run(cmd_report))

    p = sub.add_parser("seed-demo", help="fill the database with a month of generated traffic")
    p.add_argument("--month", default="2020-02", help="YYYY-MM (default 2020-02, as seed 004)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply all volumes (default 1)")
    common(p)
    p.set_defaults(func=_run(cmd_seed_demo))

    t = sub.add_parser("tickets", help="ticket operations").add_subparsers(
        dest="tickets_command", required=True
    )
    p = t.add_parser("sweep", help="refresh due-soon/overdue flags and start automatic supervision")
    common(p)
    p.set_defaults(func=_run(cmd_sweep))
    p = t.add_parser("supervised", help="list the supervised tickets (督办)")
    common(p)
    p.set_defaults(func=_run(cmd_supervised))
    p = t.add_parser("show", help="a ticket and its audit trail")
    p.add_argument("number")
    common(p)
    p.set_defaults(func=_run(cmd_show))
    p = t.add_parser("replay", help="write the local journal to the database now")
    common(p, config=False)
    p.set_defaults(func=_run(cmd_replay))
