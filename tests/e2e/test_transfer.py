"""Operator transfers through the real Asterisk's AMI (queueing/transfer.py, docs/transfers.md).

A citizen (SIPp) presses 0, operator 1001 (a SIPp softphone) answers; then the transfer
service, run here in the test process on the stack's Redis and AMI (the generated user, the
secret in the session's file), transfers the call. 110 leads to a test context of the
module's own (``[hotline-e2e-emergency]``, in extensions-site.conf while the module runs)
that answers, notes the call in AstDB, tells AMI (``UserEvent``) and waits.

- blind: the operator's leg is hung up, the caller's own FastAGI session dials 110: the
  caller's channel sits in the 110 context; the agent goes through wrap-up; the record stays
  ``answered`` and shows the transfer, each leg and the 110 leg's DIALSTATUS.
- threeway: the operator is redirected into the conference room named after the call, the
  caller's session joins it, 110 is originated into it: three channels in one ConfBridge.
- consult, then join: the caller waits alone in its room while the operator talks to 110
  in the consultation room; join brings both into the caller's room.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from ivr.accounts import Accounts
from ivr.asterisk import conf, local
from ivr.compose.transfers import close_transfers, open_transfers
from ivr.config.loader import load_config
from ivr.db.database import Database
from ivr.web import create_app
from ivr.web.call_routes import calls_part
from queueing import keys
from queueing.ami import AMIClient, resolve_secret
from queueing.queue import RedisQueue
from queueing.transfer import Target, TransferResult, TransferService
from tests.api_client import api_token
from tests.e2e.conftest import SITE_CONF, TARGET_CONTEXT, Stack, poll

pytestmark = pytest.mark.asterisk

OPERATOR = "1001"
EMERGENCY_CONTEXT = "hotline-e2e-emergency"
EMERGENCY_CONF = f"""
; test_transfer.py: where the transfers' 110 leads
[{EMERGENCY_CONTEXT}]
exten => _X.,1,Answer()
 same => n,Set(DB(hotline-e2e-xfer/${{EXTEN}})=${{CALLERID(num)}})
 same => n,UserEvent(HotlineE2EEmergency,Exten: ${{EXTEN}})
 same => n,Wait(40)
 same => n,Hangup()
"""
TARGETS = [
    Target("110", "公安 110", "emergency", f"Local/110@{EMERGENCY_CONTEXT}", ring_timeout=10),
]
T = TypeVar("T")


def _install(stack: Stack, extra: str) -> list[str]:
    files = conf.static_files()
    files.update(conf.generate(load_config(stack.config_dir, stack.recordings), stack.opts))
    files["extensions-site.conf"] = SITE_CONF + extra
    local.install_config(stack.root, None, files, modules=conf.static_modules())
    return local.reload_config(stack.root)


@pytest.fixture(scope="module")
def emergency(stack: Stack) -> Iterator[None]:
    assert _install(stack, EMERGENCY_CONF) == []
    try:
        yield
    finally:
        assert stack.install() == []


def run_service(stack: Stack, work: Callable[[TransferService], Awaitable[T]]) -> T:
    """``work(service)`` with a transfer service on the stack's Redis and AMI."""
    bundle = load_config(stack.config_dir, stack.recordings)
    d, t = bundle.queue.dialler, bundle.queue.transfers

    async def main() -> T:
        client = aioredis.Redis.from_url(stack.redis_url)
        ami = AMIClient(d.host, d.port, d.username, resolve_secret(d.secret))
        service = TransferService(
            client, ami, lambda: TARGETS, centre=bundle.queue.settings.centre,
            context=t.context, consult_context=t.consult_context,
        )  # fmt: skip
        try:
            out = await work(service)
            await service.settle(20)  # the third party's Originate, while AMI is connected
            return out
        finally:
            await service.close()
            await ami.close()
            await client.aclose()

    return asyncio.run(main())


