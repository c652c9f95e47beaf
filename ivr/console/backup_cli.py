"""``hotline backup`` and ``hotline restore``, registered by :mod:`ivr.cli`.

- ``hotline backup [--out FILE|DIR] [--with-recordings]``: one archive of this install
  (default ``var/backups/hotline-YYYYmmdd-HHMMSS.tar.gz``);
- ``hotline restore FILE [--force]``: bring it back on a fresh install, then migrate.

Both take ``--database-url`` and ``--config`` like the ticket commands; the recordings and
var directories come from ``HOTLINE_RECORDINGS_DIR`` / ``HOTLINE_VAR_DIR``. The archive's
name, its ``created`` time (ISO 8601 with the offset) and the ``pre-restore-`` names of what a
restore keeps aside are in the centre's zone (``hours.yaml`` ``timezone``, 北京时间).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from ivr.console.cli_common import run
from ivr.db.database import database_url
from ivr.settings import Settings
from ivr.tickets.deadlines import calendar_from_config


def _install(args: argparse.Namespace, settings: Settings) -> Any:
    # lazy: the backup package (tarfile, gzip, sqlite3, the dump) loads for `hotline backup`
    # and `restore` only; `hotline --help` and every other command stay without it.
    from ivr.backup.archive import Install

    return Install(
        database_url=args.database_url or database_url(settings.var_dir),
        config_dir=Path(args.config) if args.config else settings.config_dir,
        recordings_dir=settings.recordings_dir,
        var_dir=settings.var_dir,
        pidfile=settings.pidfile,
    )


def _centre_now(config_dir: Path) -> dt.datetime:
    """Now in the centre's zone (``hours.yaml`` ``timezone``; Beijing time when the config
    cannot be read, e.g. on the fresh install a restore fills)."""
    try:
        zone: dt.tzinfo = calendar_from_config(config_dir).tz
    except (OSError, ValueError, KeyError, yaml.YAMLError):
        zone = ZoneInfo("Asia/Shanghai")
    return dt.datetime.now(zone)


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: the backup package, as in _install.
    from ivr.backup.archive import create_backup, default_name, size_text

    install = _install(args, settings)
    now = _centre_now(install.config_dir)
    out = Path(args.out) if args.out else settings.var_dir / "backups"
    if out.is_dir() or not args.out:
        out = out / default_name(now)
    result = create_backup(install, out, with_recordings=args.with_recordings, now=now)
    m = result.manifest
    db, rec = m["database"], m["recordings"]
    kept = "the files included" if rec["included"] else "index only (--with-recordings adds them)"
    print(f"wrote {result.path} ({size_text(result.path.stat().st_size)})")
    print(f"  database  {db['kind']} {db['source']}, schema revision {db['revision']}")
    print(f"  config    {m['config']['files']} file(s) from {m['config']['source']}")
    print(
        f"  recordings {rec['files']} file(s), {size_text(rec['bytes'])} in {rec['source']}: {kept}"
    )
    for note in result.notes:
        print(note, file=sys.stderr)
    print("It holds citizens' data: keep it off this machine, readable by the hotline staff only.")
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    # lazy: the backup package, as in _install.
    from ivr.backup.restore import restore_backup

    install = _install(args, settings)
    now = _centre_now(install.config_dir)
    for line in restore_backup(Path(args.archive), install, force=args.force, now=now):
        print(line)
    print("restore done: start the hotline (systemctl start hotline, or ./run.sh)")
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``backup`` and ``restore``. Each sets ``func(args, settings) -> int``."""

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--database-url", help="database URL (default: $HOTLINE_DATABASE_URL or SQLite in var/)"
        )
        p.add_argument("--config", help="config directory (default: $HOTLINE_CONFIG_DIR)")

    p = sub.add_parser(
        "backup",
        help="write one archive: a consistent database dump, the config, the recordings "
        "index (or the files)",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="the archive, or a directory for it (default: var/backups/hotline-DATE.tar.gz)",
    )
    p.add_argument(
        "--with-recordings",
        action="store_true",
        help="put the recordings themselves in the archive, not only their index",
    )
    common(p)
    p.set_defaults(func=run(cmd_backup))

    p = sub.add_parser(
        "restore",
        help="bring a backup back on a fresh install (database, config, recordings), then "
        "migrate the database",
    )
    p.add_argument("archive", help="the .tar.gz written by `hotline backup`")
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite a database that holds data and a config that differs (the old SQLite "
        "database and config are kept aside; PostgreSQL tables are dropped)",
    )
    common(p)
    p.set_defaults(func=run(cmd_restore))
