"""The staff HTTP API on a real Redis (the queue) and a real SQLite database (accounts,
sessions, audit), with one account of each role."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientSession, CookieJar
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from ivr.accounts import Accounts
from ivr.config.queue_models import AgentsFile
from ivr.db.database import Database
from ivr.web import create_app
from ivr.web.appkeys import WebSecurity
from ivr.web.routing import WebPart
from queueing.queue import RedisQueue
from tests.queueing.conftest import agent, clock, rq  # noqa: F401 (fixtures)

AGENTS = AgentsFile(agents=[agent("1001", general=5), agent("1002", general=3, tax=8)])
PASSWORD = "correct horse battery"
# user name -> (role, agent id, department)
USERS = {
    "op1001": ("operator", "1001", None),
    "op1002": ("operator", "1002", None),
    "super": ("supervisor", None, None),
    "dept": ("department", None, "D01"),
    "admin": ("admin", None, None),
}


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'web.db'}")
    db.upgrade()
    return db


@pytest.fixture
def accounts(database: Database) -> Accounts:
    # argon2 at its cheapest: these tests are about who may do what, not the hash's cost
    # (tests/test_accounts.py logs in with the shipped parameters)
    accounts = Accounts(
        database, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    for name, (role, agent_id, dept) in USERS.items():
        accounts.add_user(name, PASSWORD, role, agent_id=agent_id, department=dept, actor="test")
    return accounts


class Desk:
    """A browser's session of its own (its own cookie jar) on the test server: the CSRF token
    of its login is sent on every POST, as the desk's script does."""

    def __init__(self, http: TestClient) -> None:  # type: ignore[type-arg]
        self.base = str(http.make_url("")).rstrip("/")
        self.session = ClientSession(cookie_jar=CookieJar(unsafe=True))
        self.csrf = ""

    async def login(self, username: str, password: str = PASSWORD) -> ClientResponse:
        body = {"username": username, "password": password}
        r = await self.session.post(self.base + "/api/login", json=body)
        if r.status == 200:
            self.csrf = (await r.json())["csrf_token"]
        return r

    async def post(self, path: str, body: Any = None, *, csrf: bool = True) -> ClientResponse:
        headers = {"X-CSRF-Token": self.csrf} if csrf and self.csrf else {}
        return await self.session.post(self.base + path, json=body, headers=headers)

    async def get(self, path: str, **kw: Any) -> ClientResponse:
        return await self.session.get(self.base + path, **kw)

    async def close(self) -> None:
        await self.session.close()


async def open_client(
    queue: RedisQueue,
    accounts: Accounts,
    database: Database,
    security: WebSecurity | None = None,
    parts: Sequence[WebPart] = (),
) -> TestClient:  # type: ignore[type-arg]
    app = create_app(queue, AGENTS, accounts, database, security, parts=parts)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def http(
    rq: RedisQueue,  # noqa: F811
    accounts: Accounts,
    database: Database,
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    client = await open_client(rq, accounts, database)
    yield client
    await client.close()


async def logged_in(
    http: TestClient,  # type: ignore[type-arg]
    extra: Sequence[str] = (),
) -> dict[str, Desk]:
    """A logged-in browser session per account of :data:`USERS` and ``extra`` (accounts the
    test added, with :data:`PASSWORD`), and ``anonymous``."""
    out = {name: Desk(http) for name in [*USERS, *extra, "anonymous"]}
    for name in [*USERS, *extra]:
        assert (await out[name].login(name)).status == 200
    return out


@contextlib.asynccontextmanager
async def desks_on(
    queue: RedisQueue,
    accounts: Accounts,
    database: Database,
    parts: Sequence[WebPart],
    extra: Sequence[str] = (),
) -> AsyncIterator[dict[str, Desk]]:
    """An app with ``parts`` and a logged-in session per account (see :func:`logged_in`)."""
    http = await open_client(queue, accounts, database, parts=parts)
    out = await logged_in(http, extra)
    try:
        yield out
    finally:
        for d in out.values():
            await d.close()
        await http.close()


@pytest.fixture
async def desks(http: TestClient) -> AsyncIterator[dict[str, Desk]]:  # type: ignore[type-arg]
    """A logged-in browser session per account of :data:`USERS`, and ``anonymous``."""
    out = await logged_in(http)
    yield out
    for d in out.values():
        await d.close()
