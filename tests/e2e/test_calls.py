"""Real SIP calls through a real Asterisk 22 into our FastAGI server (see conftest.py).

The calls of the first group are placed at once (``batch``) and run side by side, since the
shipped prompts are long (a silent caller listens to the menu twice, about 85 s); each test
then checks its own call. The failover tests run afterwards: they reconfigure the dialplan.
No operator is logged in meanwhile: a caller who reaches the queue waits there (the server
runs the queue waiter), so each test waits for the caller's ENTERQUEUE, hangs the caller up,
and finds the call recorded as abandoned. Calls answered by operators: test_operators.py.

Key times are seconds after SIPp's ACK, i.e. after the hotline answered. Prompt lengths
(espeak-ng): welcome 10.7 s, main_menu 23.4 s, line_moved 12.2 s, policy_menu 22.5 s,
emergency_menu 16.3 s, emergency_connecting 6.1 s; keys are sent well inside them.
"""

from __future__ import annotations

import re
import subprocess
import time
import wave
from pathlib import Path
from typing import Any

import pytest

from ivr.asterisk import conf, local
from ivr.config.loader import load_config
from tests.e2e.conftest import Stack, dead_agi_urls, with_options
from tests.e2e.sipp import Operator, SippCall, free_udp_port

pytestmark = pytest.mark.asterisk

SILENT = "13800000001"  # (a)
MERGED = "13800000002"  # (b) 04716960120: merged, with the area code, skill enterprise
PARALLEL = "13800000003"  # (b) 12333: parallel, the department's own seats
SUBMENU = "13800000004"  # (c) 1 (policy) then 1 (social security)
EMERGENCY = "13800000005"  # (d) *9 then 1 (police, 110)
UNKNOWN = "13800000006"  # a number that is not ours: served as 12345
FAILOVER = "13800000007"  # (e) FastAGI down -> process AGI
LAST_RESORT = "13800000008"  # (e) FastAGI down, process AGI broken -> static queue


@pytest.fixture(scope="module")
def batch(stack: Stack) -> dict[str, SippCall]:
    assert stack.install() == []
    return {
        SILENT: stack.call("12345", SILENT, caller_name="市民张三"),
        MERGED: stack.call("04716960120", MERGED, keys=[(17.0, "0")]),
        PARALLEL: stack.call("12333", PARALLEL),
        SUBMENU: stack.call("12345", SUBMENU, keys=[(3.0, "1"), (6.0, "1")]),
        EMERGENCY: stack.call("12345", EMERGENCY, keys=[(3.0, "*9"), (7.0, "1")]),
        UNKNOWN: stack.call("8888888", UNKNOWN, keys=[(3.0, "0")]),
    }


def kinds(rec: dict[str, Any], kind: str) -> list[str]:
    return [e["detail"] for e in rec["events"] if e["kind"] == kind]


def left_the_queue(stack: Stack, sipp: SippCall) -> dict[str, Any]:
    """Wait until ``sipp``'s caller waits in the operator queue, hang it up there, and return
    its call record (written when the call ended)."""
    uid = stack.wait_queued(sipp.caller)
    assert stack.channel_of(sipp.caller) is not None  # still on the line, with the music
    stack.finish(sipp)
    rec = stack.record(sipp.caller)
    assert rec["uniqueid"] == uid
    assert rec["outcome"] == "abandoned"
    assert stack.wait_events(uid, {"ENTERQUEUE", "ABANDON"})[0] == "ENTERQUEUE"
    return dict(rec)


def test_generated_config_loads_cleanly_into_asterisk(stack: Stack) -> None:
    offset = local.log_offset(stack.root)
    assert local.reload_config(stack.root) == []
    inbound = stack.rx("dialplan show hotline-inbound")
    bundle = load_config(stack.config_dir, stack.recordings)
    for number, _ in conf.dialled_numbers(bundle):
        assert f"'{number}' =>" in inbound, number
    assert "'_[+*#0-9A-Za-z].' =>" in inbound
    carrier = stack.rx("pjsip show endpoint carrier")
    assert re.search(r"dtmf_mode\s*:\s*rfc4733", carrier)
    assert re.search(r"context\s*:\s*hotline-inbound", carrier)
    assert "hotline-all" in stack.rx("queue show hotline-all")
    assert "Directory:" in stack.rx("moh show classes")
    # nothing at all went wrong since the start, in the whole log
    assert stack.log_since(stack.log_start, "] ERROR[") == []
    assert local.log_problems(stack.root, offset) == []


