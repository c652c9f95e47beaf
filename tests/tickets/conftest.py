"""Fixtures: every database test runs on SQLite *and* on PostgreSQL.

PostgreSQL: ``HOTLINE_TEST_PG_URL`` (a server where the user may create databases), else a
throwaway cluster (:mod:`ivr.devtools.pgtemp`: ``initdb`` into a temp directory, unix socket
only, run as the ``postgres`` user when the tests run as root). The
schema is migrated once into a template database; each test gets a fresh copy of it.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.config.catalogue import Catalogue, load_catalogue
from ivr.db.database import Database, normalize_url
from ivr.devtools.pgtemp import NoPostgres, admin, pg_bindir, throwaway_postgres, url_for
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from tests.conftest import CONFIG_DIR

TZ = dt.timezone(dt.timedelta(hours=8))
TEMPLATE = "hotline_template"


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """URL of a database (``postgres``) on a server where we may create databases."""
    given = os.environ.get("HOTLINE_TEST_PG_URL")
    if given:
        yield normalize_url(given)
        return
    try:
        pg_bindir()
    except NoPostgres as exc:
        pytest.fail(f"{exc}: run ./test.sh (installs postgresql)")
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> str:
    """A migrated template database; returns the admin URL."""
    admin(pg_admin_url, f"DROP DATABASE IF EXISTS {TEMPLATE}", f"CREATE DATABASE {TEMPLATE}")
    db = Database(url_for(pg_admin_url, TEMPLATE))
    db.upgrade()
    db.close()
    return pg_admin_url


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin(pg_template, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
    yield url_for(pg_template, name)
    admin(pg_template, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


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
def demo_catalogue() -> Catalogue:
    """Seed 004's (Siping) catalogue, which ``hotline seed-demo`` uses."""
    from ivr.devtools.seed004 import DEMO_CONFIG_DIR

    return load_catalogue(DEMO_CONFIG_DIR)


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
