"""``/api/wallboard`` and its WebSocket ``/api/wallboard/socket``: the supervisor's
wallboard (:mod:`ivr.web.wallboard` says what it shows and how each figure is defined).

The hub sends the board to every connected wallboard about once a second, and at once when
the queue publishes a notice (an offer, an answer, an agent's change: the desks' hub pokes it),
at most ``min_gap`` seconds apart, so that a burst of events costs one board. Nothing is built
while no wallboard is connected."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from aiohttp import WSMsgType, web

from ivr.web.errors import ApiError, need_websocket
from ivr.web.routing import SUPERVISION, ApiRoute, WebPart
from ivr.web.wallboard import Wallboard
from queueing.stopping import stop_task

log = logging.getLogger(__name__)

HUB_KEY: web.AppKey[WallboardHub] = web.AppKey("wallboard")


class WallboardHub:
    def __init__(self, board: Wallboard, *, every: float = 1.0, min_gap: float = 0.2) -> None:
        self.board = board
        self.every, self.min_gap = every, min_gap
        self.sockets: set[web.WebSocketResponse] = set()
        self._poked = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0  # boards sent (for the benchmark)

    def poke(self, *_: object) -> None:
        """Something changed: send a board soon (a notice listener of the desks' hub)."""
        self._poked.set()

    async def start(self, app: web.Application | None = None) -> None:
        self._task = asyncio.create_task(self._run(), name="wallboard")

    async def stop(self, app: web.Application | None = None) -> None:
        await stop_task(self._task)
        for ws in list(self.sockets):
            await ws.close(code=1001, message=b"server stopping")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poked.wait(), self.every)
            self._poked.clear()
            if self.sockets:
                try:
                    text = json.dumps(await self.board.board(), ensure_ascii=False)
                except Exception as exc:  # Redis away: the boards keep their last picture
                    log.warning("[HL-WEB-015] wallboard not built: %s", exc)
                    text = json.dumps({"type": "problem", "message": str(exc)[:200]})
                for ws in list(self.sockets):
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await ws.send_str(text)
                self.sent += 1
            await asyncio.sleep(self.min_gap)

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        self.sockets.add(ws)
        self.poke()  # the new board gets a picture at once
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.sockets.discard(ws)
        return ws


def _hub(request: web.Request) -> WallboardHub:
    hub = request.app.get(HUB_KEY)
    if hub is None:
        raise ApiError(503, "HL-WEB-009", "the wallboard is not running on this server")
    return hub


async def board_json(request: web.Request) -> web.Response:
    return web.json_response(await _hub(request).board.board())


async def board_socket(request: web.Request) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise ApiError(403, "HL-WEB-005", "a wallboard socket opens only from this server's pages")
    hub = _hub(request)
    need_websocket(request)
    return await hub.serve(request)


def wallboard_part(hub: WallboardHub) -> WebPart:
    def install(app: web.Application) -> None:
        app[HUB_KEY] = hub
        app.on_startup.append(hub.start)
        app.on_cleanup.append(hub.stop)

    return WebPart(
        routes=(
            ApiRoute(
                "GET",
                "/api/wallboard",
                board_json,
                SUPERVISION,
                "the wallboard now (definitions: docs/wallboard.md)",
                response_schema={"type": "object"},
            ),
            ApiRoute(
                "GET",
                "/api/wallboard/socket",
                board_socket,
                SUPERVISION,
                "the wallboard pushed live (a WebSocket: a board about once a second and at "
                "once on every queue event)",
                response_schema={"type": "string", "description": "JSON boards, one per frame"},
            ),
        ),
        install=install,
    )
