"""Virtual hold through the real Asterisk: a caller asks to be called back, and the callback
dialler calls the operator first, then the citizen out through the carrier trunk.

The stack's servers dial callbacks through the stack's Asterisk (conftest ``DIALLER_SETTINGS``:
AMI on a port of the session, the secret in a file of the session, the manager.conf and the
``[hotline-callback]`` dialplan generated as ``hotline asterisk up`` makes them), but the
stack's queue.yaml offers no callback. This module runs a server of its own whose queue.yaml
offers it at once (``offer_after_seconds: 0``), on the stack's Redis and database, and points
the dialplan's FastAGI at it and the carrier trunk at a SIPp UAS playing the citizen's phone
for as long as the module runs.

- The caller presses 0, waits, presses the callback key during the offer, hears the
  confirmation; the hotline hangs up (record ``callback``). Operator 1001 (a SIPp UAS
  registered as its PJSIP endpoint) goes ready: AMI Originate rings it, it answers, Asterisk
  dials the citizen through the trunk, the citizen answers, they talk, the operator hangs up:
  CALLBACKDIAL, CONNECT, COMPLETEAGENT in queue_log, the call record gets the operator, the
  operator goes through wrap-up to ready, no missed-call task.
- The citizen's phone rings and nobody answers (twice: ``max_attempts: 2``): the operator
  hears the prompt and is ready again at once; the callback keeps its place (its score) with
  the attempt counted, is dialled again when due, and is then closed as a missed call
  (CALLBACKFAIL twice, ABANDON ``callback``, a missed-call task).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from ivr.asterisk import local
from ivr.config.loader import load_config
from queueing import keys
from tests.conftest import free_port
from tests.e2e.conftest import Stack, poll, with_options
from tests.e2e.sipp import Operator, free_media_port, free_udp_port

pytestmark = pytest.mark.asterisk


OPERATOR = "1001"
CALLED_BACK = "13940000001"
NOT_REACHED = "13940000002"
# 0 at 3 s (a person), then the callback key once the offer is being played (it starts as
# soon as the caller waits, after the transfer prompt)
KEYS = [(3.0, "0"), (14.0, "1")]


# -- phones: SIPp UAS scenarios ---------------------------------------------------------------

_HEAD = """<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="{name}">
  <label id="start"/>
  <recv request="OPTIONS" optional="true" next="ping"/>
  <recv request="INVITE" crlf="true">{capture}</recv>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
