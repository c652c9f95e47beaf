"""What the ticket command modules share: the database and service from the command line,
the acting name, refusals as ``[HL-...]`` lines, catalogue look-ups by code or (near) name."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from ivr.config.catalogue import load_catalogue
from ivr.config.loader import load_notify
from ivr.db.database import Database, current_revision, database_url, head_revision
from ivr.db.errors import DatabaseUnavailable, SchemaOutOfDate
from ivr.errors import HotlineError
from ivr.notify import OutboxNotices
from ivr.settings import Settings
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.display import local_time, resolve, zone_name, zone_note
from ivr.tickets.errors import BadTicketInput
from ivr.tickets.service import TicketService

OPERATOR_ENV = "HOTLINE_OPERATOR"


def db_of(args: argparse.Namespace, settings: Settings) -> Any:
    return Database(args.database_url or database_url(settings.var_dir))


def config_dir(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.config) if getattr(args, "config", None) else settings.config_dir


def unavailable(db: Any, exc: Exception) -> HotlineError:
    orig = " ".join(str(getattr(exc, "orig", None) or exc).split())  # one line, as all are
    return DatabaseUnavailable(
        f"database {db.safe_url} is unavailable ({orig}): nothing was changed; "
        "repeat the command when it is back"
    )


def migrate(db: Any) -> None:
    """Bring the schema to the newest revision, as ``hotline serve`` does at start, and say
    so on stderr when something was done."""
    # lazy: Alembic is slow to import; `hotline --help` and the commands without a database
    # (check-config, queue, asterisk) never load it.
    from alembic.util import CommandError

    before = current_revision(db.engine)
    if before == head_revision():
        return
    try:
        after = db.upgrade()
    except CommandError as exc:
        raise SchemaOutOfDate(
            f"database {db.safe_url} is at revision {before}, which this program does not "
            f"know ({exc}): it was written by a newer version; use that version"
        ) from exc
    what = f"from revision {before}" if before else "created"
    print(
        f"{db.safe_url}: database schema {what} -> revision {after} "
        "(migrated first, as `hotline db upgrade` and the server do)",
        file=sys.stderr,
    )


def service_of(args: argparse.Namespace, settings: Settings, migrate_first: bool = False) -> Any:
    directory = config_dir(args, settings)
    db = db_of(args, settings)
    try:
        if migrate_first:
            migrate(db)
        else:
            db.check_schema()
    except (OperationalError, InterfaceError) as exc:
        raise unavailable(db, exc) from exc
    catalogue = load_catalogue(directory)
    notify = load_notify(directory)  # the SMS and replies the commands' tickets write
    notices = OutboxNotices(lambda: notify, lambda: catalogue.sources)
    deadlines = Deadlines(calendar_from_config(directory))
    return TicketService(db, catalogue, deadlines, notices=notices)


def run(func: Any) -> Any:
    def wrapped(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return int(func(args, settings))
        except HotlineError as exc:
            print(exc, file=sys.stderr)
            return 1

    return wrapped


def actor(args: argparse.Namespace) -> str:
    """``--by``, else ``$HOTLINE_OPERATOR``, else the login name."""
    if getattr(args, "by", None):
        return str(args.by)
    if os.environ.get(OPERATOR_ENV):
        return os.environ[OPERATOR_ENV]
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "operator"


def need(value: str | None, action: str, option: str, what: str) -> str:
    if value is None or not value.strip():
        raise BadTicketInput(f"{action}: give {what} with {option}")
    return value.strip()


def check_limit(limit: int) -> None:
    if limit < 1:
        raise BadTicketInput("--limit: give 1 or more")


def local(service: Any, when: Any) -> str:
    """A database time in the centre's zone (Beijing time), ``YYYY-MM-DD HH:MM``."""
    return local_time(service.deadlines.calendar, when)


def zone(service: Any) -> str:
    return zone_note(service.deadlines.calendar)


def zone_short(service: Any) -> str:
    return zone_name(service.deadlines.calendar)


def department(service: Any, value: str) -> str:
    cat = service.catalogue
    return resolve("department", value, {c: d.name for c, d in cat.departments.items()})


def ticket_type(service: Any, value: str) -> str:
    cat = service.catalogue
    return resolve("ticket type", value, {c: t.name for c, t in cat.types.items()})


def category(service: Any, value: str) -> str:
    cat = service.catalogue
    return resolve(
        "category",
        value,
        {c: i.full_name for c, i in cat.categories.items()},
        " (a path such as housing.property, or its name such as 住建/物业服务)",
    )


def common_options(p: argparse.ArgumentParser, config: bool = True) -> None:
    p.add_argument(
        "--database-url", help="database URL (default: $HOTLINE_DATABASE_URL or SQLite in var/)"
    )
    if config:
        p.add_argument("--config", help="config directory (default: $HOTLINE_CONFIG_DIR)")


def by_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--by", metavar="WHO", help=f"who acts (default: ${OPERATOR_ENV}, else the login name)"
    )
