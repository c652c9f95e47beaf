"""The citizens' app on a real Redis and a real database (SQLite and PostgreSQL), and a
browser-like client of it: its own cookie jar, the page's Origin, the form token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import ClientResponse, ClientSession, CookieJar
from aiohttp.test_utils import TestClient, TestServer

from ivr.citizen.citizen_app import CitizenOptions, create_citizen_app
from ivr.citizen.limits import RateLimiter
from ivr.tickets.service import TicketService
from queueing.queue import RedisQueue

REQUEST = {
    "phone": "138 0013 8000",
    "name": "张三",
    "type": "help",
    "category": "utilities",
    "address": "新城区海拉尔东街 12 号",
    "content": "小区停水两天了，没有任何通知。",
    "confidential": False,
}


class Citizen:
    """A browser on the citizens' pages: it loads the form (cookie and token), then posts
    JSON with its page's Origin, as citizen.js does."""

    def __init__(self, http: TestClient, headers: dict[str, str] | None = None) -> None:  # type: ignore[type-arg]
        self.base = str(http.make_url("")).rstrip("/")
        self.session = ClientSession(cookie_jar=CookieJar(unsafe=True))
        self.token = ""
        self.headers = headers or {}

    async def form(self) -> dict[str, Any]:
        r = await self.session.get(self.base + "/api/citizen/form")
        assert r.status == 200, await r.text()
        body: dict[str, Any] = await r.json()
        self.token = body["form_token"]
        return body

    async def post(
        self, path: str, body: Any, headers: dict[str, str] | None = None
    ) -> ClientResponse:
        sent = {"Origin": self.base, "X-Form-Token": self.token, **self.headers}
        sent.update(headers or {})
        return await self.session.post(self.base + path, json=body, headers=sent)

    async def submit(self, **changes: Any) -> ClientResponse:
        return await self.post("/api/citizen/requests", {**REQUEST, **changes})

    async def lookup(self, number: str, phone: str, **headers: str) -> ClientResponse:
        return await self.post("/api/citizen/lookup", {"number": number, "phone": phone}, headers)

    async def close(self) -> None:
        await self.session.close()


async def citizen_client(
    service: Callable[[], TicketService | None],
    queue: RedisQueue,
    options: CitizenOptions | None = None,
) -> TestClient:  # type: ignore[type-arg]
    app = create_citizen_app(service, RateLimiter(queue.client, queue.centre), options)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client
