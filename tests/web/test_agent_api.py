"""The HTTP app: agent endpoints, metrics as JSON and for Prometheus, the OpenAPI document
(as a logged-in supervisor or operator; who may do what is tests/web/test_access.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from aiohttp.test_utils import TestClient

from ivr.accounts import Accounts
from ivr.db.database import Database
from ivr.web.app import routes
from ivr.web.appkeys import WebSecurity
from ivr.web.openapi import document
from ivr.web.pages import PAGES
from queueing.queue import QueueRequest, RedisQueue
from tests.queueing.conftest import T0, Clock
from tests.web.conftest import Desk, open_client


async def test_agent_lifecycle_over_http(desks: dict[str, Desk], accounts: Accounts) -> None:
    """An operator drives its own state; every change (not the heartbeat) is audited with the
    state before and after."""
    http = desks["op1001"]
    r = await http.post("/api/agents/1001/login", {})
    assert r.status == 200
    body = await r.json()
    assert (body["state"], body["reason"], body["interface"]) == ("paused", "login", "PJSIP/1001")
    assert (await (await http.post("/api/agents/1001/ready")).json())["state"] == "ready"
    r = await http.post("/api/agents/1001/pause", {"reason": "lunch"})
    assert (await r.json())["reason"] == "lunch"
    assert (await (await http.post("/api/agents/1001/heartbeat")).json())["state"] == "paused"
    assert (await (await http.post("/api/agents/1001/logout")).json())["state"] == "offline"
    listed = await (await http.get("/api/agents")).json()
    assert [a["id"] for a in listed] == ["1001", "1002"]
    rows = [r for r in accounts.audit_log() if r["action"].startswith("agent.")]
    assert [r["action"] for r in reversed(rows)] == [
        "agent.login",
        "agent.ready",
        "agent.pause",
        "agent.logout",
    ]
    pause = next(r for r in rows if r["action"] == "agent.pause")
    assert pause["actor"] == "op1001" and pause["target"] == "agent:1001"
    assert "ready" in str(pause["before"]) and "lunch" in str(pause["after"])


async def test_errors_have_stable_ids(desks: dict[str, Desk]) -> None:
    http = desks["super"]
    r = await http.post("/api/agents/9999/login")
    assert r.status == 404 and (await r.json())["error_id"] == "HL-QUE-030"
    r = await http.post("/api/agents/1001/ready")
    assert r.status == 409 and (await r.json())["error_id"] == "HL-QUE-002"
    r = await http.post("/api/agents/1001/pause", {"reason": 5, "extra": 1})
    body = await r.json()
    assert r.status == 400 and body["error_id"] == "HL-WEB-001"
    assert body["message"].startswith("bad request body: reason") and body["details"]["problems"]
    r = await http.get("/api/nothing-here")
    assert r.status == 404 and (await r.json())["error_id"] == "HL-WEB-006"


async def test_metrics_json_and_prometheus(
    desks: dict[str, Desk],
    rq: RedisQueue,
    clock: Clock,
) -> None:
    http = desks["super"]
    await http.post("/api/agents/1001/login", {"ready": True})
    await rq.enqueue(QueueRequest("c1", "138", "12345", "general", 0, T0))
    clock.advance(10)
    await rq.connect("c1", "1001")
    await rq.enqueue(QueueRequest("c2", "138", "12345", "general", 0, clock()))
    await rq.enqueue(QueueRequest("c3", "138", "12345", "general", 0, clock()))
    await rq.abandon("c3")
    clock.advance(4)
    m = (await (await http.get("/api/queue/metrics")).json())["skills"]["general"]
    assert m["waiting"] == 1 and m["longest_wait_seconds"] == 4
    assert m["agents"] == {"busy": 1}
    today = m["today"]
    assert (today["offered"], today["answered"], today["abandoned"]) == (3, 1, 1)
    assert today["service_level"] == 1.0 and today["average_wait_seconds"] == 10
    text = await (await desks["anonymous"].get("/metrics")).text()  # open to Prometheus
    assert 'hotline_queue_waiting{skill="general"} 1.0' in text
    assert 'hotline_queue_agents{skill="general",state="busy"} 1.0' in text
    assert 'hotline_queue_today_service_level_ratio{skill="general"} 1.0' in text
    assert 'hotline_outbox_sent_total{kind="sms"}' in text  # the outbox's (docs/notify.md)
    assert 'hotline_outbox_failed_total{kind="reply"}' in text
    assert 'hotline_outbox_messages{kind="sms",state="failed"} 0.0' in text


async def test_openapi_documents_every_route(
    desks: dict[str, Desk],
    http: TestClient,  # type: ignore[type-arg]
) -> None:
    doc = await (await desks["dept"].get("/api/openapi.json")).json()
    assert doc == document(routes(WebSecurity()))
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    routed = {
        (r.method, r.resource.canonical)
        for r in http.app.router.routes()
        if r.resource is not None and r.method != "HEAD"
    }
    pages = {(method, path) for method, path, _ in PAGES}
    assert documented == routed - pages  # every route but the pages is in the document
    assert doc["paths"]["/api/agents/{agent_id}/pause"]["post"]["x-roles"] == [
        "operator",
        "supervisor",
        "admin",
    ]
    assert "x-roles" not in doc["paths"]["/api/login"]["post"]
    for ops in doc["paths"].values():
        for op in ops.values():
            for resp in op["responses"].values():
                for media in resp.get("content", {}).values():
                    ref = media["schema"].get("$ref") or media["schema"].get("items", {}).get(
                        "$ref"
                    )
                    if ref:
                        assert ref.rsplit("/", 1)[-1] in doc["components"]["schemas"]


async def test_redis_restarted_or_away_is_a_503_not_a_traceback(
    tmp_path: Path, accounts: Accounts, database: Database
) -> None:
    """The desk's request after a Redis restart goes through (a broken pooled connection is
    retried on a fresh one); with Redis away it gets 503 and a stable id."""
    from tests.queueing.own_redis import OwnRedis

    rds = OwnRedis(tmp_path).start()
    queue = RedisQueue.from_url(rds.url)
    client = await open_client(queue, accounts, database)
    desk = Desk(client)
    try:
        assert (await desk.login("super")).status == 200
        assert (await desk.post("/api/agents/1001/login", {"ready": True})).status == 200
        rds.restart()  # every pooled connection is now broken
        resp = await desk.post("/api/agents/1001/login", {"ready": True})
        assert resp.status == 200, await resp.text()
        rds.stop()
        resp = await desk.get("/api/agents/1001")
        assert resp.status == 503
        assert (await resp.json())["error_id"] == "HL-WEB-002"
        health = await desk.get("/healthz")
        assert health.status == 503
        assert await health.json() == {"status": "degraded", "redis": False, "database": True}
    finally:
        await desk.close()
        await client.close()
        await queue.close()
        rds.stop()


async def test_times_for_people_are_beijing_time_with_the_offset(
    desks: dict[str, Desk],
    clock: Clock,
) -> None:
    """23:40 UTC on 3 December is 07:40 on 4 December in Beijing: the agent's last change and
    the metrics' moment and day read so; ``since`` stays epoch seconds for programs."""
    clock.t = dt.datetime(2026, 12, 3, 23, 40, tzinfo=dt.UTC).timestamp()
    http = desks["super"]
    body = await (await http.post("/api/agents/1001/login", {})).json()
    assert body["since_time"] == "2026-12-04T07:40:00+08:00"
    assert body["since"] == clock.t
    never = await (await http.get("/api/agents/1002")).json()
    assert never["state"] == "offline" and never["since_time"] is None
    m = await (await http.get("/api/queue/metrics")).json()
    assert (m["time"], m["day"], m["timezone"]) == (
        "2026-12-04T07:40:00+08:00",
        "2026-12-04",
        "Asia/Shanghai",
    )
    assert (
        "since_time"
        in document(routes(WebSecurity()))["components"]["schemas"]["AgentOut"]["properties"]
    )
