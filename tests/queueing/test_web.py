"""The HTTP app: agent endpoints, metrics as JSON and for Prometheus, the OpenAPI document."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ivr.web import create_app
from ivr.web.app import ROUTES
from ivr.web.openapi import document
from queueing.config import AgentsFile
from queueing.queue import QueueRequest, RedisQueue
from tests.queueing.conftest import T0, Clock, agent

AGENTS = AgentsFile(agents=[agent("1001", general=5), agent("1002", general=3, tax=8)])


@pytest.fixture
async def http(rq: RedisQueue) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    client = TestClient(TestServer(create_app(rq, AGENTS)))
    await client.start_server()
    yield client
    await client.close()


async def test_agent_lifecycle_over_http(http: TestClient, rq: RedisQueue) -> None:  # type: ignore[type-arg]
    r = await http.post("/agents/1001/login", json={})
    assert r.status == 200
    body = await r.json()
    assert (body["state"], body["reason"], body["interface"]) == ("paused", "login", "PJSIP/1001")
    assert (await (await http.post("/agents/1001/ready")).json())["state"] == "ready"
    r = await http.post("/agents/1001/pause", json={"reason": "lunch"})
    assert (await r.json())["reason"] == "lunch"
    assert (await (await http.post("/agents/1001/heartbeat")).json())["state"] == "paused"
    assert (await (await http.post("/agents/1001/logout")).json())["state"] == "offline"
    listed = await (await http.get("/agents")).json()
    assert [a["id"] for a in listed] == ["1001", "1002"]


async def test_errors_have_stable_ids(http: TestClient) -> None:  # type: ignore[type-arg]
    r = await http.post("/agents/9999/login")
    assert r.status == 404 and (await r.json())["error"] == "HL-QUE-030"
    r = await http.post("/agents/1001/ready")
    assert r.status == 409 and (await r.json())["error"] == "HL-QUE-002"
    r = await http.post("/agents/1001/pause", json={"reason": 5, "extra": 1})
    assert r.status == 400 and (await r.json())["error"] == "HL-WEB-001"


async def test_metrics_json_and_prometheus(
    http: TestClient,  # type: ignore[type-arg]
    rq: RedisQueue,
    clock: Clock,
) -> None:
    await http.post("/agents/1001/login", json={"ready": True})
    await rq.enqueue(QueueRequest("c1", "138", "12345", "general", 0, T0))
    clock.advance(10)
    await rq.connect("c1", "1001")
    await rq.enqueue(QueueRequest("c2", "138", "12345", "general", 0, clock()))
    await rq.enqueue(QueueRequest("c3", "138", "12345", "general", 0, clock()))
    await rq.abandon("c3")
    clock.advance(4)
    m = (await (await http.get("/queue/metrics")).json())["skills"]["general"]
    assert m["waiting"] == 1 and m["longest_wait_seconds"] == 4
    assert m["agents"] == {"busy": 1}
    today = m["today"]
    assert (today["offered"], today["answered"], today["abandoned"]) == (3, 1, 1)
    assert today["service_level"] == 1.0 and today["average_wait_seconds"] == 10
    text = await (await http.get("/metrics")).text()
    assert 'hotline_queue_waiting{skill="general"} 1.0' in text
    assert 'hotline_queue_agents{skill="general",state="busy"} 1.0' in text
    assert 'hotline_queue_today_service_level_ratio{skill="general"} 1.0' in text


async def test_openapi_documents_every_route(http: TestClient) -> None:  # type: ignore[type-arg]
    doc = await (await http.get("/openapi.json")).json()
    assert doc == document()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    routed = {(m, p) for m, p, _ in ROUTES}
    assert documented == routed
    for ops in doc["paths"].values():
        for op in ops.values():
            for resp in op["responses"].values():
                for media in resp.get("content", {}).values():
                    ref = media["schema"].get("$ref") or media["schema"].get("items", {}).get(
                        "$ref"
                    )
                    if ref:
                        assert ref.rsplit("/", 1)[-1] in doc["components"]["schemas"]


async def test_redis_restarted_or_away_is_a_503_not_a_traceback(tmp_path: Path) -> None:
    """The desk's request after a Redis restart goes through (a broken pooled connection is
    retried on a fresh one); with Redis away it gets 503 and a stable id."""
    from tests.queueing.own_redis import OwnRedis

    rds = OwnRedis(tmp_path).start()
    queue = RedisQueue.from_url(rds.url)
    client = TestClient(TestServer(create_app(queue, AGENTS)))
    await client.start_server()
    try:
        assert (await client.post("/agents/1001/login", json={"ready": True})).status == 200
        rds.restart()  # every pooled connection is now broken
        resp = await client.post("/agents/1001/login", json={"ready": True})
        assert resp.status == 200, await resp.text()
        rds.stop()
        resp = await client.get("/agents/1001")
        assert resp.status == 503
        assert (await resp.json())["error"] == "HL-WEB-002"
    finally:
        await client.close()
        await queue.close()
        rds.stop()


async def test_times_for_people_are_beijing_time_with_the_offset(
    http: TestClient,  # type: ignore[type-arg]
    clock: Clock,
) -> None:
    """23:40 UTC on 3 December is 07:40 on 4 December in Beijing: the agent's last change and
    the metrics' moment and day read so; ``since`` stays epoch seconds for programs."""
    clock.t = dt.datetime(2026, 12, 3, 23, 40, tzinfo=dt.UTC).timestamp()
    body = await (await http.post("/agents/1001/login", json={})).json()
    assert body["since_time"] == "2026-12-04T07:40:00+08:00"
    assert body["since"] == clock.t
    never = await (await http.get("/agents/1002")).json()
    assert never["state"] == "offline" and never["since_time"] is None
    m = await (await http.get("/queue/metrics")).json()
    assert (m["time"], m["day"], m["timezone"]) == (
        "2026-12-04T07:40:00+08:00",
        "2026-12-04",
        "Asia/Shanghai",
    )
    assert "since_time" in document()["components"]["schemas"]["AgentOut"]["properties"]
