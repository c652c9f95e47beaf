"""``hotline`` subcommands of this package, registered by :mod:`ivr.cli`.

- ``hotline db upgrade``: create or migrate the database (``HOTLINE_DATABASE_URL``);
- ``hotline db current``: the schema revision;
- ``hotline report --day D | --week W | --month M [--out DIR]``: Markdown, HTML (+PNG), CSV;
- ``hotline seed-demo [--month 2020-02] [--scale 1.0]``: a month of generated traffic, with
  seed 004's catalogue (``config/demo-siping``) into a database of its own (``var/demo.db``)
  unless ``--config`` / ``--database-url`` say otherwise; ``hotline report ... --demo`` reads
  that database with that catalogue (``report`` and ``seed-demo`` migrate the database first,
  as the server does);
- ``hotline tickets accept UNIQUEID --type T --category C --content TEXT``: 受理 from a call,
  dispatched to the dispatch catalogue's department unless told otherwise;
- ``hotline tickets <action> NUMBER [...]``: every action of the state machine
  (:mod:`ivr.tickets.lifecycle`), e.g. ``dispatch``, ``return --reason``, ``extend-request``;
- ``hotline tickets list [--state S] [--overdue] [--due-soon] [--supervised] [--department D]``;
- ``hotline tickets sweep``: flags and automatic supervision now;
- ``hotline tickets supervised``: the supervised tickets for the hotline office;
- ``hotline tickets show NUMBER``: a ticket and its audit trail;
- ``hotline tickets replay``: write the local journal to the database;
- ``hotline callbacks list [--kind survey|missed|message] [--open]``, ``callbacks done ID
  --result``, ``callbacks attempt ID --result``: 回访, missed-call call-backs (promised
  callbacks too) and voice messages (留言, with their recordings);
- ``hotline calls list [--number N] [--since T] [--until T] [--outcome O] [--line L]``,
  ``calls show UNIQUEID``: find a call (and its reserved ticket number) to accept a ticket.

The ticket commands live in :mod:`ivr.console.actions_cli` (accept and the actions),
:mod:`ivr.console.tickets_cli` (list, show, supervised, sweep, replay),
:mod:`ivr.console.callbacks_cli` and :mod:`ivr.console.calls_cli`; this module has the
database and report commands and registers them all. Times are shown in the centre's zone
(北京时间, ``hours.yaml`` ``timezone``), UTC only inside the database.

Every refusal is printed as ``[HL-TKT-...] message`` on stderr with exit status 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ivr.config.catalogue import load_catalogue
from ivr.console.callbacks_cli import register_callbacks
from ivr.console.calls_cli import register_calls
from ivr.console.cli_common import common_options, db_of, run, service_of
from ivr.console.tickets_cli import register_tickets
from ivr.db.database import current_revision, head_revision
from ivr.devtools.seed004 import DEMO_CONFIG_DIR, DEMO_DATABASE, check_demo_catalogue
from ivr.settings import Settings

# ----------------------------------------------------------------------------- db, reports


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    db = db_of(args, settings)
    revision = db.upgrade()
    print(f"{db.safe_url}: schema at revision {revision}")
    db.close()
    return 0


def cmd_db_current(args: argparse.Namespace, settings: Settings) -> int:
    db = db_of(args, settings)
    current = current_revision(db.engine)
    print(f"{db.safe_url}: revision {current or 'none'} (newest {head_revision()})")
    db.close()
    return 0 if current == head_revision() else 1


def demo_defaults(args: argparse.Namespace, settings: Settings) -> None:
    """The demo's catalogue and database where ``--config`` / ``--database-url`` are not
    given: never the line's config or ``HOTLINE_DATABASE_URL``."""
    args.config = args.config or str(DEMO_CONFIG_DIR)
    args.database_url = args.database_url or f"sqlite:///{settings.var_dir / DEMO_DATABASE}"


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: the reports (their SQL, and matplotlib for the charts, slow to import) load for
    # `hotline report` only; `hotline --help` and every other command stay without them.
    from ivr.reports import build_report, parse_period
    from ivr.reports.publications import Publications
    from ivr.reports.render import write_report

    period = parse_period(day=args.day, week=args.week, month=args.month)
    if args.demo:
        demo_defaults(args, settings)
    service = service_of(args, settings, migrate_first=True)
    tz = service.deadlines.calendar.tz
    report = build_report(service.db, service.catalogue, period, tz=tz)
    # the narrative a supervisor saved or published for the period, if any
    saved = Publications(service.db, service.catalogue, tz).saved(period)
    out = Path(args.out) if args.out else settings.var_dir / "reports"
    for path in write_report(report, out, saved):
        print(path)
    return 0


