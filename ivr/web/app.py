"""The aiohttp application: every route of the staff's HTTP API, behind its guard.

``create_app(queue, agents, accounts, database, security)`` builds it; ``hotline serve
--http-port`` runs it next to the FastAGI server. The routes, who may call them and their
schemas are the table :func:`routes` (documented at ``/api/openapi.json`` from the same
table):

- ``POST /api/login`` (open), ``POST /api/logout``, ``GET /api/me``: the session;
- ``POST /api/agents/{id}/login`` (body ``{"ready": false}``), ``/ready``, ``/pause``
  (``{"reason": "lunch"}``), ``/logout``, ``/heartbeat``; ``GET /api/agents/{id}``,
  ``GET /api/agents``: operators (their own agent only), supervisors, admins;
- ``GET /api/queue/metrics``, ``GET /metrics`` (Prometheus; open unless
  ``HOTLINE_METRICS_PUBLIC=0``), ``GET /healthz`` (open).

Times for people are ISO 8601 in the centre's zone with the offset; ``since`` stays epoch
seconds for programs. Errors are JSON ``{"error_id", "message", "details"}``
(:mod:`ivr.web.errors`). The desk must send a heartbeat more often than
``heartbeat_seconds`` (queue.yaml), or the reaper logs the agent out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiohttp import web
from pydantic import BaseModel

from ivr.accounts import Accounts
from ivr.config.queue_models import AgentsFile
from ivr.db.database import Database
from ivr.web import agent_routes as agents_api
from ivr.web import metrics_routes as metrics_api
from ivr.web import session_routes as session_api
from ivr.web.appkeys import (
    ACCOUNTS_KEY,
    AGENTS_KEY,
    DATABASE_KEY,
    PAUSE_REASONS_KEY,
    QUEUE_KEY,
    SECURITY_KEY,
    WebSecurity,
)
from ivr.web.auth import SESSIONS_KEY, SessionCache, guard
from ivr.web.desk_socket import DESKS_KEY, DeskHub, desk_socket
from ivr.web.errors import error_middleware
from ivr.web.openapi import METRICS, document
from ivr.web.pages import add_pages
from ivr.web.routing import ANYONE, DESK, SUPERVISION, ApiRoute, Handler, WebPart
from queueing.queue import RedisQueue

AGENT = "/api/agents/{agent_id}"


ROUTES_KEY: web.AppKey[tuple[ApiRoute, ...]] = web.AppKey("routes")
MODELS_KEY: web.AppKey[tuple[type[BaseModel], ...]] = web.AppKey("models")


async def openapi(request: web.Request) -> web.Response:
    table: tuple[ApiRoute, ...] = request.app[ROUTES_KEY]
    models: tuple[type[BaseModel], ...] = request.app[MODELS_KEY]
    return web.json_response(document(table, models))


def _agent(
    method: str, suffix: str, handler: Handler, summary: str, body: str | None = None
) -> ApiRoute:
    """A route on one agent: for the desk and above; a change, by an operator, on its own."""
    return ApiRoute(
        method,
        AGENT + suffix,
        handler,
        DESK,
        summary,
        body=body,
        response="AgentOut",
        errors=(404, 409) if body is None else (400, 404, 409),
        own_agent=method == "POST",
    )


def routes(security: WebSecurity) -> list[ApiRoute]:
    """The API's routes; ``/metrics`` is open or for supervisors, by ``security``."""
    agents: dict[str, object] = {
        "type": "array",
        "items": {"$ref": "#/components/schemas/AgentOut"},
    }
    return [
        ApiRoute(
            "POST",
            "/api/login",
            session_api.login,
            None,
            "log in (sets the session cookie)",
            body="LoginForm",
            response="MeOut",
            errors=(400, 401, 429),
        ),
        ApiRoute("POST", "/api/logout", session_api.logout, ANYONE, "log out (ends the session)"),
        ApiRoute(
            "GET",
            "/api/me",
            session_api.me,
            ANYONE,
            "read who is logged in and the CSRF token",
            response="MeOut",
        ),
        _agent(
            "POST",
            "/login",
            agents_api.login,
            "log an agent in (paused 'login', or ready)",
            "LoginBody",
        ),
        _agent("POST", "/ready", agents_api.ready, "make an agent ready for calls"),
        _agent(
            "POST",
            "/pause",
            agents_api.pause,
            "pause an agent now, or after the current call",
            "PauseBody",
        ),
        _agent(
            "POST",
            "/logout",
            agents_api.logout,
            "log an agent out now, or after the current call",
            "LogoutBody",
        ),
        _agent(
            "POST",
            "/heartbeat",
            agents_api.heartbeat,
            "say that an agent's desk is alive (else the reaper logs it out)",
        ),
        _agent("GET", "", agents_api.get_agent, "read an agent's state"),
        ApiRoute(
            "GET",
            "/api/agents",
            agents_api.list_agents,
            DESK,
            "read every agent's state",
            response_schema=agents,
        ),
        ApiRoute(
            "GET",
            "/api/queue/metrics",
            metrics_api.metrics_json,
            DESK,
            "read the live queue metrics per skill",
            response_schema=METRICS,
        ),
        ApiRoute(
            "GET",
            "/metrics",
            metrics_api.metrics_prometheus,
            None if security.metrics_public else SUPERVISION,
            "read the Prometheus metrics",
            response_schema={"type": "string"},
        ),
        ApiRoute(
            "GET",
            "/healthz",
            metrics_api.healthz,
            None,
            "check Redis and the database",
            response="HealthOut",
            errors=(503,),
        ),
        ApiRoute(
            "GET",
            "/api/desk/socket",
            desk_socket,
            DESK,
            "open the desk's live notices (a WebSocket: hello, offer with the screen-pop, "
            "offer-ended, connected, agent)",
            response_schema={"type": "string", "description": "JSON messages, one per frame"},
            errors=(404,),
        ),
        ApiRoute(
            "GET",
            "/api/openapi.json",
            openapi,
            ANYONE,
            "read the OpenAPI document",
            response_schema={"type": "object"},
        ),
    ]


