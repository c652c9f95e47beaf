"""Fixtures: every database test runs on SQLite *and* on PostgreSQL.

PostgreSQL: ``HOTLINE_TEST_PG_URL`` (a server where the user may create databases), else a
throwaway cluster started here from the PostgreSQL server binaries (``initdb`` into a temp
directory, unix socket only, run as the ``postgres`` user when the tests run as root). The
schema is migrated once into a template database; each test gets a fresh copy of it.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ivr.tickets.catalogue import Catalogue, load_catalogue
from ivr.tickets.db import Database, normalize_url
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from tests.conftest import CONFIG_DIR, free_port

TZ = dt.timezone(dt.timedelta(hours=8))
TEMPLATE = "hotline_template"


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL server binaries not found: run ./test.sh (installs postgresql)")
    return Path(found[-1]).parent


def _as_pg_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """URL of a database (``postgres``) on a server where we may create databases."""
    given = os.environ.get("HOTLINE_TEST_PG_URL")
    if given:
        yield normalize_url(given)
        return
    bindir = _pg_bin()
    base = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    prefix = _as_pg_user()
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    opts = f"-p {port} -k {sock} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
    subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(base / "log"),
            "-o",
            opts,
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={sock}&port={port}"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


def _url_for(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _admin(admin_url: str, *statements: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> str:
    """A migrated template database; returns the admin URL."""
    _admin(pg_admin_url, f"DROP DATABASE IF EXISTS {TEMPLATE}", f"CREATE DATABASE {TEMPLATE}")
    db = Database(_url_for(pg_admin_url, TEMPLATE))
    db.upgrade()
    db.close()
    return pg_admin_url


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    _admin(pg_template, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
    yield _url_for(pg_template, name)
    _admin(pg_template, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database URL, once per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'db' / 'hotline.db'}"
        db = Database(url)
        db.upgrade()
        db.close()
        return url
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.close()


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue(CONFIG_DIR)


@pytest.fixture(scope="session")
def deadlines() -> Deadlines:
    return Deadlines(calendar_from_config(CONFIG_DIR))


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += dt.timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2025, 9, 26, 10, 0, tzinfo=TZ))  # Friday before National Day


@pytest.fixture
def service(
    db: Database, catalogue: Catalogue, deadlines: Deadlines, clock: Clock
) -> TicketService:
    return TicketService(db, catalogue, deadlines, clock)