def connected_call(stack: Stack, caller: str, tmp_path: Path, talk: float) -> tuple[Any, str]:
    """Caller ``caller`` presses 0 and operator 1001 answers: (its SIPp, the uniqueid)."""
    stack.wait_queue_empty()
    phone = stack.softphone(OPERATOR, tmp_path, ring=1.0, talk=talk)
    assert stack.login(OPERATOR)["state"] in ("ready", "reserved")
    sipp = stack.call("12345", caller, keys=[(3.0, "0")])
    agent = poll(
        lambda: a if (a := stack.agent(OPERATOR))["state"] == "busy" else None,
        lambda: f"{OPERATOR} never busy: {stack.agent(OPERATOR)}",
        timeout=60,
    )
    stack.wait_events(agent["call"], {"CONNECT"}, timeout=20)
    return (sipp, phone), agent["call"]


def emergency_channel(stack: Stack) -> list[str] | None:
    for fields in stack.channels():
        if len(fields) > 5 and fields[1] == EMERGENCY_CONTEXT and fields[5] == "Wait":
            return fields
    return None


def conference_members(stack: Stack, room: str) -> list[str]:
    out = stack.rx(f"confbridge list {room}")
    return [line.split()[0] for line in out.splitlines() if "/" in line.split(" ", 1)[0]]


def events_of(rec: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["kind"], e["detail"]) for e in rec["events"]]


def test_blind_transfer_moves_the_caller_to_110(
    stack: Stack, emergency: None, tmp_path: Path
) -> None:
    caller = "13950000110"
    (sipp, phone), uid = connected_call(stack, caller, tmp_path, talk=60.0)
    try:
        result: TransferResult = run_service(stack, lambda s: s.transfer(OPERATOR, "110", "blind"))
        assert (result.uniqueid, result.mode, result.state) == (uid, "blind", "released")
        assert result.operator_channel.startswith("PJSIP/")
        # the caller's channel is in the 110 test context (its Local channel answered)
        poll(lambda: emergency_channel(stack), lambda: f"nobody in 110: {stack.channels()}",
             timeout=20)  # fmt: skip
        assert stack.rx("database get hotline-e2e-xfer 110").strip().endswith(caller)
        # ... dialled from the caller's own FastAGI session (not redirected away from it)
        fields = stack.channel_of(caller)
        assert fields is not None and fields[5] == "Dial", fields
        assert fields[6].startswith(f"Local/110@{EMERGENCY_CONTEXT},10"), fields
        # the operator's leg is gone; the agent goes through wrap-up
        assert not any(f[0] == result.operator_channel for f in stack.channels())
        events = stack.wait_events(uid, {"COMPLETEAGENT"}, timeout=20)
        assert events[-2:] == ["CONNECT", "COMPLETEAGENT"], events
        poll(lambda: stack.agent(OPERATOR)["state"] in ("wrapup", "ready") or None,
             lambda: f"{stack.agent(OPERATOR)}", timeout=20)  # fmt: skip
        stack.hangup(caller)  # the caller ends the 110 call: its session writes the record
        # the record: answered by 1001, ended by the transfer, each leg in it
        rec = stack.record(caller, timeout=60)
        assert (rec["uniqueid"], rec["outcome"], rec["agent"]) == (uid, "answered", OPERATOR)
        assert rec["hangup_by"] == "transfer"
        kinds = events_of(rec)
        assert ("transfer", f"blind 110 by {OPERATOR}") in kinds, kinds
        legs = [d for k, d in kinds if k == "transfer_leg"]
        assert legs[0] == f"transfer blind 110 (公安 110) by {OPERATOR}", legs
        assert legs[1].startswith("release PJSIP/"), legs
        dial = [d for k, d in kinds if k == "transfer_dial"]
        assert dial == [f"110 Local/110@{EMERGENCY_CONTEXT} ANSWER"], kinds
    finally:
        stack.logout(OPERATOR)
        phone.stop()
        sipp.kill()