"""

# answer after ``ring_ms``, then wait for Asterisk's BYE
_ANSWER_WAIT_BYE = """  <pause milliseconds="{ring_ms}"/>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=phone 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
      a=sendrecv

    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"""

# the INVITE's CSeq number, for the 487 after the CANCEL
_CAPTURE_CSEQ = """
    <action>
      <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="cseq"/>
    </action>
  """

# ring until Asterisk gives up (CANCEL): 200 for the CANCEL, 487 for the INVITE
_RING_NO_ANSWER = """  <recv request="CANCEL"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <send>
    <![CDATA[

      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [$cseq] INVITE
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
"""

_TAIL = """  <nop next="done"/>
  <label id="ping"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag02[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
      Accept: application/sdp
      Content-Length: 0

    ]]>
  </send>
  <label id="done"/>
</scenario>
"""


@dataclass
class Phone:
    """A SIPp UAS: the citizen's phone behind the carrier trunk, or an operator's softphone
    (registered as its PJSIP endpoint) that answers and waits for Asterisk's BYE."""

    proc: subprocess.Popen[bytes]
    workdir: Path
    operator: Operator | None = None

    @classmethod
    def start(
        cls,
        workdir: Path,
        port: int,
        *,
        answer: bool,
        calls: int,
        ring: float = 1.0,
        user: str = "citizen",
        operator: Operator | None = None,
    ) -> Phone:
        workdir.mkdir(parents=True, exist_ok=True)
        body = _ANSWER_WAIT_BYE.format(ring_ms=round(ring * 1000), user=user)
        xml = workdir / "phone.sipp.xml"
        xml.write_text(
            _HEAD.format(
                name=f"hotline e2e {user}", user=user, capture="" if answer else _CAPTURE_CSEQ
            )
            + (body if answer else _RING_NO_ANSWER)
            + _TAIL.format(user=user),
            "utf-8",
        )
        with open(workdir / "sipp.out", "wb") as log:
            proc = subprocess.Popen(
                [
                    *("sipp", "-sf", str(xml), "-i", "127.0.0.1", "-p", str(port)),
                    *("-mi", "127.0.0.1", "-mp", str(free_media_port())),
                    *("-m", str(calls), "-nostdin", "-timeout", "240s", "-timeout_error"),
                    *("-trace_err", "-trace_msg"),
                ],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        return cls(proc, workdir, operator)

    @classmethod
    def operator_phone(cls, stack: Stack, workdir: Path, agent_id: str) -> Phone:
        """The operator's softphone, registered (digest auth) from the port it listens on."""
        agent = stack.sip_agent(agent_id)
        assert agent.endpoint is not None
        reg = Operator(
            agent.endpoint, agent.password, stack.sip_port, None, workdir, free_udp_port()
        )
        workdir.mkdir(parents=True, exist_ok=True)
        assert reg._register(3600) == 0, f"{agent.endpoint} could not register"
        contacts = stack.rx("pjsip show contacts")
        assert f"{agent.endpoint}/sip:{agent.endpoint}@127.0.0.1:{reg.port}" in contacts
        # OPTIONS pings count as calls for SIPp: no call limit, stopped by the test
        phone = cls.start(workdir, reg.port, answer=True, calls=1000, user=agent.endpoint,
                          operator=reg)  # fmt: skip
        reg.proc = phone.proc
        return phone

    def messages(self) -> str:
        return "\n".join(
            p.read_text("utf-8", "replace") for p in sorted(self.workdir.glob("*_messages.log"))
        )

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            return self.proc.wait(10)

    def stop(self) -> None:
        if self.operator is not None:
            self.operator.stop()  # kills the UAS, then unregisters
        elif self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def errors(self) -> str:
        out = []
        for path in sorted(self.workdir.glob("*")):
            if path.name.endswith(("_errors.log", ".out", "_messages.log")):
                out.append(f"--- {path.name}\n{path.read_text('utf-8', 'replace')[-3000:]}")
        return "\n".join(out)


# -- a server that offers the callback --------------------------------------------------------


@dataclass
class CallbackServer:
    proc: subprocess.Popen[bytes]
    log: Path
    citizen_port: int
    centre: str

    def log_text(self) -> str:
        return self.log.read_text("utf-8", "replace")


@pytest.fixture(scope="module")
def server(stack: Stack) -> Iterator[CallbackServer]:
    config = stack.work / "config-callback"
    shutil.copytree(stack.config_dir, config, dirs_exist_ok=True)
    queue_yaml = config / "queue.yaml"
    queue_conf = yaml.safe_load(queue_yaml.read_text("utf-8"))
    queue_conf["callback"].update(enabled=True, offer_after_seconds=0, repeat_seconds=120)
    queue_yaml.write_text(yaml.safe_dump(queue_conf, allow_unicode=True), "utf-8")
    var = stack.work / "var-callback"
    agi_port, http_port, citizen_port = free_port(), free_port(), free_udp_port()
    env = dict(
        os.environ,
        HOTLINE_CONFIG_DIR=str(config),
        HOTLINE_RECORDINGS_DIR=str(stack.recordings),
        HOTLINE_VAR_DIR=str(var),
        HOTLINE_REDIS_URL=stack.redis_url,
        HOTLINE_AGI_HOST="127.0.0.1",
        HOTLINE_AGI_PORT=str(agi_port),
        # the stack's database: every record and queue_log row in one place
        HOTLINE_DATABASE_URL=f"sqlite:///{stack.var / 'hotline.db'}",
    )
    log_path = stack.work / "serve-callback.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ivr.cli", "serve", "--queue-wait", "--http-port",
             str(http_port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=stack.work,
        )  # fmt: skip
    srv = CallbackServer(
        proc, log_path, citizen_port, load_config(config, stack.recordings).queue.settings.centre
    )
    try:
        # its dialler logs in to the stack's Asterisk (the real AMI, the generated user)
        poll(
            lambda: True if "logged in to AMI" in srv.log_text() else None,
            lambda: f"the callback server's dialler did not log in:\n{srv.log_text()[-3000:]}",
            timeout=60,
        )
        poll(  # written once the HTTP app is up too (after the dialler may have logged in)
            lambda: True if (var / "hotline.pid").exists() else None,
            lambda: f"the callback server wrote no pid file:\n{srv.log_text()[-3000:]}",
            timeout=30,
        )
        opts = with_options(
            stack,
            agi_urls=(f"agi://127.0.0.1:{agi_port}/hotline",),
            carrier_contact=f"sip:127.0.0.1:{citizen_port}",
        )
        assert stack.install(opts) == []
        yield srv
    finally:
        try:
            assert stack.install() == []
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(40)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture
def queue(stack: Stack, server: CallbackServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    yield client
    client.close()


def ask_for_callback(stack: Stack, caller: str) -> str:
    """The caller waits, presses the callback key, hears the confirmation; the hotline hangs
    up. Returns its uniqueid (the callback's)."""
    stack.wait_queue_empty()
    sipp = stack.call("12345", caller, keys=KEYS)
    uid = stack.wait_queued(caller, timeout=60)
    rec = stack.record(caller, timeout=90)
    assert (rec["uniqueid"], rec["outcome"]) == (uid, "callback"), rec
    assert rec["path"] == ["main", "operator"] and rec["skill"] == "general"
    stack.finish(sipp, hang_up=False)  # the hotline hung up after the confirmation
    events = stack.wait_events(uid, {"ENTERQUEUE", "CALLBACKREQUEST"})
    assert "CONNECT" not in events and "ABANDON" not in events
    return uid


def queue_rows(stack: Stack, uid: str) -> list[dict[str, Any]]:
    return stack.query(
        "SELECT event, agent, data1, data2, data3, data4 FROM queue_log WHERE callid = ? "
        "ORDER BY id",
        uid,
    )


def agent_state(stack: Stack, agent_id: str, *states: str) -> dict[str, Any]:
    def fetch() -> dict[str, Any] | None:
        agent = stack.agent(agent_id)
        return agent if agent["state"] in states else None

    return poll(fetch, lambda: f"{agent_id} not {states}: {stack.agent(agent_id)}", timeout=30)


def test_the_dialler_is_logged_in_to_the_real_ami(stack: Stack, server: CallbackServer) -> None:
    """Both servers' diallers hold an AMI session as the generated user, and Asterisk's own
    manager.conf allows only loopback."""
    connected = stack.rx("manager show connected")
    user = load_config(stack.config_dir, stack.recordings).queue.dialler.username
    assert connected.count(user) >= 2, connected
    users = stack.rx(f"manager show user {user}")
    assert "originate" in users and "127.0.0.1" in users, users


def test_a_caller_asks_for_a_callback_and_is_called_back_through_the_trunk(
    stack: Stack, server: CallbackServer, tmp_path: Path
) -> None:
    uid = ask_for_callback(stack, CALLED_BACK)
    citizen = Phone.start(tmp_path / "citizen", server.citizen_port, answer=True, calls=1)
    phone = stack.softphone(OPERATOR, tmp_path, ring=1.0, talk=8.0)
    try:
        assert stack.login(OPERATOR)["state"] in ("ready", "reserved")
        # the operator's phone rings (AMI Originate), it answers; Asterisk dials the citizen
        # through the trunk; the citizen answers: CONNECT at that moment
        agent = agent_state(stack, OPERATOR, "busy")
        assert agent["call"] == uid
        stack.wait_events(uid, {"CONNECT"}, timeout=30)
        assert phone.wait(60) == 0, phone.errors()  # it talked 8 s and hung up
        assert citizen.wait(30) == 0, citizen.errors()  # Asterisk's BYE
        events = stack.wait_events(uid, {"COMPLETEAGENT"}, timeout=30)
        assert events == [
            "ENTERQUEUE", "CALLBACKREQUEST", "CALLBACKDIAL", "CONNECT", "COMPLETEAGENT"
        ]  # fmt: skip
        rows = {r["event"]: r for r in queue_rows(stack, uid)}
        assert (rows["CALLBACKDIAL"]["data1"], rows["CALLBACKDIAL"]["data2"]) == (
            CALLED_BACK, stack.sip_agent(OPERATOR).interface
        )  # fmt: skip
        assert rows["CONNECT"]["agent"] == OPERATOR
        assert rows["COMPLETEAGENT"]["agent"] == OPERATOR
        assert int(rows["COMPLETEAGENT"]["data2"]) >= 3  # they talked
        # what each phone saw: the operator a callback, the citizen the hotline's number
        op_invite = phone_invite(Path(phone.workdir))
        assert "回拨 " + CALLED_BACK in op_invite, op_invite
        invite = phone_invite(citizen.workdir)
        assert f"INVITE sip:{CALLED_BACK}@127.0.0.1:{server.citizen_port}" in invite, invite
        assert "sip:12345@" in invite and "回拨" not in invite, invite
        # the operator goes through the wrap-up to ready; the call record knows who answered
        agent_state(stack, OPERATOR, "wrapup", "ready")
        agent_state(stack, OPERATOR, "ready")
        rec = poll(
            lambda: next(iter(stack.query(
                "SELECT outcome, agent, queue_wait FROM call_records WHERE uniqueid = ? AND "
                "agent IS NOT NULL", uid)), None),
            lambda: f"no agent on the record of {uid}",
            timeout=15,
        )  # fmt: skip
        assert (rec["outcome"], rec["agent"]) == ("callback", OPERATOR)
        assert rec["queue_wait"] is not None and rec["queue_wait"] > 0
        # the promised callback was a 漏接回拨 task from the request on, done by itself when
        # the dialler's call reached the citizen
        tasks = poll(
            lambda: [
                t for t in stack.query(
                    "SELECT kind, state FROM callback_tasks WHERE call_uniqueid = ?", uid
                ) if t["state"] == "done"
            ] or None,
            lambda: f"callback task of {uid}: "
            f"{stack.query('SELECT * FROM callback_tasks WHERE call_uniqueid = ?', uid)}",
            timeout=15,
        )  # fmt: skip
        assert [(t["kind"], t["state"]) for t in tasks] == [("missed", "done")]
    finally:
        stack.logout(OPERATOR)
        phone.stop()
        citizen.stop()


def test_a_caller_who_does_not_answer_keeps_its_place_then_is_left_as_a_missed_call(
    stack: Stack, server: CallbackServer, queue: redis.Redis, tmp_path: Path
) -> None:
    uid = ask_for_callback(stack, NOT_REACHED)
    entry_key = keys.entry(uid, server.centre)
    score = queue.hget(entry_key, "score")
    offset = local.log_offset(stack.root)
    # the citizen's phone rings, nobody answers (twice); the operator answers both times
    citizen = Phone.start(tmp_path / "citizen", server.citizen_port, answer=False, calls=2)
    phone = Phone.operator_phone(stack, tmp_path / "op", OPERATOR)
    try:
        assert stack.login(OPERATOR)["state"] in ("ready", "reserved")
        stack.wait_events(uid, {"CALLBACKFAIL"}, timeout=60)
        # attempt 1 of 2: the callback keeps its place (its score) and waits to be tried again
        entry = queue.hgetall(entry_key)
        assert (entry["state"], entry["attempts"], entry["score"]) == ("retry", "1", score)
        assert queue.zscore(keys.callback_retries(server.centre), uid) is not None
        # the operator heard the prompt and is ready again, not paused
        agent_state(stack, OPERATOR, "ready", "reserved")
        # due again (retry_after_seconds: 5): dialled again; not answered again: closed
        events = stack.wait_events(uid, {"ABANDON"}, timeout=90)
        assert events == [
            "ENTERQUEUE", "CALLBACKREQUEST", "CALLBACKDIAL", "CALLBACKFAIL", "CALLBACKDIAL",
            "CALLBACKFAIL", "ABANDON",
        ]  # fmt: skip
        rows = [r for r in queue_rows(stack, uid) if r["event"] in ("CALLBACKFAIL", "ABANDON")]
        assert [(r["data1"], r["data2"], r["data3"], r["data4"]) for r in rows] == [
            ("NOANSWER", "1", "2", "5"), ("NOANSWER", "2", "2", ""),
            ("0", rows[2]["data2"], rows[2]["data3"], "callback"),
        ]  # fmt: skip
        assert queue.exists(entry_key) == 0
        # never dropped: a missed-call task (漏接回拨) for the operators
        tasks = poll(
            lambda: stack.query(
                "SELECT kind, caller, state FROM callback_tasks WHERE call_uniqueid = ?", uid
            ) or None,
            lambda: f"no missed-call task for {uid}",
            timeout=15,
        )  # fmt: skip
        assert tasks == [{"kind": "missed", "caller": NOT_REACHED, "state": "open"}]
        assert citizen.wait(30) == 0, citizen.errors()
        played = stack.log_since(offset, "queue_callback_noanswer")
        assert len([line for line in played if "Playback" in line]) == 2, played
        agent_state(stack, OPERATOR, "ready")
        assert "CONNECT" not in events
    finally:
        stack.logout(OPERATOR)
        phone.stop()
        citizen.stop()


def phone_invite(workdir: Path) -> str:
    """The first INVITE a SIPp phone received (from its message trace)."""
    text = "\n".join(
        p.read_text("utf-8", "replace") for p in sorted(workdir.glob("*_messages.log"))
    )
    start = text.find("INVITE sip:")
    assert start >= 0, text[-2000:]
    return text[start : start + 1500]
