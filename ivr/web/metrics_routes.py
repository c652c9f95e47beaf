"""``GET /api/queue/metrics`` (JSON), ``GET /metrics`` (Prometheus) and ``GET /healthz``.

The metrics are the queue's live snapshot per skill: waiting, longest wait, agents by state,
and today's offered, answered, abandoned, answered within the service level, service level
(answered within the service level / answered) and average wait. ``/healthz`` says whether
this server reaches Redis and the database (200 ``ok``, else 503 ``degraded``): open to
load balancers without an account."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text

from ivr.notify.claims import counts as outbox_counts
from ivr.notify.metrics import REGISTRY as OUTBOX_METRICS
from ivr.notify.metrics import OutboxGauge
from ivr.web.agent_routes import zone
from ivr.web.appkeys import DATABASE_KEY, QUEUE_KEY
from ivr.web.schemas import HealthOut, local_iso

HEALTH_TIMEOUT = 3.0


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
    tz = zone(request)
    head = {"time": local_iso(tz, queue.clock()), "day": queue.today(), "timezone": tz.key}
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
    try:  # the outbox's rows, every server's (the database away: left out, not an error)
        db = request.app[DATABASE_KEY]
        counts = await asyncio.wait_for(asyncio.to_thread(outbox_counts, db), HEALTH_TIMEOUT)
        registry.register(OutboxGauge(counts))
    except Exception:  # any failure leaves the gauge out of this scrape
        pass
    body = generate_latest(registry) + generate_latest(OUTBOX_METRICS)  # sent, failed SMS
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


def _database_ok(request: web.Request) -> bool:
    with request.app[DATABASE_KEY].session() as session:
        session.execute(text("SELECT 1"))
    return True


async def healthz(request: web.Request) -> web.Response:
    async def check(probe: Any) -> bool:
        try:
            return bool(await asyncio.wait_for(probe, HEALTH_TIMEOUT))
        except Exception:  # any failure is "not reachable": that is the answer
            return False

    redis_ok = await check(request.app[QUEUE_KEY].client.ping())
    db_ok = await check(asyncio.to_thread(_database_ok, request))
    out = HealthOut(
        status="ok" if redis_ok and db_ok else "degraded", redis=redis_ok, database=db_ok
    )
    return web.json_response(out.model_dump(), status=200 if out.status == "ok" else 503)
