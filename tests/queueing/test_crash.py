"""A real ``hotline serve --queue-wait`` killed with SIGKILL while callers wait; a second
server takes the re-entering calls (same uniqueids, as the dialplan's failover sends them):
they keep their original places and reach the agent in the original order. And the
``hotline queue`` commands."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ivr.agi.fake_asterisk import SimResult
from ivr.agi.simulator import simulate_call
from ivr.config.loader import load_config
from queueing.queue import RedisQueue
from tests.conftest import free_port
from tests.redis_clients import redis_client, sync_client

HOTLINE = [sys.executable, "-m", "ivr.cli"]

QUEUE_YAML = """
settings: {wrapup_seconds: 0, lease_seconds: 30, tick_seconds: 0.5}
callback: {enabled: false}
survey: {enabled: true}
overflow: {}
"""


def env_for(config: Path, redis_url: str, port: int, var: str) -> dict[str, str]:
    return dict(
        os.environ,
        HOTLINE_CONFIG_DIR=str(config),
        HOTLINE_RECORDINGS_DIR=str(config.parent / "recordings"),
        HOTLINE_VAR_DIR=str(config.parent / var),
        HOTLINE_REDIS_URL=redis_url,
        HOTLINE_AGI_PORT=str(port),
    )


async def start_server(config: Path, redis_url: str, var: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 (starting it is quick; it runs on its own)
        [*HOTLINE, "serve", "--queue-wait"],
        env=env_for(config, redis_url, port, var),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    pidfile = config.parent / var / "hotline.pid"
    deadline = time.monotonic() + 30
    while not pidfile.exists():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the server did not start"
        await asyncio.sleep(0.05)
    return proc, port


async def until(cond: object, what: str, deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while not await cond():  # type: ignore[operator]
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def call(port: int, uid: str, **kw: object) -> asyncio.Task[SimResult]:
    return asyncio.create_task(
        simulate_call(
            "127.0.0.1",
            port,
            to="12345",
            caller=f"1390000{uid[-4:]}",
            uniqueid=uid,
            timeout=60,
            **kw,
        )
    )


async def test_sigkill_mid_wait_then_resume_on_a_second_server(
    config_copy: Path, redis_url: str
) -> None:
    (config_copy / "queue.yaml").write_text(QUEUE_YAML)
    bundle = load_config(config_copy)
    client = redis_client(redis_url)
    await client.flushdb()
    q = RedisQueue(client, bundle.queue.settings, server="test")
    uids = ["1790000001.0001", "1790000001.0002", "1790000001.0003"]
    a, port_a = await start_server(config_copy, redis_url, "var-a")
    b: subprocess.Popen[str] | None = None
    try:
        first = []
        for i, uid in enumerate(uids):
            first.append(call(port_a, uid))

            async def placed(n: int = i + 1) -> bool:
                return len(await q.waiting("general")) == n

            await until(placed, f"caller {uid} in the queue")
        server_a = (await q.entry(uids[0]))["server"]
        a.send_signal(signal.SIGKILL)
        a.wait(10)
        for task in first:
            result = await asyncio.wait_for(task, 20)
            assert result.dialled == []
        assert await q.waiting("general") == uids  # nothing lost in Redis
        b, port_b = await start_server(config_copy, redis_url, "var-b")
        # the failover re-enters in any order: the last caller comes back first
        again = [call(port_b, uid, dial_status="ANSWER") for uid in reversed(uids)]

        async def resumed() -> bool:
            servers = [(await q.entry(u)).get("server") for u in uids]
            return all(s and s != server_a for s in servers)

        await until(resumed, "the callers to resume on server B")
        assert await q.waiting("general") == uids  # original places, not re-entry order
        assert [(await q.entry(u))["position"] for u in uids] == ["1", "2", "3"]
        spec = bundle.agents.by_id()["1001"]
        await q.login(spec, ready=True)
        results = await asyncio.wait_for(asyncio.gather(*again), 60)
        assert all(r.dialled == ["PJSIP/1001"] for r in results)
        rows = await client.xrange(q.events_key)
        fields = [{k.decode(): v.decode() for k, v in f.items()} for _, f in rows]
        connects = [f["callid"] for f in fields if f["event"] == "CONNECT"]
        assert connects == uids  # answered in the original order
        assert [f["event"] for f in fields if f["callid"] == uids[0]][:2] == [
            "ENTERQUEUE", "RESUME",
        ]  # fmt: skip
        assert sum(f["event"] == "ENTERQUEUE" for f in fields) == 3
        assert not any(f["event"] == "ABANDON" for f in fields)
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        await q.close()


def test_queue_commands(config_copy: Path, redis_url: str) -> None:
    sync_client(redis_url).flushdb()
    env = env_for(config_copy, redis_url, free_port(), "var")

    def hl(*args: str) -> str:
        r = subprocess.run([*HOTLINE, "queue", *args], env=env, capture_output=True, text=True,
                           timeout=60, check=False)  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    assert hl("login", "1001").strip() == "1001: paused"
    assert hl("ready", "1001").strip() == "1001: ready"
    assert "1001" in hl("agents") and "ready" in hl("agents")
    assert hl("pause", "1001", "--reason", "lunch").strip() == "1001: paused"
    assert "(lunch)" in hl("agents")
    assert "general" in hl("status")
    assert '"skills"' in hl("status", "--json")
    assert hl("logout", "1001").strip() == "1001: offline"
    r = subprocess.run([*HOTLINE, "queue", "login", "nobody"], env=env, capture_output=True,
                       text=True, timeout=60, check=False)  # fmt: skip
    assert r.returncode == 1 and "HL-QUE-030" in r.stdout
    r = subprocess.run([*HOTLINE, "queue", "ready", "1002"], env=env, capture_output=True,
                       text=True, timeout=60, check=False)  # fmt: skip
    assert r.returncode == 1 and "HL-QUE-002" in r.stdout
