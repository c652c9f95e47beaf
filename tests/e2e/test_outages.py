"""Redis and the database go away while citizens call, through the real Asterisk 22.

- **Redis forgets** (FLUSHALL; a restart without persistence; a crash and restart with AOF
  persistence) while three callers wait for the social-security seats (12333, a parallel
  line: of the operators logged in only 1003 has the skill, and 1003 is at lunch) and
  operators 1001 and 1004 are ready for other skills. Nobody is dropped (every SIPp caller
  stays on the line), the callers keep their order, the operators keep their states; when
  1003 comes back it answers them in the original order; queue_log has each caller's
  ENTERQUEUE and CONNECT exactly once and no ABANDON; each caller has one record, answered
  by 1003.
  These run on a hotline server and a redis-server of the test's own, so that Redis can be
  restarted; Asterisk is pointed at that server for the test.
- **The database is locked** for a minute while 20 citizens call and four operators answer:
  no caller waits on it (all 20 are put through while it is locked, as the queue_log file
  shows), and once it is free each call has exactly one record, each with its own ticket
  number.
"""

from __future__ import annotations

import dataclasses
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from ivr.config.loader import load_config
from queueing import keys
from tests.conftest import free_port
from tests.e2e.conftest import Stack, poll, with_options
from tests.e2e.sipp import Operator
from tests.queueing.own_redis import OwnRedis

pytestmark = pytest.mark.asterisk

LINE, SKILL = "12333", "social_security"  # parallel: straight to the department's seats
CALLERS = ("13930000001", "13930000002", "13930000003")
OPERATORS = ("1001", "1002", "1003", "1004")


