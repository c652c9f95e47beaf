"""Backup and restore of a whole install: ``hotline backup`` and ``hotline restore``.

One ``.tar.gz`` holds a consistent dump of the database (SQLite through the sqlite3 backup
API, safe while the server runs; PostgreSQL through ``pg_dump``), the admin config directory,
an index of the recordings (size and sha256 of every file; the files themselves with
``--with-recordings``) and ``manifest.json`` (format version, time, database kind, Alembic
revision, every member with its size and sha256). See docs/deploy.md.

- :mod:`ivr.backup.dbdump`: the database dump and its restore;
- :mod:`ivr.backup.archive`: the archive, the config and the recordings;
- the two subcommands are :mod:`ivr.console.backup_cli`.

Every refusal is one line ``[HL-BAK-nnn] message`` on stderr with exit status 1.

Imports :mod:`ivr.db` and :mod:`ivr.errors`. Must not import the console that drives it
(``ivr.console``), the servers or the CLI, nor the call path (``ivr.engine``, ``ivr.agi``,
``queueing``): a backup runs beside the hotline, never inside a call.
"""

from __future__ import annotations

from ivr.errors import HotlineError


class BackupError(HotlineError):
    """Class default; the classes below carry the ids the messages use."""

    code = "HL-BAK-000"


class DatabaseMissing(BackupError):
    """The database is missing, unreachable, or holds no hotline schema."""

    code = "HL-BAK-001"


class ToolMissing(BackupError):
    """pg_dump or pg_restore is not installed."""

    code = "HL-BAK-002"


class ToolFailed(BackupError):
    """pg_dump or pg_restore ran and failed."""

    code = "HL-BAK-003"


class ArchiveUnreadable(BackupError):
    """The archive is missing, or not a readable tar.gz (truncated, another format)."""

    code = "HL-BAK-004"


class WrongArchive(BackupError):
    """A readable tar.gz that is not a hotline backup, or whose contents do not match its
    manifest."""

    code = "HL-BAK-005"


class TargetNotEmpty(BackupError):
    """Restore refused: it would overwrite data (use --force)."""

    code = "HL-BAK-006"


class KindMismatch(BackupError):
    """Restore refused: the archive's database kind is not the target's."""

    code = "HL-BAK-007"


class NewerArchive(BackupError):
    """Restore refused: the archive comes from a newer version of the hotline."""

    code = "HL-BAK-008"


class ServerRunning(BackupError):
    """Restore refused: the hotline server of this install is running."""

    code = "HL-BAK-009"


class FileProblem(BackupError):
    """A file could not be read or written (permissions, disk full)."""

    code = "HL-BAK-010"


__all__ = [
    "ArchiveUnreadable",
    "BackupError",
    "DatabaseMissing",
    "FileProblem",
    "KindMismatch",
    "NewerArchive",
    "ServerRunning",
    "TargetNotEmpty",
    "ToolFailed",
    "ToolMissing",
    "WrongArchive",
]
