"""Every route of the OpenAPI document, fuzzed: bodies drawn from the route's own schema
(:func:`from_schema`, enough JSON Schema for pydantic's: hypothesis-jsonschema 0.23 does not
run on this hypothesis) and from arbitrary JSON, path parameters from arbitrary text, sent by
an admin's session (with its CSRF token) to the app with every part, on a real Redis and
SQLite. Whatever comes in, the answer is never a 5xx, and a refusal is the JSON error shape
with its id."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.accounts import Accounts
from ivr.config.catalogue import load_catalogue
from ivr.config.queue_models import QueueSettings
from ivr.db.database import Database
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.web import create_app
from ivr.web.app import routes
from ivr.web.appkeys import WebSecurity
from queueing.queue import RedisQueue
from tests.conftest import CONFIG_DIR, free_port
from tests.web.conftest import AGENTS, PASSWORD
from tests.web.every_part import all_parts

# WebSockets; the end of the fuzzer's own session
SKIP = {("GET", "/api/desk/socket"), ("GET", "/api/wallboard/socket"), ("POST", "/api/logout")}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)


def from_schema(schema: dict[str, Any], components: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of ``schema`` (pydantic's JSON Schema: objects, strings with lengths and
    patterns left out, numbers with bounds, enums, anyOf), near and across its limits."""
    if "$ref" in schema:
        return from_schema(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if "anyOf" in schema:
        return st.one_of([from_schema(s, components) for s in schema["anyOf"]])
    if "enum" in schema or "const" in schema:
        return st.sampled_from(schema.get("enum") or [schema["const"]])
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v, components) for k, v in props.items() if k in required},
            optional={k: from_schema(v, components) for k, v in props.items() if k not in required},
        )
    if kind == "string":
        top = schema.get("maxLength", 50)
        return st.text(min_size=0, max_size=top + 2)
    if kind == "integer":
        low, high = schema.get("minimum", -(2**40)), schema.get("maximum", 2**40)
        return st.integers(low - 2, high + 2)
    if kind == "number":
        return st.floats(allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return JSON


class Server:
    """The app in a thread of its own (its own event loop), for a synchronous fuzzer."""

    def __init__(self, redis_url: str, tmp: Path) -> None:
        self.redis_url, self.tmp, self.port = redis_url, tmp, free_port()
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.main(),))

    async def main(self) -> None:
        from aiohttp import web

        db = Database(f"sqlite:///{self.tmp / 'fuzz.db'}")
        db.upgrade()
        accounts = Accounts(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
        accounts.add_user("admin", PASSWORD, "admin", actor="fuzz")
        service = TicketService(
            db, load_catalogue(CONFIG_DIR), Deadlines(calendar_from_config(CONFIG_DIR))
        )
        ticket = service.accept(caller="13900000000", type="consult", category="housing",
                                actor="fuzz", content="x")  # fmt: skip
        service.act(ticket.number, "dispatch", actor="fuzz", department="property")
        self.number = ticket.number  # the portal's actions find it
        queue = RedisQueue.from_url(self.redis_url.rsplit("/", 1)[0] + "/11", QueueSettings())
        await queue.client.flushdb()
        config = self.tmp / "config"
        shutil.copytree(CONFIG_DIR, config)
        app = create_app(queue, AGENTS, accounts, db, parts=all_parts(service, queue, db, config))
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self.stop = asyncio.Event()
        self.ready.set()
        await self.stop.wait()
        await runner.cleanup()
        await queue.close()
        db.close()

    def __enter__(self) -> Server:
        self.thread.start()
        assert self.ready.wait(30), "the app did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.stop is not None
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)


class Browser:
    """An admin's session: its cookie, and its CSRF token on every request."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        me = self.send("POST", "/api/login", {"username": "admin", "password": PASSWORD})[1]
        self.csrf = me["csrf_token"]

    def send(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if method == "GET" else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if getattr(self, "csrf", None):
            req.add_header("X-CSRF-Token", self.csrf)
        try:
            with self.opener.open(req, timeout=30) as r:
                raw, status = r.read(), r.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def browser(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with Server(redis_url, tmp_path_factory.mktemp("fuzz")) as server:
        b = Browser(server.port)
        b.number = server.number  # type: ignore[attr-defined]
        yield b


TABLE = [
    (r.method, r.path)
    for r in [*routes(WebSecurity()), *(r for p in all_parts(None) for r in p.routes)]
    if (r.method, r.path) not in SKIP
]


def test_the_fuzzed_table_is_the_documented_one(browser: Browser) -> None:
    doc = browser.send("GET", "/api/openapi.json")[1]
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented - SKIP == set(TABLE)


@pytest.mark.parametrize(("method", "path"), TABLE, ids=[f"{m} {p}" for m, p in TABLE])
def test_no_route_answers_5xx(browser: Browser, method: str, path: str) -> None:
    doc = browser.send("GET", "/api/openapi.json")[1]
    op = doc["paths"][path][method.lower()]
    bodies: st.SearchStrategy[Any] = JSON
    if "requestBody" in op:
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        bodies = from_schema({"$ref": ref}, doc["components"]["schemas"]) | JSON
    known = st.sampled_from(["1001", "1002", browser.number, "1", "../x", "%00"])  # type: ignore[attr-defined]
    params = st.one_of(known, st.text(min_size=1, max_size=20))

    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(body=bodies, param=params, department=st.sampled_from(["property", "water", "x"]))
    def one(body: Any, param: str, department: str) -> None:
        url = path
        for name in ("agent_id", "number", "task_id", "entry_id", "username", "kind", "label",
                     "file", "uniqueid"):  # fmt: skip
            url = url.replace("{" + name + "}", urllib.parse.quote(param, safe=""))
        query = {"department": department}  # the portal's, for an admin
        if method == "GET":
            query.update(limit=param, state=param, kind=param)
        url += "?" + urllib.parse.urlencode(query)
        status, answer = browser.send(method, url, body)
        assert status < 500, (method, url, body, status, answer)
        if status >= 400:
            assert isinstance(answer, dict) and answer.get("error_id", "").startswith("HL-"), (
                method, url, body, status, answer,
            )  # fmt: skip

    one()
