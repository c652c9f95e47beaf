"""``hotline purge [--dry-run]``: the retention purge of ``config/privacy.yaml`` now, from the
console (the server runs it once a day by itself: docs/privacy.md). Registered by
:mod:`ivr.cli`.

The config directory is checked whole first (a refused config purges nothing); the database
is the ticket commands' (``--database-url``, else ``HOTLINE_DATABASE_URL``, else SQLite in
var/), migrated first as the server does; the recordings are ``HOTLINE_RECORDINGS_DIR``'s. The
run is audited as ``cli:<login name>``; a dry run counts what would go and changes nothing."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from ivr.config.loader import load_config
from ivr.console.cli_common import common_options, config_dir, db_of, migrate, run, unavailable
from ivr.console.users_cli import cli_actor
from ivr.privacy.purge import KINDS, Purger
from ivr.settings import Settings


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    bundle = load_config(config_dir(args, settings), settings.recordings_dir)
    retention = bundle.privacy.retention
    db = db_of(args, settings)
    try:
        migrate(db)
        report = Purger(db, settings.recordings_dir).run(
            retention, bundle.hours.timezone, cli_actor(), dry_run=args.dry_run
        )
    except (OperationalError, InterfaceError) as exc:
        raise unavailable(db, exc) from exc
    kept = {
        "recordings": retention.recordings_days,
        "call records": retention.call_records_days,
        "closed tickets": retention.tickets_days,
    }
    for what, days in kept.items():
        print(f"{what}: " + ("kept for ever" if days is None else f"kept {days} days"))
    width = max(len(k) for k in KINDS)
    for kind, count in report.figures().items():
        print(f"  {kind:<{width}}  {count}")
    print(report.describe())
    return 1 if report.counts["recordings_failed"] else 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "purge",
        help="delete the recordings, call records and closed tickets past retention "
        "(config/privacy.yaml); audited",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted; delete nothing"
    )
    common_options(p)
    p.set_defaults(func=run(cmd_purge))
