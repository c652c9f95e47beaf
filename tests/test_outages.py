"""Outages of whole ``hotline serve`` processes, on a real Redis and SQLite (no Asterisk: the
calls are played by the simulator, which speaks FastAGI as Asterisk does).

- Every server is down for longer than the heartbeat interval: when one comes back, nobody
  is logged out (their desks could not reach a dead server); an operator whose own
  heartbeats stop while a server runs still is.
- A call in progress whose server is killed and which never comes back (the caller hung up
  meanwhile) is closed by another server with a ``server-lost`` record, from what Redis
  knew of it, within a minute.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Self

import pytest

from ivr.agi.simulator import simulate_call
from ivr.config.loader import load_config
from queueing import keys
from tests.api_client import api_token, call_api
from tests.conftest import free_port
from tests.redis_clients import redis_db, sync_client

HOTLINE = [sys.executable, "-m", "ivr.cli"]

QUEUE_YAML = """
settings: {wrapup_seconds: 0, lease_seconds: 6, tick_seconds: 0.5, heartbeat_seconds: 5}
callback: {enabled: false}
survey: {enabled: false}
overflow: {}
dialler: {enabled: false}
"""


class Server:
    """One ``hotline serve --queue-wait`` with its HTTP API, restartable on the same ports."""

    start_seconds = 30.0  # the deadline of a start

    def __init__(self, config: Path, redis_url: str, var: Path, database: str) -> None:
        self.config, self.redis_url, self.var, self.database = config, redis_url, var, database
        self.agi_port, self.http_port = free_port(), free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        env = dict(
            os.environ,
            HOTLINE_CONFIG_DIR=str(self.config),
            HOTLINE_RECORDINGS_DIR=str(self.config.parent / "recordings"),
            HOTLINE_VAR_DIR=str(self.var),
            HOTLINE_REDIS_URL=self.redis_url,
            HOTLINE_DATABASE_URL=self.database,
            HOTLINE_AGI_HOST="127.0.0.1",
            HOTLINE_AGI_PORT=str(self.agi_port),
        )
        pidfile = self.var / "hotline.pid"
        pidfile.unlink(missing_ok=True)
        self.var.mkdir(parents=True, exist_ok=True)
        with open(self.var / "serve.log", "ab") as log:
            self.proc = subprocess.Popen(
                [*HOTLINE, "serve", "--queue-wait", "--http-port", str(self.http_port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + self.start_seconds
        while not (pidfile.exists() and pidfile.read_text().strip() == str(self.proc.pid)):
            assert self.proc.poll() is None, self.log()[-4000:]
            assert time.monotonic() < deadline, f"the server did not start: {self.log()[-4000:]}"
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        """SIGKILL: no session closed, no lease given back, nothing said to anyone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def log(self) -> str:
        path = self.var / "serve.log"
        return path.read_text("utf-8", "replace")[-3000:] if path.exists() else ""

    def http(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The staff API with a supervisor's API token."""
        return call_api(self.http_port, api_token(self.database), method, "/api" + path, body)


def poll(fetch: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


async def apoll(fetch: Callable[[], Awaitable[Any]], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await fetch()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
def setup(config_copy: Path, redis_url: str) -> Iterator[tuple[Path, str, str]]:
    """The config (short heartbeat and lease), a Redis database of its own, one SQLite file
    shared by every server of the test."""
    (config_copy / "queue.yaml").write_text(QUEUE_YAML)
    url = redis_db(redis_url, 5)
    sync_client(url).flushdb()
    database = f"sqlite:///{config_copy.parent / 'hotline.db'}"
    yield config_copy, url, database


def test_a_server_outage_longer_than_the_heartbeat_logs_nobody_out(
    setup: tuple[Path, str, str],
) -> None:
    config, url, database = setup
    centre = load_config(config).queue.settings.centre
    client = sync_client(url, decode_responses=True)
    server = Server(config, url, config.parent / "var", database).start()
    try:
        assert server.http("POST", "/agents/1001/login", {"ready": True})["state"] == "ready"
        server.http("POST", "/agents/1002/login", {"ready": False})
        server.http("POST", "/agents/1002/pause", {"reason": "meal"})
        server.kill()
        # every server is away for twice the heartbeat interval: no desk can send one
        time.sleep(2 * 5.0 + 1)
        restarted_ms = int(time.time() * 1000)
        server.start()

        def reaped_since_restart() -> bool:
            # the reaper has run several times since the server came back
            return int(client.get(keys.reaper_at(centre)) or 0) > restarted_ms + 2000

        poll(reaped_since_restart, "the reaper to run after the restart")
        assert server.http("GET", "/agents/1001")["state"] == "ready"
        paused = server.http("GET", "/agents/1002")
        assert (paused["state"], paused["reason"]) == ("paused", "meal")

        # now the server runs and 1002's desk has gone quiet, while 1001's keeps beating
        def one_logged_out() -> bool:
            server.http("POST", "/agents/1001/heartbeat")
            return bool(server.http("GET", "/agents/1002")["state"] == "offline")

        poll(one_logged_out, "1002 to be logged out for its missing heartbeats", timeout=20)
        assert server.http("GET", "/agents/1002")["reason"] == "heartbeat"
        assert server.http("GET", "/agents/1001")["state"] == "ready"
    finally:
        server.kill()
        client.close()


async def test_a_call_whose_server_died_is_closed_as_server_lost(
    setup: tuple[Path, str, str],
) -> None:
    config, url, database = setup
    centre = load_config(config).queue.settings.centre
    client = sync_client(url, decode_responses=True)
    a = Server(config, url, config.parent / "var-a", database).start()
    b = Server(config, url, config.parent / "var-b", database).start()
    uid = "1790000777.0001"
    try:
        call = asyncio.create_task(
            simulate_call(
                "127.0.0.1",
                a.agi_port,
                to="12345",
                caller="13900000777",
                digits="0",
                uniqueid=uid,
                timeout=60,
            )
        )

        entry = load_config(config).menu.settings.entry

        async def waiting() -> bool:
            # in the queue, and the registry has seen the menu start (the caller is placed at
            # the answer, before the menu's first node)
            if uid not in client.zrange(keys.waiting("general", centre), 0, -1):
                return False
            snap = client.hget(keys.call(uid, centre), "snapshot") or "{}"
            return entry in json.loads(snap).get("path", [])

        await apoll(waiting, "the caller to wait in the queue, past the menu's first node")
        a.kill()  # the caller's AGI session breaks; the caller hangs up and never comes back
        await asyncio.wait_for(call, 20)

        def lost() -> list[dict[str, Any]]:
            db = sqlite3.connect(f"file:{config.parent / 'hotline.db'}?mode=ro", uri=True)
            try:
                db.row_factory = sqlite3.Row
                rows = db.execute("SELECT * FROM call_records WHERE uniqueid = ?", (uid,))
                return [dict(r) for r in rows if r["outcome"] == "server-lost"]
            except sqlite3.OperationalError:
                return []
            finally:
                db.close()

        rows = await asyncio.to_thread(poll, lost, "a server-lost record of the call", 60.0)
        assert len(rows) == 1
        record = rows[0]
        assert record["caller"] == "13900000777"
        assert json.loads(record["path"])[:1] == [entry]
        assert not client.exists(keys.call(uid, centre))
    finally:
        a.kill()
        b.kill()
        client.close()
