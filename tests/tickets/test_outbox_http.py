"""The outbox over HTTP, against real local aiohttp servers: a platform's webhook that checks
the HMAC-SHA256 signature with the source's secret, one that fails and then recovers, a slow
one (the send gives up at the timeout and is retried), a hostile one (megabytes of error page,
a redirect); a provider's SMS API configured by URL, headers from the environment and a body
template. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from ivr.config.catalogue_sources import ReplyModel, SourceModel
from ivr.config.notify_models import Delivery
from tests.tickets.outbox_helpers import Setup, notify, setup_fixture  # noqa: F401

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SECRET = "s3cret-of-the-platform"


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()


def webhook_source(setup: Setup, url: str, secret: str | None = SECRET) -> None:
    setup.sources["people_leaders"] = SourceModel(
        name="人民网领导留言板", reply=ReplyModel(webhook=url, secret=secret)
    )


def forwarded_and_finished(setup: Setup, external_id: str = "RMW-9") -> str:
    number = setup.accept(source="people_leaders", external_id=external_id)
    setup.finish(number, reply="已修复路灯")
    return number


async def test_a_signed_webhook_verified_by_the_platform(setup: Setup) -> None:
    got: list[dict[str, Any]] = []

    async def platform(request: web.Request) -> web.Response:
        body = await request.read()
        stamp = request.headers["X-Hotline-Timestamp"]
        mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        if request.headers["X-Hotline-Signature"] != "sha256=" + mac.hexdigest():
            return web.Response(status=401, text="bad signature")
        assert abs(int(stamp) - time.time()) < 60
        got.append({"key": request.headers["X-Hotline-Key"], **json.loads(body)})
        return web.Response(status=204)

    async with serving(platform) as url:
        webhook_source(setup, url)
        number = forwarded_and_finished(setup)
        assert await setup.loop().run_once() == 1
    assert got == [{
        "key": f"{number}:finished:0", "source": "people_leaders", "external_id": "RMW-9",
        "ticket_number": number, "state": "finished", "reply": "已修复路灯",
        "department": setup.service.get(number).department, "redo": 0,
        "finished_at": got[0]["finished_at"],
    }]  # fmt: skip
    assert setup.rows()[0].state == "sent"


async def test_a_wrong_secret_is_refused_and_retried(setup: Setup) -> None:
    async def platform(request: web.Request) -> web.Response:
        body = await request.read()
        stamp = request.headers.get("X-Hotline-Timestamp", "")
        mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        ok = request.headers.get("X-Hotline-Signature") == "sha256=" + mac.hexdigest()
        return web.Response(status=200 if ok else 401, text="" if ok else "bad signature")

    async with serving(platform) as url:
        webhook_source(setup, url, secret="not-the-platform's")
        forwarded_and_finished(setup)
        await setup.loop().run_once()
    (row,) = setup.rows()
    assert row.state == "pending" and "answered HTTP 401: bad signature" in row.error


async def test_a_platform_that_fails_then_recovers(setup: Setup) -> None:
    answers = [503, 500, 200]
    seen: list[str] = []

    async def platform(request: web.Request) -> web.Response:
        seen.append(request.headers["X-Hotline-Key"])
        return web.Response(status=answers[len(seen) - 1], text="busy")

    async with serving(platform) as url:
        webhook_source(setup, url)
        forwarded_and_finished(setup)
        loop = setup.loop()
        for wait in (0, 10, 15):  # the backoff of notify(): 10 s, then 15 s (the cap)
            setup.clock.advance(seconds=wait)
            assert await loop.run_once() == 1
    (row,) = setup.rows()
    assert (row.state, row.attempts, len(seen), len(set(seen))) == ("sent", 3, 3, 1)


async def test_a_slow_platform_times_out_and_a_hostile_one_is_cut_short(setup: Setup) -> None:
    setup.config = setup.config.model_copy(
        update={"delivery": Delivery(timeout_seconds=0.5, max_attempts=5)}
    )

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(status=200)

    async with serving(slow) as url:
        webhook_source(setup, url)
        forwarded_and_finished(setup)
        started = time.monotonic()
        assert await setup.loop().run_once() == 1
        assert time.monotonic() - started < 5
    (row,) = setup.rows()
    assert row.state == "pending" and "did not answer within 0.5 s" in row.error

    async def hostile(request: web.Request) -> web.Response:
        if request.path == "/hook":
            return web.Response(status=302, headers={"Location": "/elsewhere"})
        return web.Response(status=200)

    async def flood(request: web.Request) -> web.Response:
        return web.Response(status=500, body=b"x" * 5_000_000)

    for handler, expected in ((hostile, "HTTP 302"), (flood, "HTTP 500: xxx")):
        async with serving(handler) as url:
            webhook_source(setup, url)
            setup.clock.advance(hours=2)
            assert await setup.loop().run_once() == 1
        (row,) = setup.rows()
        assert row.state == "pending" and expected in row.error and len(row.error) < 500


async def test_a_providers_sms_api_by_configuration(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_SMS_TOKEN", "tok-123")
    got: list[tuple[str, dict[str, Any]]] = []

    async def provider(request: web.Request) -> web.Response:
        got.append((request.headers["Authorization"], await request.json()))
        return web.json_response({"code": 0})

    async with serving(provider) as url:
        http = {
            "url": url,
            "headers": {"Authorization": "env:HOTLINE_SMS_TOKEN"},
            "body": {"mobile": "{to}", "content": "{text}", "sign": "12345热线", "n": 1},
        }
        setup.config = notify(gateway="http", http=http)
        number = setup.accept(caller="+8613900000007")
        assert await setup.loop().run_once() == 1
    ((auth, body),) = got
    assert auth == "tok-123"
    assert body["mobile"] == "13900000007" and body["sign"] == "12345热线" and body["n"] == 1
    assert body["content"].startswith(f"【12345热线】您的诉求已受理，工单号{number}。")
    assert setup.rows()[0].state == "sent"
    monkeypatch.delenv("HOTLINE_SMS_TOKEN")
    setup.accept(caller="13900000008")
    await setup.loop().run_once()
    assert setup.rows()[1].state == "failed"  # nowhere to send: given up at once
    assert "HOTLINE_SMS_TOKEN is not set" in setup.rows()[1].error
