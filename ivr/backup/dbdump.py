"""The database part of a backup: dump it, tell whether a target holds data, restore it.

SQLite: the sqlite3 online backup API copies a consistent snapshot while the server writes
(WAL); the copy is one self-contained file (journal mode DELETE). PostgreSQL: ``pg_dump
--format=custom`` and ``pg_restore``, found on ``PATH`` or under
``/usr/lib/postgresql/*/bin``; the password goes through ``PGPASSWORD``, never the command
line.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from ivr.backup import DatabaseMissing, ToolFailed, ToolMissing
from ivr.db.database import Database, normalize_url
from ivr.db.knowledge_tables import is_search_index_table

SQLITE_MEMBER = "database/hotline.db"
PG_MEMBER = "database/hotline.pgdump"
#: where Debian's PostgreSQL packages put the client programs of each major version
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
#: the Alembic bookkeeping table: present in an empty, migrated database
VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class Dump:
    kind: str  # "sqlite" or "postgresql"
    path: Path  # the dump file
    member: str  # its name in the archive
    revision: str


def kind_of(url: str) -> str:
    backend = make_url(normalize_url(url)).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseMissing(f"database URL {safe(url)}: only SQLite and PostgreSQL are supported")
    return backend


def safe(url: str) -> str:
    return make_url(normalize_url(url)).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path:
    database = make_url(normalize_url(url)).database
    if not database or database == ":memory:":
        raise DatabaseMissing(f"database URL {url}: a backup needs a SQLite file, not memory")
    return Path(database)


# ----------------------------------------------------------------------------- dump


def dump_database(url: str, workdir: Path) -> Dump:
    """A consistent dump of the database at ``url`` into ``workdir``."""
    if kind_of(url) == "sqlite":
        out = workdir / "hotline.db"
        return Dump("sqlite", out, SQLITE_MEMBER, _dump_sqlite(sqlite_path(url), out))
    out = workdir / "hotline.pgdump"
    find_pg_tool("pg_dump")  # before anything else: a missing tool is the first thing to fix
    revision = _pg_revision(url)
    _run_tool("pg_dump", url, ["--format=custom", "--no-owner", "--no-privileges", "-f", str(out)])
    return Dump("postgresql", out, PG_MEMBER, revision)


def _dump_sqlite(path: Path, out: Path) -> str:
    if not path.is_file():
        raise DatabaseMissing(
            f"database file {path} does not exist: nothing to back up (check "
            "HOTLINE_DATABASE_URL / HOTLINE_VAR_DIR, or --database-url)"
        )
    try:
        src = sqlite3.connect(path, timeout=30)
        try:
            dst = sqlite3.connect(out)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                row = _sqlite_revision(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise DatabaseMissing(f"database file {path} cannot be read as SQLite ({exc})") from exc
    if row is None:
        raise DatabaseMissing(
            f"database file {path} holds no hotline schema (no {VERSION_TABLE} table): "
            "is it the hotline's database?"
        )
    return row


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    except sqlite3.OperationalError:
        return None
    return str(row[0]) if row else None


def _pg_revision(url: str) -> str:
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            if VERSION_TABLE not in inspect(conn).get_table_names():
                raise DatabaseMissing(
                    f"database {db.safe_url} holds no hotline schema (no {VERSION_TABLE} "
                    "table): is it the hotline's database?"
                )
            revision = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    except SQLAlchemyError as exc:
        raise DatabaseMissing(_unreachable(db.safe_url, exc)) from exc
    finally:
        db.close()
    if revision is None:
        raise DatabaseMissing(f"database {db.safe_url} has no schema revision: not migrated")
    return str(revision)


def _unreachable(where: str, exc: SQLAlchemyError) -> str:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    hint = ""
    if "does not exist" in reason:
        hint = "; create it first (createdb -O USER NAME)"
    return f"database {where} is unreachable ({reason}){hint}"


# ----------------------------------------------------------------------------- tools


def find_pg_tool(name: str) -> Path:
    """``name`` on ``PATH``, else the newest ``/usr/lib/postgresql/<v>/bin/<name>``."""
    found = shutil.which(name)
    if found:
        return Path(found)

    def version(p: str) -> int:
        part = Path(p).parts[-3]
        return int(part) if part.isdigit() else 0

    candidates = sorted(glob.glob(os.path.join(PG_BIN_GLOB, name)), key=version)
    if candidates:
        return Path(candidates[-1])
    raise ToolMissing(
        f"{name} not found on PATH nor under {PG_BIN_GLOB}: install the PostgreSQL client "
        "(apt-get install postgresql-client), then run the command again"
    )


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """The libpq connection string of ``url`` (no password) and the environment with
    ``PGPASSWORD`` when the URL has one."""
    # lazy: psycopg (slow to import) is for PostgreSQL installs; a SQLite backup and
    # restore never load it.
    from psycopg.conninfo import make_conninfo

    parsed: URL = make_url(normalize_url(url))
    params: dict[str, str] = {}
    for key, value in parsed.query.items():
        params[key] = value if isinstance(value, str) else value[-1]
    if parsed.host:
        params["host"] = parsed.host
    if parsed.port:
        params["port"] = str(parsed.port)
    if parsed.username:
        params["user"] = parsed.username
    if parsed.database:
        params["dbname"] = parsed.database
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return make_conninfo(**params), env


def _run_tool(name: str, url: str, args: list[str]) -> None:
    tool = find_pg_tool(name)
    conninfo, env = libpq_target(url)
    try:
        proc = subprocess.run(
            [str(tool), *args, "-d", conninfo], env=env, capture_output=True, text=True
        )
    except OSError as exc:
        raise ToolMissing(f"{tool} cannot be run ({exc})") from exc
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        tail = " | ".join(lines[-3:]) or f"exit status {proc.returncode}"
        raise ToolFailed(f"{name} failed on database {safe(url)}: {tail}")


# ----------------------------------------------------------------------------- restore


def tables_with_rows(url: str) -> list[str] | None:
    """The tables of the database at ``url`` that hold rows (the Alembic table and the
    knowledge base's FTS5 tables aside: FTS5 writes its own bookkeeping rows):
    ``[]`` for an empty or only migrated database, ``None`` when there is no database yet
    (a SQLite file that does not exist)."""
    if kind_of(url) == "sqlite" and not sqlite_path(url).exists():
        return None
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            names = [
                n
                for n in inspect(conn).get_table_names()
                if n != VERSION_TABLE and not is_search_index_table(n)
            ]
            prep = db.engine.dialect.identifier_preparer
            return [
                name
                for name in sorted(names)
                if conn.execute(text(f"SELECT 1 FROM {prep.quote(name)} LIMIT 1")).first()
            ]
    except SQLAlchemyError as exc:
        raise DatabaseMissing(_unreachable(db.safe_url, exc)) from exc
    finally:
        db.close()


def restore_database(dump_kind: str, dump: Path, url: str, aside: Path | None) -> str:
    """Put the dump in place of the database at ``url``; returns what was done. A SQLite
    database that held data is first copied to ``aside``; PostgreSQL tables are dropped."""
    if dump_kind == "sqlite":
        return _restore_sqlite(dump, sqlite_path(url), aside)
    find_pg_tool("pg_restore")
    _drop_all(url)
    try:
        _run_tool(
            "pg_restore",
            url,
            ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", str(dump)],
        )
    except ToolFailed as exc:
        raise ToolFailed(
            f"{exc.message} (its tables were dropped first: the database is empty now; fix "
            "the cause and run the restore again)"
        ) from exc
    return f"database {safe(url)}: restored with pg_restore"


def _restore_sqlite(dump: Path, target: Path, aside: Path | None) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    kept = ""
    if aside is not None and target.exists():
        # the old database with its WAL, as one file: nothing committed is lost
        src = sqlite3.connect(target, timeout=30)
        try:
            dst = sqlite3.connect(aside)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        kept = f" (the database it replaced is kept as {aside})"
    # a WAL left next to the new file would be applied to it: remove it first
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{target}{suffix}").unlink()
    staged = target.with_name(target.name + ".restoring")
    shutil.copyfile(dump, staged)
    os.replace(staged, target)
    return f"database {target}: restored (SQLite){kept}"


def _drop_all(url: str) -> None:
    db = Database(url)
    try:
        meta = MetaData()
        meta.reflect(db.engine)
        meta.drop_all(db.engine)
    except SQLAlchemyError as exc:
        raise DatabaseMissing(_unreachable(db.safe_url, exc)) from exc
    finally:
        db.close()
