"""One route of the HTTP API as data: method, path, handler, who may call it, and what the
OpenAPI document says about it. :mod:`ivr.web.app` registers the table behind its guard;
:mod:`ivr.web.openapi` documents the same table, so the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel

from ivr.accounts import ROLES

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ANYONE: tuple[str, ...] = tuple(ROLES)  # any account, logged in
DESK: tuple[str, ...] = ("operator", "supervisor", "admin")  # the operator desk and above
SUPERVISION: tuple[str, ...] = ("supervisor", "admin")


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    handler: Handler
    roles: tuple[str, ...] | None  # None: open to all (login, health, metrics by setting)
    summary: str
    body: str | None = None  # the request body's schema (ivr.web.schemas), if any
    response: str | None = None  # the 200 body's schema name; None: see ``response_schema``
    response_schema: dict[str, object] | None = None
    errors: tuple[int, ...] = ()  # statuses besides 401/403 that the route answers with
    own_agent: bool = False  # an operator may act only on its own agent id
    content_type: str = "application/json"  # of the 200 answer (a recording: audio/wav)


@dataclass(frozen=True)
class WebPart:
    """One room of the API that the composition root adds to the app (tickets, knowledge,
    calls): its routes, the pydantic models its routes name, and what it puts on the app
    (its service under its own :class:`aiohttp.web.AppKey`)."""

    routes: Sequence[ApiRoute]
    models: Sequence[type[BaseModel]] = ()
    install: Callable[[web.Application], None] | None = None