def cmd_seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: the demo generator (with the call records and the engine's record) and the
    # reports' SQL load for `hotline seed-demo` only, not for `hotline --help` nor the others.
    from ivr.devtools.demo import seed_demo
    from ivr.reports import parse_period

    period = parse_period(month=args.month)
    config_given, url_given = args.config, args.database_url
    demo_defaults(args, settings)
    check_demo_catalogue(load_catalogue(Path(args.config)))  # before the database is touched
    service = service_of(args, settings, migrate_first=True)
    result = seed_demo(service.db, service.catalogue, service.deadlines, period, scale=args.scale)
    report = ["hotline report --month", period.label, "--demo"]
    report += [f"--config {config_given}"] if config_given else []
    report += [f"--database-url {service.db.safe_url}"] if url_given else []
    print(
        f"{service.db.safe_url}: {result.calls} calls, {result.tickets} tickets "
        f"({result.finished} finished) from calls, {result.forwarded} forwarded items, "
        f"{result.queue_events} queue events in {period.label}; "
        f"now run: {' '.join(report)}"
    )
    return 0


# ----------------------------------------------------------------------------- parser


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this package's subcommands. Each sets ``func(args, settings) -> int``."""
    db = sub.add_parser("db", help="the ticket database")
    db = db.add_subparsers(dest="db_command", required=True)
    p = db.add_parser(
        "upgrade", help="create or migrate the database schema to the newest revision"
    )
    common_options(p, config=False)
    p.set_defaults(func=run(cmd_db_upgrade))
    p = db.add_parser("current", help="show the schema revision (exit 1 if not the newest)")
    common_options(p, config=False)
    p.set_defaults(func=run(cmd_db_current))

    p = sub.add_parser(
        "report",
        help="daily/weekly/monthly report: Markdown, HTML with charts, CSV "
        "(migrates the database first)",
    )
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--day", help="YYYY-MM-DD")
    when.add_argument("--week", help="ISO week, YYYY-Www")
    when.add_argument("--month", help="YYYY-MM")
    p.add_argument("--out", help="output directory (default: var/reports)")
    p.add_argument(
        "--demo",
        action="store_true",
        help="the month `hotline seed-demo` made: its catalogue (config/demo-siping, seed "
        "004's Siping) and database (var/demo.db), unless --config / --database-url say "
        "otherwise",
    )
    common_options(p)
    p.set_defaults(func=run(cmd_report))

    p = sub.add_parser(
        "seed-demo",
        help="a month of generated traffic reproducing seed 004 (Siping), in a database of "
        "its own (migrates it first); then `hotline report --month 2020-02 --demo`",
    )
    p.add_argument("--month", default="2020-02", help="YYYY-MM (default 2020-02, as seed 004)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply all volumes (default 1)")
    p.add_argument(
        "--database-url",
        help="database URL (default: SQLite var/demo.db - never $HOTLINE_DATABASE_URL, so "
        "that a demo does not fill a live hotline's database)",
    )
    p.add_argument(
        "--config",
        help="config directory whose tickets/catalogue.yaml has seed 004's departments and "
        "categories (default: config/demo-siping)",
    )
    p.set_defaults(func=run(cmd_seed_demo))

    register_tickets(sub)
    register_callbacks(sub)
    register_calls(sub)