def create_app(
    queue: RedisQueue,
    agents: AgentsFile | Callable[[], AgentsFile],
    accounts: Accounts,
    database: Database,
    security: WebSecurity | None = None,
    desks: DeskHub | None = None,
    parts: Sequence[WebPart] = (),
) -> web.Application:
    """The HTTP app on ``queue``. ``agents`` is the agents config, or a function returning the
    current one (so that a config reload takes effect without a restart). ``parts`` are the
    further rooms of the API (tickets, knowledge, calls), each with its routes and service."""
    app = web.Application(middlewares=[error_middleware])
    app[QUEUE_KEY] = queue
    if isinstance(agents, AgentsFile):
        fixed = agents
        app[AGENTS_KEY] = lambda: fixed
    else:
        app[AGENTS_KEY] = agents
    app[ACCOUNTS_KEY] = accounts
    app[DATABASE_KEY] = database
    app[SECURITY_KEY] = security or WebSecurity()
    app[SESSIONS_KEY] = SessionCache()
    table = [*routes(app[SECURITY_KEY])]
    for part in parts:
        table.extend(part.routes)
        if part.install is not None:
            part.install(app)
    app[ROUTES_KEY] = tuple(table)
    app[MODELS_KEY] = tuple(m for part in parts for m in part.models)
    for route in table:
        app.router.add_route(route.method, route.path, guard(route))
    add_pages(app)
    if desks is not None:  # the live notices: started and stopped with the app
        app[DESKS_KEY] = desks
        app[PAUSE_REASONS_KEY] = desks.pause_reasons  # a pause must give one of them
        app.on_startup.append(desks.start)
        app.on_cleanup.append(desks.stop)
    return app