@pytest.fixture
def own(stack: Stack, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The stack with a hotline server and a redis-server of this test's own; Asterisk sends
    its calls to that server until the test ends."""
    stack.wait_queue_empty()
    aof = request.param == "crash with AOF"
    rds = OwnRedis(tmp_path / "redis", appendonly=aof)
    rds.workdir.mkdir(parents=True, exist_ok=True)
    rds.start()
    var, agi, http = tmp_path / "var", free_port(), free_port()
    mine = dataclasses.replace(stack, redis_url=rds.url)
    mine = dataclasses.replace(
        mine, server=mine.start_server(var, agi, http, log_name=f"serve-{tmp_path.name}.log"),
        var=var, agi_port=agi, http_port=http,
    )  # fmt: skip
    mine.redis_server = rds  # type: ignore[attr-defined]
    mine.outage = request.param  # type: ignore[attr-defined]
    stack.install(with_options(stack, agi_urls=(f"agi://127.0.0.1:{agi}/hotline",)))
    first = len(stack.calls)
    try:
        yield mine
    finally:
        # hang this test's callers up in Asterisk (a killed SIPp sends no BYE): none of them
        # may wander into the stack's own queue once Asterisk is pointed back at it
        for sipp in mine.calls[first:]:
            stack.hangup(sipp.caller)
            sipp.kill()
        stack.install()
        if mine.server.poll() is None:
            mine.server.send_signal(signal.SIGTERM)
            try:
                mine.server.wait(40)
            except subprocess.TimeoutExpired:
                mine.server.kill()
        rds.stop()


@pytest.mark.parametrize(
    "own", ["FLUSHALL", "restart without persistence", "crash with AOF"], indirect=True
)
def test_redis_forgets_and_the_hotline_does_not(own: Stack, tmp_path: Path) -> None:
    rds: OwnRedis = own.redis_server  # type: ignore[attr-defined]
    centre = load_config(own.config_dir, own.recordings).queue.settings.centre
    phone = own.softphone("1003", tmp_path, ring=0.5, talk=2.0, once=False)
    try:
        assert own.login("1001")["state"] == "ready"
        assert own.login("1004")["state"] == "ready"
        own.login("1003", ready=False)
        own.http("POST", "/api/agents/1003/pause", {"reason": "meal"})
        calls, uids = [], []
        for number in CALLERS:
            calls.append(own.call(LINE, number))
            uids.append(own.wait_queued(number, timeout=60))

        client = redis.Redis.from_url(rds.url, decode_responses=True)
        try:
            assert client.zrange(keys.waiting(SKILL, centre), 0, -1) == uids
            mode: str = own.outage  # type: ignore[attr-defined]
            if mode == "FLUSHALL":
                client.flushall()
            else:
                if mode == "restart without persistence":
                    client.shutdown(nosave=True)
                    assert rds.proc is not None
                    rds.proc.wait(10)
                else:
                    rds.stop()  # SIGKILL: a crash
                time.sleep(3.0)  # Redis is away for a few seconds
                rds.start()

            def restored() -> list[str] | None:
                try:
                    waiting = [str(u) for u in client.zrange(keys.waiting(SKILL, centre), 0, -1)]
                except redis.ConnectionError:
                    return None
                return waiting if len(waiting) == len(uids) else None

            assert poll(restored, lambda: "the callers back in Redis", 30) == uids
        finally:
            client.close()
        for sipp in calls:
            assert sipp.proc.poll() is None, f"{sipp.caller} was dropped: {sipp.errors()}"
        assert own.agent("1001")["state"] == "ready"
        assert own.agent("1004")["state"] == "ready"
        assert (own.agent("1003")["state"], own.agent("1003")["reason"]) == ("paused", "meal")

        own.http("POST", "/api/agents/1003/ready", {})
        records = [own.record(number, timeout=90) for number in CALLERS]
        assert [(r["outcome"], r["agent"]) for r in records] == [("answered", "1003")] * 3
        for sipp in calls:
            own.finish(sipp, hang_up=False)
        connects = own.query("SELECT callid FROM queue_log WHERE event = 'CONNECT' ORDER BY at, id")
        assert [r["callid"] for r in connects] == uids
        for uid in uids:
            events = own.wait_events(uid, {"ENTERQUEUE", "CONNECT"})
            assert events.count("ENTERQUEUE") == 1 and events.count("CONNECT") == 1, events
            assert "ABANDON" not in events
            rows = own.query("SELECT count(*) AS n FROM call_records WHERE uniqueid = ?", uid)
            assert rows[0]["n"] == 1
    finally:
        for agent_id in ("1001", "1003", "1004"):
            own.logout(agent_id)
        phone.stop()


@pytest.mark.parametrize("own", ["restart without persistence"], indirect=True)
def test_a_caller_whose_server_died_is_closed_as_server_lost(own: Stack, tmp_path: Path) -> None:
    """The caller waits; its server is killed; the caller hangs up on the music before any
    server takes it back. A second server (same Redis, same database) closes the call with a
    `server-lost` record within a minute, from what Redis knew of it."""
    second = own.start_server(
        tmp_path / "var-second", free_port(), free_port(), log_name=f"serve-{tmp_path.name}-2.log",
        database_url=f"sqlite:///{own.var / 'hotline.db'}",
    )  # fmt: skip
    number = "13930000099"
    # 1003 is logged in (paused): the department is staffed, its caller waits for it (this
    # test's own Redis goes with the test: no logout needed)
    own.login("1003", ready=False)
    try:
        sipp = own.call(LINE, number)
        uid = own.wait_queued(number, timeout=60)
        own.server.send_signal(signal.SIGKILL)
        own.server.wait(10)
        own.hangup(number)  # the caller gives up while the dialplan tries the server again
        own.finish(sipp, hang_up=False)

        def lost() -> list[dict[str, Any]] | None:
            rows = own.query("SELECT * FROM call_records WHERE uniqueid = ?", uid)
            return rows if rows and rows[0]["outcome"] == "server-lost" else None

        rows = poll(lost, lambda: f"a server-lost record of {uid}", 90)
        assert len(rows) == 1 and rows[0]["caller"] == number
        assert rows[0]["skill"] == SKILL  # what Redis knew of the call: it was in the queue
        events = own.wait_events(uid, {"ENTERQUEUE", "ABANDON"})
        assert events.count("ABANDON") == 1 and "CONNECT" not in events
    finally:
        if second.poll() is None:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(40)
            except subprocess.TimeoutExpired:
                second.kill()


def test_calls_are_put_through_while_the_database_is_locked(stack: Stack, tmp_path: Path) -> None:
    stack.wait_queue_empty()
    phones: dict[str, Operator] = {}
    db_path = stack.var / "hotline.db"
    lock = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    queue_log = stack.var / "queue_log"

    def connects() -> int:
        text = queue_log.read_text("utf-8", "replace") if queue_log.exists() else ""
        return text.count("|CONNECT|")

    before = connects()
    callers = [f"1393100{i:04d}" for i in range(20)]
    try:
        for agent_id in OPERATORS:
            phones[agent_id] = stack.softphone(agent_id, tmp_path, ring=0.5, talk=1.0, once=False)
            assert stack.login(agent_id)["state"] == "ready"
        lock.execute("BEGIN EXCLUSIVE")  # no writer gets in for a minute
        locked_at = time.monotonic()
        calls = [stack.call("12345", c, keys=[(3.0, "0")]) for c in callers]

        def all_connected() -> bool | None:
            return connects() - before >= len(callers) or None

        poll(all_connected, lambda: "20 callers put through while the database is locked", 55)
        assert time.monotonic() - locked_at < 60, "the lock ended before the calls did"
        remaining = 60 - (time.monotonic() - locked_at)
        if remaining > 0:
            time.sleep(remaining)  # the rest of the minute of the outage
        lock.execute("ROLLBACK")
        records: dict[str, Any] = {c: stack.record(c, timeout=120) for c in callers}
        for sipp in calls:
            stack.finish(sipp, hang_up=False)
        assert {r["outcome"] for r in records.values()} == {"answered"}
        tickets = []
        for rec in records.values():
            rows = stack.query(
                "SELECT count(*) AS n FROM call_records WHERE uniqueid = ?", rec["uniqueid"]
            )
            assert rows[0]["n"] == 1
            numbers = [e["detail"] for e in rec["events"] if e["kind"] == "ticket"]
            assert len(numbers) == 1, rec["events"]
            tickets.append(numbers[0])
        assert len(set(tickets)) == len(callers)
    finally:
        if lock.in_transaction:
            lock.execute("ROLLBACK")
        lock.close()
        for agent_id, phone in phones.items():
            try:
                stack.logout(agent_id)
            finally:
                phone.stop()
