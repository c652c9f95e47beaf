"""Callers reach operators: real SIP calls through the stack's Asterisk into our server's queue
waiter (``hotline serve --queue-wait``), which dials the operator's softphone. The operators are
SIPp UAS processes registered with digest auth as the PJSIP endpoints of agents.yaml (1001,
1002), and log in over the server's HTTP API, as an agent desk does.

These tests run one after another, each with its own operators (logged out and unregistered at
its end), so that no caller of another test is offered to them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ivr.asterisk import local
from tests.e2e.conftest import Stack
from tests.e2e.sipp import Operator

pytestmark = pytest.mark.asterisk

ANSWERED = "13900000001"
ABANDONED = "13900000002"
NO_ANSWER = "13900000003"
LOCAL = "13900000004"


class Desk:
    """Operators on duty for one test: their softphones, logged in as ready."""

    def __init__(self, stack: Stack, workdir: Path) -> None:
        self.stack = stack
        self.workdir = workdir
        self.phones: dict[str, Operator] = {}

    def staff(self, agent_id: str, **kwargs: Any) -> Operator:
        agent = self.stack.sip_agent(agent_id)
        phone = self.stack.softphone(agent_id, self.workdir, **kwargs)
        self.phones[agent_id] = phone
        contacts = self.stack.rx("pjsip show contacts")
        assert f"{agent.endpoint}/sip:{agent.endpoint}@127.0.0.1:{phone.port}" in contacts
        assert self.stack.login(agent_id)["state"] == "ready"
        return phone

    def close(self) -> None:
        try:
            for agent_id in self.phones:
                self.stack.logout(agent_id)
        finally:
            for phone in self.phones.values():
                phone.stop()


@pytest.fixture
def desk(stack: Stack, tmp_path: Path) -> Iterator[Desk]:
    stack.wait_queue_empty()
    d = Desk(stack, tmp_path)
    try:
        yield d
    finally:
        d.close()


def test_silent_caller_reaches_a_ready_operator_who_answers(stack: Stack, desk: Desk) -> None:
    """Pressing nothing: the menu twice, the queue, and operator 1001's softphone rings; the
    operator answers, talks, hangs up; the caller hears the survey and the hotline hangs up."""
    phone = desk.staff("1001", ring=1.0, talk=6.0)
    offset = local.log_offset(stack.root)
    sipp = stack.call("12345", ANSWERED, caller_name="市民李四")
    uid = stack.wait_queued(ANSWERED)
    # the moment the operator picks up (the Dial U() gosub), not when the call ends: busy
    # during the conversation, CONNECT already in queue_log
    _wait_agent(stack, "1001", "busy", timeout=60)
    assert stack.agent("1001")["call"] == uid
    assert stack.wait_events(uid, {"CONNECT"})[-1] == "CONNECT"
    rec = stack.record(ANSWERED, timeout=120)
    assert rec["uniqueid"] == uid
    assert (rec["outcome"], rec["agent"], rec["skill"]) == ("answered", "1001", "general")
    # queued at answer, the operator ready: rung as soon as the recording notice ended, the
    # menu cut short by the offer (no fallback to the operator node)
    assert rec["path"] == ["main"] and rec["digits"] == ""
    assert ("offer", "during the menu") in [(e["kind"], e["detail"]) for e in rec["events"]]
    assert rec["queue_wait"] is not None and 0 <= rec["queue_wait"] < 30
    assert rec["duration"] > rec["queue_wait"] + 6  # the menu, the wait, the 6 s talk
    assert phone.wait(30) == 0, phone.errors()
    stack.finish(sipp, hang_up=False)  # the hotline hung up after the survey
    # MixMonitor recorded the conversation (both sides) where the call record says
    # the record keeps the path relative to the recordings root
    assert rec["recording"] == f"calls/{rec['recording'].split('/')[1]}/{uid}.wav"
    wav = stack.recordings / rec["recording"]
    assert wav.parent == stack.recordings / "calls" / wav.parent.name and wav.name == f"{uid}.wav"
    assert _poll(lambda: (wav.exists() and wav.stat().st_size > 44) or None, 15), wav
    with wave.open(str(wav)) as w:
        assert w.getframerate() == 8000
        assert w.getnframes() / w.getframerate() >= 5  # the 6 s conversation
    events = stack.wait_events(uid, {"ENTERQUEUE", "CONNECT"})
    assert events[0] == "ENTERQUEUE"
    assert events.index("CONNECT") < len(events) - 1
    assert {"COMPLETEAGENT", "COMPLETECALLER"} & set(events[events.index("CONNECT") :])
    connect = stack.query(
        "SELECT agent, queue FROM queue_log WHERE callid = ? AND event = 'CONNECT'", uid
    )
    assert connect == [{"agent": "1001", "queue": "general"}]
    assert stack.agistatus(uid, offset) == "SUCCESS"  # served by our server: no other layer
    # an answered call logs no Asterisk ERROR (the answered gosub is looked up with
    # DIALPLAN_EXISTS, a function the generated modules.conf must load)
    assert stack.log_since(offset, "ERROR[") == []
    # after the wrap-up the operator is ready again
    _wait_agent(stack, "1001", "ready")
    # the call carried its ticket number to the operator (HOTLINE_TICKET); the ticket the
    # operator accepts for the call, answered on the spot, takes that number
    [reserved] = stack.query("SELECT number FROM ticket_reservations WHERE call_uniqueid = ?", uid)
    assert any(e["kind"] == "ticket" and e["detail"] == reserved["number"] for e in rec["events"])
    env = dict(os.environ, HOTLINE_CONFIG_DIR=str(stack.config_dir), HOTLINE_VAR_DIR=str(stack.var))
    accept = [
        "tickets", "accept", uid, "--type", "consult", "--category", "housing.property",
        "--content", "物业费收费标准咨询", "--answer", "已告知收费标准", "--by", "1001",
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "ivr.cli", *accept], env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert reserved["number"] in done.stdout
    [ticket] = stack.query("SELECT number, caller, state FROM tickets WHERE call_uniqueid = ?", uid)
    assert ticket == {"number": reserved["number"], "caller": ANSWERED, "state": "finished"}


def test_caller_hanging_up_while_waiting_is_abandoned_with_a_callback_task(
    stack: Stack,
) -> None:
    """Nobody is on duty: the caller (0: an operator) waits with music, then hangs up."""
    sipp = stack.call("12345", ABANDONED, keys=[(3.0, "0")], hangup_after=25.0)
    uid = stack.wait_queued(ABANDONED, timeout=20)
    rec = stack.record(ABANDONED, timeout=60)
    stack.finish(sipp, hang_up=False)  # SIPp's own BYE
    assert (rec["uniqueid"], rec["outcome"], rec["agent"]) == (uid, "abandoned", None)
    assert rec["path"] == ["main", "operator"] and rec["skill"] == "general"
    events = stack.wait_events(uid, {"ENTERQUEUE", "ABANDON"})
    assert "CONNECT" not in events
    tasks = _poll(
        lambda: stack.query(
            "SELECT kind, caller, state FROM callback_tasks WHERE call_uniqueid = ?", uid
        )
    )
    assert tasks == [{"kind": "missed", "caller": ABANDONED, "state": "open"}]


def test_operator_who_does_not_answer_is_paused_and_the_next_one_serves(
    stack: Stack, desk: Desk
) -> None:
    """1001 (level 8 for general) is offered the caller first and refuses (486 Busy); it is
    paused "no answer" and the caller goes to 1002 (level 6), who answers."""
    busy = desk.staff("1001", busy=True, ring=1.0)
    phone = desk.staff("1002", ring=1.0, talk=2.0)
    sipp = stack.call("12345", NO_ANSWER, keys=[(3.0, "0")])
    uid = stack.wait_queued(NO_ANSWER, timeout=20)
    rec = stack.record(NO_ANSWER, timeout=90)
    assert (rec["uniqueid"], rec["outcome"], rec["agent"]) == (uid, "answered", "1002")
    assert busy.wait(30) == 0, busy.errors()
    assert phone.wait(30) == 0, phone.errors()
    stack.finish(sipp, hang_up=False)
    state = stack.agent("1001")
    assert (state["state"], state["reason"]) == ("paused", "no answer")
    rows = stack.query("SELECT agent, event FROM queue_log WHERE callid = ? ORDER BY id", uid)
    assert {"agent": "1001", "event": "RINGNOANSWER"} in rows
    assert [r["agent"] for r in rows if r["event"] == "CONNECT"] == ["1002"]
    _wait_agent(stack, "1002", "ready")


def _poll(fetch: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def _wait_agent(stack: Stack, agent_id: str, state: str, timeout: float = 15.0) -> None:
    got = _poll(lambda: stack.agent(agent_id)["state"] == state or None, timeout)
    assert got, stack.agent(agent_id)


def test_operator_behind_a_local_interface_answers(stack: Stack, desk: Desk) -> None:
    """An interface is any dial string: operator 1005 is ``Local/1005@operators`` in
    agents.yaml, which the generated [operators] context puts through to PJSIP/1005."""
    phone = desk.staff("1005", ring=1.0, talk=2.0)
    sipp = stack.call("12345", LOCAL, keys=[(3.0, "0")])
    uid = stack.wait_queued(LOCAL)
    rec = stack.record(LOCAL, timeout=120)
    assert rec["uniqueid"] == uid
    assert (rec["outcome"], rec["outcome_detail"]) == ("answered", "1005")
    assert phone.wait(30) == 0, phone.errors()
    stack.finish(sipp, hang_up=False)
    connect = stack.query("SELECT agent FROM queue_log WHERE callid = ? AND event = 'CONNECT'", uid)
    assert connect == [{"agent": "1005"}]
