"""Database connection and migrations.

The URL comes from ``HOTLINE_DATABASE_URL``; the default is an embedded SQLite file
``<var>/hotline.db`` in WAL mode (readers do not block the writer, and a crash loses no
committed transaction). ``postgresql://...`` URLs use psycopg 3.

Migrations are Alembic revisions shipped inside this package (``ivr/db/migrations``);
:func:`upgrade` configures Alembic programmatically, so no ``alembic.ini`` is needed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ivr.db.errors import SchemaOutOfDate

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Alembic narrates every schema look-up at INFO ("Context impl SQLiteImpl." ...): noise on
# every command. Its warnings and errors still show.
logging.getLogger("alembic").setLevel(logging.WARNING)
ENV_URL = "HOTLINE_DATABASE_URL"


def database_url(var_dir: Path) -> str:
    """``HOTLINE_DATABASE_URL``, else SQLite at ``var_dir/hotline.db``."""
    url = os.environ.get(ENV_URL)
    if url:
        return url
    return f"sqlite:///{var_dir / 'hotline.db'}"


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` select psycopg 3 (the driver we ship)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # reports read large index ranges: map the file instead of copying pages, keep more cached
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _alembic_config(engine: Engine) -> Any:
    # lazy: Alembic is slow to import and only migrations need it: the process-AGI script
    # (one process per call, on this module) and `hotline --help` never load it.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    # lazy: Alembic, as in _alembic_config.
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(
        _alembic_config(create_engine("sqlite://"))
    ).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    # lazy: Alembic, as in _alembic_config.
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Bring the schema to ``revision`` (default: the newest). Returns the revision."""
    # lazy: Alembic, as in _alembic_config.
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)
    current = current_revision(engine)
    assert current is not None
    return current


class Database:
    """An engine and a session factory. Sessions do not expire objects on commit."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed at the end, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def upgrade(self) -> str:
        return upgrade(self.engine)

    def check_schema(self) -> None:
        """Raise :class:`SchemaOutOfDate` unless the schema is at the newest revision."""
        current = current_revision(self.engine)
        head = head_revision()
        if current != head:
            raise SchemaOutOfDate(
                f"database {self.safe_url} is at revision {current or 'none'}, this program "
                f"needs {head}: run `hotline db upgrade`"
            )

    def table_names(self) -> list[str]:
        return sorted(inspect(self.engine).get_table_names())

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()