def test_threeway_puts_caller_operator_and_110_in_one_conference(
    stack: Stack, emergency: None, tmp_path: Path
) -> None:
    caller = "13950000111"
    (sipp, phone), uid = connected_call(stack, caller, tmp_path, talk=25.0)
    try:
        result: TransferResult = run_service(
            stack, lambda s: s.transfer(OPERATOR, "110", "threeway")
        )
        assert (result.mode, result.state) == ("threeway", "conference")
        members = poll(
            lambda: m if len(m := conference_members(stack, uid)) == 3 else None,
            lambda: f"room {uid}: {stack.rx(f'confbridge list {uid}')}",
            timeout=30,
        )
        assert sum(m.startswith(f"PJSIP/{OPERATOR}") for m in members) == 1, members
        assert sum(m.startswith("Local/110@") for m in members) == 1, members
        caller_channel = stack.channel_of(caller)
        assert caller_channel is not None and caller_channel[0] in members, members
        assert caller_channel[5] == "ConfBridge"  # joined from its own FastAGI session
        time.sleep(2)  # they talk: the room holds
        assert sorted(conference_members(stack, uid)) == sorted(members)
        # the operator stays busy while the caller is in the conference
        assert stack.agent(OPERATOR)["state"] == "busy"
        stack.hangup(caller)  # the caller leaves: its session COMPLETEs the operator
        stack.wait_events(uid, {"COMPLETECALLER"}, timeout=20)
        rec = stack.record(caller, timeout=60)
        assert (rec["outcome"], rec["agent"], rec["hangup_by"]) == (
            "answered", OPERATOR, "transfer"
        )  # fmt: skip
        kinds = events_of(rec)
        assert ("transfer", f"threeway 110 by {OPERATOR}") in kinds, kinds
        legs = [d.split(" ", 1)[0] for k, d in kinds if k == "transfer_leg"]
        assert legs[:2] == ["transfer", "redirect"] and "answer" in legs, kinds
        assert ("conference", f"{uid} enter") in kinds, kinds
    finally:
        stack.logout(OPERATOR)
        phone.stop()
        sipp.kill()


def test_consult_then_join(stack: Stack, emergency: None, tmp_path: Path) -> None:
    caller = "13950000112"
    (sipp, phone), uid = connected_call(stack, caller, tmp_path, talk=30.0)
    try:

        async def consult_then_join(s: TransferService) -> TransferResult:
            started = await s.transfer(OPERATOR, "110", "consult")
            assert started.state == "consulting"
            for _ in range(100):  # 110 answers in the consultation room
                if await s.client.hget(keys.transfer(uid, s.centre), "third"):
                    break
                await asyncio.sleep(0.2)
            return await s.finish(OPERATOR, "join")

        result = run_service(stack, consult_then_join)
        assert result.state == "joined"
        members = poll(
            lambda: m if len(m := conference_members(stack, uid)) == 3 else None,
            lambda: f"room {uid}: {stack.rx(f'confbridge list {uid}')}",
            timeout=30,
        )
        assert any(m.startswith("Local/110@") for m in members), members
        stack.hangup(caller)
        rec = stack.record(caller, timeout=60)
        legs = [d.split(" ", 1)[0] for k, d in events_of(rec) if k == "transfer_leg"]
        assert legs[:2] == ["transfer", "redirect"] and legs[-1] == "join", legs
    finally:
        stack.logout(OPERATOR)
        phone.stop()
        sipp.kill()


