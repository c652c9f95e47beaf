"""A supervisor listens to an operator's call on the real Asterisk (ivr/web/spy_routes.py,
docs/wallboard.md): a citizen (SIPp) presses 0 and operator 1001 (a SIPp softphone) answers;
the supervisor's button (``POST /api/agents/1001/spy``, the HTTP app run here on the stack's
Redis, database and AMI user) rings the supervisor's own phone, agent 1002's seat (a SIPp
softphone registered as PJSIP/1002, named in agents.yaml ``supervisors``), which answers
into ChanSpy on the operator's channel. The supervisor hangs up and the call goes on; it
barges in again; when the caller hangs up, the spy ends with it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from ivr.accounts import Accounts
from ivr.compose.transfers import open_manager
from ivr.config.loader import load_config
from ivr.config.queue_models import AgentsFile, SupervisorPhone
from ivr.db.database import Database
from ivr.web import create_app
from ivr.web.spy_routes import spy_part
from queueing.queue import RedisQueue
from tests.api_client import api_token
from tests.e2e.conftest import Stack, poll
from tests.e2e.test_transfer import OPERATOR, connected_call

pytestmark = pytest.mark.asterisk

SUPERVISOR = "tests-supervisor"  # the account api_token makes
PHONE_SEAT = "1002"


def spies(stack: Stack) -> list[list[str]]:
    """The channels running ChanSpy (``core show channels concise``)."""
    return [f for f in stack.channels() if len(f) > 6 and f[5] == "ChanSpy"]


def test_a_supervisor_listens_on_its_own_phone(stack: Stack, tmp_path: Path) -> None:
    caller = "13950000150"
    (sipp, phone), uid = connected_call(stack, caller, tmp_path, talk=60.0)
    supervisor = stack.softphone(PHONE_SEAT, tmp_path, ring=0.5, talk=60.0, once=False)
    bundle = load_config(stack.config_dir, stack.recordings)
    seat = f"PJSIP/{stack.sip_agent(PHONE_SEAT).endpoint}"
    agents = AgentsFile(
        agents=bundle.agents.agents, supervisors=[SupervisorPhone(user=SUPERVISOR, phone=seat)]
    )
    auth = {"Authorization": f"Bearer {api_token(stack.database_url)}"}

    async def press(mode: str) -> tuple[int, Any]:
        client = aioredis.Redis.from_url(stack.redis_url)
        queue = RedisQueue(client, bundle.queue.settings, server="test-spy")
        db = Database(stack.database_url)
        ami = open_manager(bundle.queue, stack.work / "no-ami-secret")
        assert ami is not None, "the stack's queue.yaml has the AMI user on"
        app = create_app(queue, agents, Accounts(db), db, parts=[spy_part(lambda: ami)])
        http = TestClient(TestServer(app))
        await http.start_server()
        try:
            r = await http.post(f"/api/agents/{OPERATOR}/spy", json={"mode": mode}, headers=auth)
            return r.status, await r.json()
        finally:
            await http.close()
            await ami.close()
            await queue.close()
            db.close()

    try:
        status, body = asyncio.run(press("listen"))
        assert status == 200, body
        operator = body["operator_channel"]
        assert operator.startswith(f"PJSIP/{OPERATOR}-"), body
        assert (body["uniqueid"], body["phone"], body["options"]) == (uid, seat, "qE")
        # the supervisor's phone answered into ChanSpy on the operator's channel
        spy = poll(
            lambda: s[0] if (s := spies(stack)) else None,
            lambda: f"no ChanSpy channel: {stack.channels()}",
            timeout=30,
        )
        assert spy[0].startswith(seat + "-"), spy
        assert spy[6] == f"{operator},qE", spy
        # the operator's call goes on, untouched
        assert stack.agent(OPERATOR)["state"] == "busy"
        assert any(f[0] == operator for f in stack.channels())
        # the audit row of the press
        db = Database(stack.database_url)
        try:
            rows = Accounts(db).audit_log(20)
        finally:
            db.close()
        row = next(r for r in rows if r["action"] == "agent.spy")
        assert (row["actor"], row["target"]) == (SUPERVISOR, f"agent:{OPERATOR}")
        assert row["after"]["channel"] == operator
        # the supervisor hangs up: the call goes on; then barges in on it
        stack.rx(f"channel request hangup {spy[0]}")
        poll(
            lambda: True if not spies(stack) else None,
            lambda: f"ChanSpy still runs: {spies(stack)}",
            timeout=30,
        )
        assert stack.agent(OPERATOR)["state"] == "busy"
        assert any(f[0] == operator for f in stack.channels())
        status, body = asyncio.run(press("barge"))
        assert (status, body["options"], body["operator_channel"]) == (200, "qBE", operator)
        barge = poll(
            lambda: s[0] if (s := spies(stack)) else None,
            lambda: f"no ChanSpy channel: {stack.channels()}",
            timeout=30,
        )
        assert barge[0] != spy[0] and barge[6] == f"{operator},qBE", barge
        # the caller hangs up: the operator's channel ends, and ChanSpy with it (E)
        stack.hangup(caller)
        poll(
            lambda: True if not spies(stack) else None,
            lambda: f"ChanSpy still runs: {spies(stack)}",
            timeout=30,
        )
        # nobody on a call any more: the button says so
        poll(
            lambda: stack.agent(OPERATOR)["state"] != "busy" or None,
            lambda: f"{stack.agent(OPERATOR)}",
            timeout=30,
        )
        status, body = asyncio.run(press("whisper"))
        assert (status, body["error_id"]) == (409, "HL-WEB-050"), body
    finally:
        stack.logout(OPERATOR)
        supervisor.stop()
        phone.stop()
        sipp.kill()