def test_operator_endpoints_from_agents_file_register_with_digest_auth(
    stack: Stack, tmp_path: Path
) -> None:
    agents = (
        conf.Agent("2001", "王芳", "PJSIP/op2001", "op2001", "s3cret-2001"),
        conf.Agent("2002", "李强", "PJSIP/op2002", "op2002", "s3cret-2002"),
        conf.Agent("2003", "张敏", "Local/2003@operators"),
    )
    opts = with_options(stack, agents=agents, agents_source="test operators")
    try:
        assert stack.install(opts) == []
        endpoints = stack.rx("pjsip show endpoints")
        assert "op2001" in endpoints and "op2002" in endpoints
        members = stack.rx("queue show hotline-all")
        for interface in ("PJSIP/op2001", "PJSIP/op2002", "Local/2003@operators"):
            assert interface in members
        assert "'op2002' =>" in stack.rx("dialplan show operators")
        # a softphone registers as op2002 with its password; a wrong one is refused
        assert _register(stack, tmp_path / "ok", "op2002", "s3cret-2002") == 0
        assert "op2002" not in stack.rx("pjsip show contacts")  # it unregistered
        assert _register(stack, tmp_path / "bad", "op2001", "wrong") != 0
    finally:
        assert stack.install() == []


def _register(stack: Stack, workdir: Path, user: str, password: str) -> int:
    workdir.mkdir(parents=True)
    xml = workdir / "register.sipp.xml"
    xml.write_text(REGISTER_XML.format(user=user, password=password), "utf-8")
    return subprocess.run(
        [
            *("sipp", f"127.0.0.1:{stack.sip_port}", "-sf", str(xml), "-m", "1"),
            *("-i", "127.0.0.1", "-p", str(free_udp_port()), "-nostdin"),
            *("-timeout", "15s", "-timeout_error", "-trace_err"),
        ],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    ).returncode


def test_silent_caller_to_12345_ends_in_the_operator_queue(
    stack: Stack, batch: dict[str, SippCall]
) -> None:
    """(a) Pressing nothing: queued at answer, the recording notice, the menu twice, then the
    operator queue node, skill general, where the caller waits (nobody is logged in) until
    hanging up."""
    offset = stack.log_start
    rec = left_the_queue(stack, batch[SILENT])
    assert rec["channel"].startswith("PJSIP/carrier-")
    assert (rec["dialled"], rec["line_number"], rec["caller_name"]) == ("12345", None, "市民张三")
    assert rec["path"] == ["main", "operator"]
    assert rec["skill"] == "general" and rec["queue_position"] >= 1
    assert rec["digits"] == ""
    bundle = load_config(stack.config_dir, stack.recordings)
    main = bundle.menu.nodes["main"]
    tolerated = getattr(main, "max_no_input", None)
    if tolerated is None:
        tolerated = bundle.menu.settings.max_no_input
    assert len(kinds(rec, "timeout")) == tolerated + 1
    prompts = kinds(rec, "prompt")
    assert prompts[:3] == ["call_recorded", "welcome", "main_menu"] and "queue_wait" in prompts
    # Heard, not just sent: STREAM FILE returns when the file has been played, so the first
    # silence comes no earlier than the welcome and the menu last; and Asterisk found every
    # file (a missing one makes AGISTATUS=FAILURE and is logged as "does not exist").
    heard = sum(_seconds(stack.recordings / "prompts" / f"{n}.wav") for n in prompts[:3])
    first_timeout = next(e["offset"] for e in rec["events"] if e["kind"] == "timeout")
    assert first_timeout >= heard + bundle.menu.settings.timeout - 0.5, (first_timeout, heard)
    assert stack.log_since(offset, "does not exist") == []
    # the caller hung up in the FastAGI layer: no other layer was tried
    assert stack.log_since(offset, f"hotline {rec['uniqueid']} ") == []


