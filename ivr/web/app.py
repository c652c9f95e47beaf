"""The aiohttp application: agent endpoints, live queue metrics, Prometheus, OpenAPI.

``create_app(queue, agents)`` builds it; ``hotline serve --http-port`` runs it next to the
FastAGI server. The operator desk builds its pages on these endpoints:

- ``POST /agents/{id}/login`` (body ``{"ready": false}``), ``/ready``, ``/pause``
  (``{"reason": "lunch"}``), ``/logout``, ``/heartbeat``; ``GET /agents/{id}``, ``GET /agents``;
- ``GET /queue/metrics``: per skill waiting, longest wait, agents by state and today's offered,
  answered, abandoned, answered within the service level, service level and average wait;
- ``GET /metrics``: the same for Prometheus;
- ``GET /openapi.json``: the OpenAPI 3.1 document of all of the above.

Times for people are ISO 8601 in the centre's zone with the offset (``since_time``, the
metrics' ``time``; the zone is ``queue.yaml`` ``settings.timezone``, Beijing time by default);
``since`` stays epoch seconds for programs. The bodies are in :mod:`ivr.web.schemas`.

Errors are JSON ``{"error": "HL-QUE-002", "message": "..."}``: 404 for an agent not in
``agents.yaml``, 409 when the agent's state does not allow the action, 400 for a bad body.
The desk must send a heartbeat more often than ``heartbeat_seconds`` (queue.yaml), or the
reaper logs the agent out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ivr.config.queue_models import AgentsFile, AgentSpec
from ivr.web.openapi import document
from ivr.web.schemas import LoginBody, LogoutBody, PauseBody, agent_out, local_iso
from queueing.queue import AgentState, QueueError, RedisQueue

log = logging.getLogger(__name__)

QUEUE_KEY: web.AppKey[RedisQueue] = web.AppKey("queue", RedisQueue)
AGENTS_KEY: web.AppKey[Callable[[], AgentsFile]] = web.AppKey("agents")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def _zone(request: web.Request) -> ZoneInfo:
    """The centre's zone (``queue.yaml`` ``settings.timezone``), where "today" is too."""
    return ZoneInfo(request.app[QUEUE_KEY].settings.timezone)


def _agent_json(request: web.Request, state: AgentState) -> dict[str, Any]:
    return agent_out(state, _zone(request)).model_dump()


async def _body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    raw = await request.read()
    try:
        data = json.loads(raw) if raw.strip() else {}
        return model.model_validate(data)
    except (ValueError, ValidationError) as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "HL-WEB-001", "message": f"bad request body: {exc}"}),
            content_type="application/json",
        ) from None


def _spec(request: web.Request) -> AgentSpec:
    agent_id = request.match_info["agent_id"]
    spec = request.app[AGENTS_KEY]().by_id().get(agent_id)
    if spec is None:
        raise web.HTTPNotFound(
            text=json.dumps(
                {
                    "error": "HL-QUE-030",
                    "message": f"agent {agent_id!r} is not in agents.yaml: add it, then reload",
                }
            ),
            content_type="application/json",
        )
    return spec


@web.middleware
async def _queue_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except QueueError as exc:
        return _error(409, exc.code, exc.message)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("[HL-WEB-002] %s %s: Redis unreachable: %s", request.method, request.path, exc)
        return _error(503, "HL-WEB-002", "the operator queue (Redis) is unreachable; try again")


# -- agent endpoints ------------------------------------------------------------------------


async def login(request: web.Request) -> web.Response:
    spec = _spec(request)
    body = await _body(request, LoginBody)
    assert isinstance(body, LoginBody)
    queue = request.app[QUEUE_KEY]
    await queue.login(spec, ready=body.ready)
    return web.json_response(_agent_json(request, await queue.agent(spec.id)))


async def ready(request: web.Request) -> web.Response:
    spec = _spec(request)
    queue = request.app[QUEUE_KEY]
    await queue.ready(spec.id)
    return web.json_response(_agent_json(request, await queue.agent(spec.id)))


async def pause(request: web.Request) -> web.Response:
    spec = _spec(request)
    body = await _body(request, PauseBody)
    assert isinstance(body, PauseBody)
    queue = request.app[QUEUE_KEY]
    await queue.pause(spec.id, body.reason)
    return web.json_response(_agent_json(request, await queue.agent(spec.id)))


async def logout(request: web.Request) -> web.Response:
    spec = _spec(request)
    body = await _body(request, LogoutBody)
    assert isinstance(body, LogoutBody)
    queue = request.app[QUEUE_KEY]
    await queue.logout(spec.id, body.reason)
    return web.json_response(_agent_json(request, await queue.agent(spec.id)))


async def heartbeat(request: web.Request) -> web.Response:
    spec = _spec(request)
    queue = request.app[QUEUE_KEY]
    await queue.heartbeat(spec.id)
    return web.json_response(_agent_json(request, await queue.agent(spec.id)))