def test_consult_then_the_operator_hangs_up_leaves_the_caller_with_110(
    stack: Stack, emergency: None, tmp_path: Path
) -> None:
    """Attended transfer as a switchboard does it: the operator consults, then simply hangs
    up; the consulted party goes on to the caller."""
    caller = "13950000113"
    (sipp, phone), uid = connected_call(stack, caller, tmp_path, talk=60.0)
    try:

        async def consult(s: TransferService) -> TransferResult:
            started = await s.transfer(OPERATOR, "110", "consult")
            for _ in range(100):
                if await s.client.hget(keys.transfer(uid, s.centre), "third"):
                    break
                await asyncio.sleep(0.2)
            return started

        result = run_service(stack, consult)
        room = f"consult-{uid}"
        poll(
            lambda: m if len(m := conference_members(stack, room)) == 2 else None,
            lambda: f"room {room}: {stack.rx(f'confbridge list {room}')}",
            timeout=30,
        )
        assert conference_members(stack, uid) == [stack.channel_of(caller)[0]]  # type: ignore[index]
        stack.rx(f"channel request hangup {result.operator_channel}")
        members = poll(
            lambda: m if len(m := conference_members(stack, uid)) == 2 else None,
            lambda: f"room {uid}: {stack.rx(f'confbridge list {uid}')}",
            timeout=20,
        )
        assert any(m.startswith("Local/110@") for m in members), members
        assert not conference_members(stack, room)
        stack.hangup(caller)
        rec = stack.record(caller, timeout=60)
        assert rec["hangup_by"] == "transfer"
    finally:
        stack.logout(OPERATOR)
        phone.stop()
        sipp.kill()


def test_the_emergency_button_over_http_moves_the_caller_to_110(
    stack: Stack, tmp_path: Path
) -> None:
    """What the desk does: the HTTP app with the transfer routes (calls_part) on the service
    built from the stack's queue.yaml (open_transfers: its 110 leads to the stack's
    ``[hotline-e2e-target]``), the targets for the buttons, then the emergency button."""
    caller = "13950000119"
    (sipp, phone), uid = connected_call(stack, caller, tmp_path, talk=60.0)
    bundle = load_config(stack.config_dir, stack.recordings)
    token = api_token(stack.database_url)
    auth = {"Authorization": f"Bearer {token}"}

    async def press() -> tuple[Any, Any]:
        client = aioredis.Redis.from_url(stack.redis_url)
        queue = RedisQueue(client, bundle.queue.settings, server="test-desk")
        db = Database(stack.database_url)
        service = open_transfers(queue, lambda: bundle.queue, stack.work / "no-ami-secret")
        app = create_app(queue, bundle.agents, Accounts(db), db, parts=[calls_part(service)])
        http = TestClient(TestServer(app))
        await http.start_server()
        try:
            targets = await (await http.get("/api/transfers/targets", headers=auth)).json()
            r = await http.post(
                f"/api/agents/{OPERATOR}/transfer",
                json={"target": "110", "mode": "blind"},
                headers=auth,
            )
            return targets, (r.status, await r.json())
        finally:
            await http.close()
            await close_transfers(service)
            await queue.close()
            db.close()

    try:
        targets, (status, body) = asyncio.run(press())
        assert [t["key"] for t in targets["targets"]][:4] == ["110", "119", "120", "122"]
        assert status == 200, body
        assert (body["uniqueid"], body["state"]) == (uid, "released")
        # the caller reached the 110 test context (it notes the caller in AstDB, hangs up)
        poll(
            lambda: stack.rx(f"database get hotline-e2e {caller}").strip().endswith("110") or None,
            lambda: f"110 never reached: {stack.rx('database show hotline-e2e')}",
            timeout=20,
        )
        rec = stack.record(caller, timeout=60)
        kinds = events_of(rec)
        assert (rec["outcome"], rec["hangup_by"]) == ("answered", "transfer")
        assert ("transfer_dial", f"110 Local/110@{TARGET_CONTEXT} ANSWER") in kinds, kinds
        poll(lambda: stack.agent(OPERATOR)["state"] in ("wrapup", "ready") or None,
             lambda: f"{stack.agent(OPERATOR)}", timeout=20)  # fmt: skip
    finally:
        stack.logout(OPERATOR)
        phone.stop()
        sipp.kill()