def _seconds(wav: Path) -> float:
    with wave.open(str(wav)) as w:
        return w.getnframes() / w.getframerate()


def test_merged_legacy_number_with_area_code_reaches_its_skill(
    stack: Stack, batch: dict[str, SippCall]
) -> None:
    """(b) 0471-6960120 (企业开办咨询电话, merged): the move announcement, then 12345's menu;
    0 reaches a person with the line's skill."""
    rec = left_the_queue(stack, batch[MERGED])
    assert (rec["dialled"], rec["line_number"], rec["line_mode"]) == (
        "6960120",
        "6960120",
        "merged",
    )
    assert kinds(rec, "prompt")[:3] == ["line_moved", "call_recorded", "welcome"]
    assert rec["digits"] == "0" and rec["path"] == ["main", "operator"]
    assert rec["skill"] == "enterprise"


def test_parallel_legacy_number_reaches_the_departments_seats(
    stack: Stack, batch: dict[str, SippCall]
) -> None:
    """(b) 12333 (人社, parallel): no menu, straight to the department's skill. Nobody of
    the department is logged in and a parallel line does not widen to 12345's operators, so
    the caller is not left waiting with no end: it leaves a message (留言), which is a task
    with its recording."""
    rec = stack.record(PARALLEL, timeout=180)
    assert (rec["line_number"], rec["line_mode"], rec["department"]) == (
        "12333",
        "parallel",
        "social_security",
    )
    assert rec["path"] == []
    assert rec["skill"] == "social_security"
    assert rec["outcome"] == "message", (rec["outcome"], rec["outcome_detail"])
    tasks = stack.query(
        "SELECT kind, recording FROM callback_tasks WHERE call_uniqueid = ?", rec["uniqueid"]
    )
    assert [t["kind"] for t in tasks] == ["message"]
    assert tasks[0]["recording"].startswith("messages/"), tasks
    stack.finish(batch[PARALLEL], hang_up=False)  # the hotline ended the call


def test_dtmf_navigates_into_a_submenu(stack: Stack, batch: dict[str, SippCall]) -> None:
    """(c) 1 during the welcome opens the policy menu; 1 there reaches social security."""
    rec = left_the_queue(stack, batch[SUBMENU])
    assert rec["path"] == ["main", "policy", "social_security"]
    assert kinds(rec, "digit") == ["1", "1"]
    assert rec["skill"] == "social_security"
    assert "policy_menu" in kinds(rec, "prompt")


def test_emergency_key_reaches_the_emergency_dial_string(
    stack: Stack, batch: dict[str, SippCall]
) -> None:
    """(d) *9 from the main menu, then 1: the police line is dialled and answers; the
    dialplan then ends the call (an answered transfer counts as finished)."""
    rec = stack.record(EMERGENCY)
    assert rec["path"] == ["main", "emergency", "police"]
    assert kinds(rec, "digit") == ["*9", "1"]
    assert kinds(rec, "emergency") == [""]
    assert (rec["outcome"], rec["outcome_detail"]) == ("emergency", "Local/110@hotline-e2e-target")
    assert kinds(rec, "dial") == ["ANSWER"]
    # the target really got the call (it noted the caller in AstDB)
    deadline = time.monotonic() + 10
    while "110" not in stack.rx(f"database get hotline-e2e {EMERGENCY}"):
        assert time.monotonic() < deadline, stack.rx("database show hotline-e2e")
        time.sleep(0.2)
    stack.finish(batch[EMERGENCY], hang_up=False)  # the dialplan hung up: SIPp got a BYE


def test_unknown_number_is_served_as_12345(stack: Stack, batch: dict[str, SippCall]) -> None:
    rec = left_the_queue(stack, batch[UNKNOWN])
    assert (rec["dialled"], rec["line_number"]) == ("12345", None)
    assert rec["path"] == ["main", "operator"] and rec["skill"] == "general"