async def get_agent(request: web.Request) -> web.Response:
    spec = _spec(request)
    return web.json_response(_agent_json(request, await request.app[QUEUE_KEY].agent(spec.id)))


async def list_agents(request: web.Request) -> web.Response:
    queue = request.app[QUEUE_KEY]
    out = [_agent_json(request, await queue.agent(a.id)) for a in request.app[AGENTS_KEY]().agents]
    return web.json_response(out)


# -- metrics --------------------------------------------------------------------------------


def queue_metrics(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The JSON metrics: the snapshot per skill, with service level and average wait."""
    skills: dict[str, Any] = {}
    for name, s in sorted(snapshot["skills"].items()):
        today = s["today"]
        answered = today["answered"]
        skills[name] = {
            "waiting": s["waiting"],
            "longest_wait_seconds": s["longest_wait_ms"] / 1000,
            "staffed": s["staffed"],
            "agents": s["agents"],
            "today": {
                "offered": today["offered"],
                "answered": answered,
                "abandoned": today["abandoned"],
                "answered_in_service_level": today["answered_in_sl"],
                "service_level": (today["answered_in_sl"] / answered) if answered else None,
                "average_wait_seconds": (today["wait_ms"] / answered / 1000) if answered else None,
                "completed": today["completed"],
                "average_talk_seconds": (
                    today["talk_ms"] / today["completed"] / 1000 if today["completed"] else None
                ),
            },
        }
    return {"skills": skills}


async def metrics_json(request: web.Request) -> web.Response:
    """The metrics, with the moment they were taken and the day "today" is, in the centre's
    zone: ``{"time": "2026-12-04T07:40:00+08:00", "day": "2026-12-04", "timezone":
    "Asia/Shanghai", "skills": {...}}``."""
    queue = request.app[QUEUE_KEY]
    snap = await queue.snapshot()
    zone = _zone(request)
    head = {"time": local_iso(zone, queue.clock()), "day": queue.today(), "timezone": zone.key}
    return web.json_response({**head, **queue_metrics(snap)})


class _SnapshotCollector(Collector):
    def __init__(self, metrics: dict[str, Any]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        skills = self.metrics["skills"]
        g = GaugeMetricFamily
        waiting = g("hotline_queue_waiting", "callers waiting", labels=["skill"])
        longest = g("hotline_queue_longest_wait_seconds", "longest current wait", labels=["skill"])
        agents = g("hotline_queue_agents", "logged-in agents by state", labels=["skill", "state"])
        today = {
            key: g(f"hotline_queue_today_{key}", f"today's {key} calls", labels=["skill"])
            for key in ("offered", "answered", "abandoned", "answered_in_service_level")
        }
        sl = g("hotline_queue_today_service_level_ratio", "answered within SL", labels=["skill"])
        avg = g("hotline_queue_today_average_wait_seconds", "average wait", labels=["skill"])
        for name, s in skills.items():
            waiting.add_metric([name], s["waiting"])
            longest.add_metric([name], s["longest_wait_seconds"])
            for state, count in s["agents"].items():
                agents.add_metric([name, state], count)
            for key, fam in today.items():
                fam.add_metric([name], s["today"][key])
            if s["today"]["service_level"] is not None:
                sl.add_metric([name], s["today"]["service_level"])
                avg.add_metric([name], s["today"]["average_wait_seconds"])
        yield from (waiting, longest, agents, *today.values(), sl, avg)


async def metrics_prometheus(request: web.Request) -> web.Response:
    snap = await request.app[QUEUE_KEY].snapshot()
    registry = CollectorRegistry()
    registry.register(_SnapshotCollector(queue_metrics(snap)))
    return web.Response(
        body=generate_latest(registry), headers={"Content-Type": "text/plain; version=0.0.4"}
    )


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/agents/{agent_id}/login", login),
    ("POST", "/agents/{agent_id}/ready", ready),
    ("POST", "/agents/{agent_id}/pause", pause),
    ("POST", "/agents/{agent_id}/logout", logout),
    ("POST", "/agents/{agent_id}/heartbeat", heartbeat),
    ("GET", "/agents/{agent_id}", get_agent),
    ("GET", "/agents", list_agents),
    ("GET", "/queue/metrics", metrics_json),
    ("GET", "/metrics", metrics_prometheus),
    ("GET", "/openapi.json", openapi),
]


def create_app(queue: RedisQueue, agents: AgentsFile | Callable[[], AgentsFile]) -> web.Application:
    """The HTTP app on ``queue``. ``agents`` is the agents config, or a function returning the
    current one (so that a config reload takes effect without a restart)."""
    app = web.Application(middlewares=[_queue_errors])
    app[QUEUE_KEY] = queue
    if isinstance(agents, AgentsFile):
        fixed = agents
        app[AGENTS_KEY] = lambda: fixed
    else:
        app[AGENTS_KEY] = agents
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    return app
