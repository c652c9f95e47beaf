"""``GET /api/desk/socket``: the desk's live channel (a WebSocket), and the process's hub of
them.

The queue publishes its notices on Redis (:mod:`queueing.notices`); one
:class:`~queueing.notices.NoticeSubscriber` per server hands them to :class:`DeskHub`, which
sends each to the desks of that agent connected to this server, so a browser gets them
whichever server it is connected to. Messages, JSON:

- ``hello``: on connect (and again after this server lost Redis for a while): the agent's
  state, the queue's ``wrapup_seconds``, ``heartbeat_seconds`` and ``pause_reasons`` (code:
  label, from queue.yaml), and ``offer``: the
  screen-pop of the call the agent is offered or talking to now, or null. A desk that
  reconnects, or a second tab, shows the current offer this way;
- ``offer``: the screen-pop (:class:`~ivr.web.screenpop.ScreenPop`) and the agent's state,
  the moment the queue offers the agent a call (ringing, before the answer);
- ``offer-ended`` (``uniqueid``, ``reason``: noanswer, abandon ...), ``connected``
  (``uniqueid``), ``agent`` (the agent's state, after every change).

An operator's socket is its own agent's; a supervisor or admin names one with ``?agent=ID``.
A browser's socket must come from a page of this server (its ``Origin``): another site
cannot open one with the operator's cookie.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from ivr.web.agent_routes import agent_json
from ivr.web.appkeys import AGENTS_KEY, principal_of
from ivr.web.errors import CSRF, FORBIDDEN, ApiError, need_websocket
from ivr.web.screenpop import ScreenPops
from queueing.notices import Notice, NoticeSubscriber
from queueing.queue import RedisQueue
from queueing.stopping import stop_task

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 20.0  # WebSocket pings: a vanished browser is noticed within 2 of them


class DeskHub:
    """The desks connected to this server, by agent id, and the notices sent to them. Each
    agent's messages go out in the order the queue published them (one lock per agent: a
    screen-pop being built does not let the agent's next notice overtake it)."""

    def __init__(
        self,
        subscriber: NoticeSubscriber,
        pops: ScreenPops,
        queue: RedisQueue,
        pause_reasons: Callable[[], dict[str, str]] = dict,
    ) -> None:
        self.subscriber = subscriber
        self.pause_reasons = pause_reasons  # queue.yaml's, as the config is now
        self.pops = pops
        self.queue = queue
        self.sockets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self._order: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        #: told of every notice too (the wallboard sends its board at once)
        self.listeners: list[Callable[[Notice], None]] = []

    # -- lifecycle (the app's startup and cleanup)
    async def start(self, app: web.Application | None = None) -> None:
        self._task = asyncio.create_task(self._run(), name="desk-notices")

    async def stop(self, app: web.Application | None = None) -> None:
        await self.subscriber.close()
        await stop_task(self._task)
        for sockets in list(self.sockets.values()):
            for ws in list(sockets):
                await ws.close(code=1001, message=b"server stopping")

    async def _run(self) -> None:
        async for notice in self.subscriber.notices():
            for listener in self.listeners:  # e.g. the wallboard's hub
                listener(notice)
            if notice.kind == "resync":
                for agent in list(self.sockets):
                    self._send_later(agent, self._hello(agent))
            elif notice.agent in self.sockets:
                self._send_later(notice.agent, self._message(notice))

    # -- what is sent
    def _send_later(self, agent: str, message: Any) -> None:
        task = asyncio.create_task(self._send(agent, message))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(self, agent: str, message: Any) -> None:
        async with self._order[agent]:
            try:
                out = await message
            except Exception:  # a notice that cannot be shown must not stop the others
                log.exception("[HL-WEB-010] desk notice for agent %s not built", agent)
                return
            await self.broadcast(agent, out)

    async def broadcast(self, agent: str, out: dict[str, Any]) -> None:
        text = json.dumps(out, ensure_ascii=False, default=str)
        for ws in list(self.sockets.get(agent, ())):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(text)

    async def _agent(self, agent: str) -> dict[str, Any]:
        return agent_json(self.queue, await self.queue.agent(agent))

    async def _hello(self, agent: str) -> dict[str, Any]:
        pop = await self.pops.for_agent(agent, settle=0)
        return {
            "type": "hello",
            "agent": await self._agent(agent),
            "settings": {
                "wrapup_seconds": self.queue.settings.wrapup_seconds,
                "heartbeat_seconds": self.queue.settings.heartbeat_seconds,
                "pause_reasons": self.pause_reasons(),
                "timezone": self.queue.settings.timezone,
            },
            "offer": pop.model_dump(mode="json") if pop else None,
        }

    async def _message(self, notice: Notice) -> dict[str, Any]:
        if notice.kind == "offer":
            pop = await self.pops.build(notice.uniqueid, notice.agent, caller=notice.caller)
            agent = await self._agent(notice.agent)
            return {"type": "offer", "pop": pop.model_dump(mode="json"), "agent": agent}
        if notice.kind in ("offer-ended", "connected"):
            return {
                "type": notice.kind,
                "uniqueid": notice.uniqueid,
                "reason": notice.reason,
                "detail": notice.detail,
                "agent": await self._agent(notice.agent),
            }
        return {"type": "agent", "agent": await self._agent(notice.agent)}

    # -- the sockets
    async def serve(self, request: web.Request, agent: str) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS)
        await ws.prepare(request)
        self.sockets[agent].add(ws)
        try:
            try:
                async with self._order[agent]:
                    await ws.send_str(json.dumps(await self._hello(agent), ensure_ascii=False))
            except Exception as exc:
                # Upgraded already: an HTTP error answer now would be garbage on the socket.
                # Close it saying why (1011); the desk reconnects and gets its hello then.
                log.warning("[HL-WEB-010] desk socket of agent %s: no hello (%s); closed, the "
                            "desk reconnects", agent, exc)  # fmt: skip
                await ws.close(code=1011, message=b"hello failed, reconnect")
                return ws
            async for msg in ws:  # the desk says nothing that matters; it may ping
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.sockets[agent].discard(ws)
            if not self.sockets[agent]:
                del self.sockets[agent]
                self._order.pop(agent, None)
        return ws


DESKS_KEY: web.AppKey[DeskHub] = web.AppKey("desks", DeskHub)


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


async def desk_socket(request: web.Request) -> web.StreamResponse:
    who = principal_of(request)
    agent = request.query.get("agent") or who.agent_id or ""
    if who.role == "operator" and agent != who.agent_id:
        raise ApiError(
            403, FORBIDDEN, f"operator account {who.username} is agent {who.agent_id}; "
            f"it cannot watch agent {agent}", {"agent_id": agent, "yours": who.agent_id},
        )  # fmt: skip
    if who.via == "session" and not _same_origin(request):
        raise ApiError(403, CSRF, "a desk socket opens only from this server's own pages")
    if agent not in request.app[AGENTS_KEY]().by_id():
        raise ApiError(404, "HL-QUE-030", f"agent {agent!r} is not in agents.yaml")
    hub = request.app.get(DESKS_KEY)
    if hub is None:
        raise ApiError(503, "HL-WEB-009", "live notices are not running on this server")
    need_websocket(request)
    return await hub.serve(request, agent)