def test_fastagi_down_fails_over_to_the_process_script(stack: Stack, tmp_path: Path) -> None:
    """(e) Both FastAGI hosts refuse: the pyst2 process script serves the call (its own
    journal here) with the same Redis queue: the caller waits there, never dropped, and the
    operator who goes ready answers. The operator-answered gosub finds no server (both are
    down) and the bridge goes ahead all the same."""
    dead = dead_agi_urls(2)
    offset = local.log_offset(stack.root)
    stack.wait_queue_empty()
    assert stack.install(with_options(stack, agi_urls=dead)) == []
    phone: Operator | None = None
    try:
        sipp = stack.call("12345", FAILOVER, keys=[(3.0, "0")])
        uid = stack.wait_queued(FAILOVER)  # its ENTERQUEUE, pumped by the server
        fields = stack.channel_of(FAILOVER)
        assert fields is not None and fields[5] == "AGI" and "hotline.agi" in fields[6]
        phone = stack.softphone("1003", tmp_path, ring=1.0, talk=2.0)
        # ready, and at once reserved for the caller who waits
        assert stack.login("1003")["state"] in ("ready", "reserved")
        rec = stack.record(FAILOVER, process=True, timeout=90)
        assert rec["uniqueid"] == uid
        assert rec["path"] == ["main", "operator"]
        assert (rec["outcome"], rec["outcome_detail"], rec["skill"]) == (
            "answered", "1003", "general",
        )  # fmt: skip
        assert rec["channel"].startswith("PJSIP/carrier-")
        assert phone.wait(30) == 0, phone.errors()
        stack.finish(sipp, hang_up=False)  # the process script finished: the dialplan hung up
        assert "CONNECT" in stack.wait_events(uid, {"ENTERQUEUE", "CONNECT"})
        tried = " ".join(stack.log_since(offset, f" {FAILOVER}: FastAGI "))
        assert dead[0] in tried and dead[1] in tried
        assert stack.log_since(offset, f" {FAILOVER}: no FastAGI server finished")
        assert stack.log_since(offset, f" {FAILOVER}: served by process")
    finally:
        if phone is not None:
            stack.logout("1003")
            phone.stop()
        assert stack.install() == []


def test_fastagi_and_process_script_down_reach_the_static_queue(stack: Stack) -> None:
    """(e) Nothing of ours answers (the process script cannot load its config): the
    caller waits in the static app_queue of all operators, with music on hold."""
    broken = conf.process_agi_for_paths(
        config_dir=stack.work / "no-such-config",
        recordings_dir=stack.recordings,
        var_dir=stack.var_process,
        redis_url=stack.redis_url,
    )
    offset = local.log_offset(stack.root)
    assert stack.install(with_options(stack, agi_urls=dead_agi_urls(1), process_agi=broken)) == []
    try:
        sipp = stack.call("12345", LAST_RESORT)
        fields = stack.wait_channel(LAST_RESORT, "Queue", timeout=30)
        assert fields[6].startswith("hotline-all,")
        assert fields[0] in stack.rx("queue show hotline-all")
        assert stack.log_since(offset, f" {LAST_RESORT}: the process AGI script did not finish")
        assert stack.log_since(offset, f" {LAST_RESORT}: static queue hotline-all")
        stack.finish(sipp)
    finally:
        assert stack.install() == []


REGISTER_XML = """<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="operator softphone registers, then unregisters">
  <send retrans="500">
    <![CDATA[

      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{user}@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Expires: 60
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true"/>
  <send retrans="500">
    <![CDATA[

      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{user}@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:{user}@[local_ip]:[local_port]>
      [authentication username={user} password={password}]
      Expires: 60
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
  <send retrans="500">
    <![CDATA[

      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{user}@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 3 REGISTER
      Contact: <sip:{user}@[local_ip]:[local_port]>
      [authentication username={user} password={password}]
      Expires: 0
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""
