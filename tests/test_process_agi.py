"""The pyst2 process-AGI script, driven through pipes the way Asterisk runs it: the header on
stdin, one command per line on stdout, replies on stdin, SIGHUP when the caller hangs up."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ivr.agi.fake_asterisk import FakeAsterisk
from ivr.config.queue_models import AgentSpec, QueueSettings
from ivr.queuewait.script_hub import ScriptHub
from ivr.records.callrows import call_row
from queueing import keys
from queueing.model import QueueRequest
from queueing.queue import RedisQueue
from tests.redis_clients import redis_client

SCRIPT = Path(__file__).resolve().parent.parent / "agi_scripts" / "hotline.agi"


def run_script(
    config_dir: Path,
    redis_url: str,
    fake: FakeAsterisk,
    *,
    header: bytes | None = None,
    after: int | None = None,
    how: str = "",
    press: dict[str, str] | None = None,
    hangup_when: Callable[[list[str]], bool] | None = None,
    gone_when: Callable[[list[str]], bool] | None = None,
) -> tuple[int, list[str], list[dict[str, Any]]]:
    """Run one call. After ``after`` commands the caller goes: ``how`` is ``sighup`` (what
    Asterisk does for process AGI), ``hangup-line`` or ``eof``. ``press``: the caller presses
    the key during the first command containing the text. ``hangup_when(commands)`` true:
    the caller hangs up during the last command, as on Asterisk 22 with process AGI (the
    command's hangup reply, then SIGHUP; then only commands allowed on a dead channel run).
    ``gone_when(commands)`` true: Asterisk dies during the last command (its pipes close,
    no SIGHUP, no reply)."""
    press = dict(press or {})
    hung_up = False
    var = config_dir.parent / "var"
    env = dict(
        os.environ,
        HOTLINE_CONFIG_DIR=str(config_dir),
        HOTLINE_RECORDINGS_DIR=str(config_dir.parent / "recordings"),
        HOTLINE_VAR_DIR=str(var),
        HOTLINE_REDIS_URL=redis_url,
    )
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(header if header is not None else fake.header().encode())
    proc.stdin.flush()
    if how == "eof-in-header":
        proc.stdin.close()
    commands: list[str] = []
    for raw in proc.stdout:
        line = raw.decode().rstrip("\n")
        commands.append(line)
        if after is not None and len(commands) > after:
            if how.startswith("eof"):
                proc.stdin.close()
                break
            if how == "hangup-line":
                proc.stdin.write(b"HANGUP\n")
                proc.stdin.flush()
                continue
            if how == "sighup" and len(commands) == after + 1:
                proc.send_signal(signal.SIGHUP)
        if gone_when is not None and gone_when(commands):
            proc.stdin.close()
            break
        for text in [t for t in press if t in line]:
            fake.digits.insert(0, press.pop(text))
        if hangup_when is not None and not hung_up and hangup_when(commands):
            hung_up = True
            fake.hangup_during = fake.count + 1
            # process AGI gets no HANGUP line: SIGHUP once the reply is written
            reply = [r for r in fake.respond(line) if r != "HANGUP"]
            proc.stdin.write("".join(r + "\n" for r in reply).encode())
            proc.stdin.flush()
            proc.send_signal(signal.SIGHUP)
            continue
        reply = [r for r in fake.respond(line) if not (hung_up and r == "HANGUP")]
        if after is not None and len(commands) > after and how == "sighup":
            # The channel is gone: Asterisk refuses commands that need it.
            reply = ["511 Command Not Permitted on a dead channel or intercept routine"]
        proc.stdin.write("".join(r + "\n" for r in reply).encode())
        proc.stdin.flush()
    if not proc.stdin.closed:
        proc.stdin.close()
    proc.stdout.read()
    code = proc.wait(60)
    journal = var / "calls.jsonl"
    records = [json.loads(x) for x in journal.read_text().splitlines()] if journal.exists() else []
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert "Traceback" not in stderr, stderr
    return code, commands, records


def _queue(redis_url: str, *, staff: bool) -> RedisQueue:
    client = redis_client(redis_url)
    q = RedisQueue(client, QueueSettings(), server="test")

    async def setup() -> None:
        await client.flushdb()
        if staff:
            spec = AgentSpec(id="p1", name="p1", interface="PJSIP/p1", skills={"general": 5})
            await q.login(spec, ready=True)
        await client.aclose()

    asyncio.run(setup())
    return q


def waiting(commands: list[str]) -> bool:
    """The caller waits in the queue: music on, a digit wait."""
    music = any(c.startswith("SET MUSIC on") for c in commands)
    return music and commands[-1].startswith("WAIT FOR DIGIT")


def _occupy(q: RedisQueue, redis_url: str, uniqueid: str) -> None:
    """Another caller takes the only operator, p1 (reserved for it)."""

    async def occupy() -> None:
        q.client = redis_client(redis_url)
        await q.enqueue(QueueRequest(uniqueid, "13900000000", "12345", "general", 0, 1.0))
        await q.client.aclose()

    asyncio.run(occupy())


def _agent_state(redis_url: str, agent_id: str) -> str:
    async def get() -> str:
        q = RedisQueue.from_url(redis_url)
        try:
            return (await q.agent(agent_id)).state
        finally:
            await q.close()

    return asyncio.run(get())


def test_a_call_through_the_pipe_reaches_an_operator(config_copy: Path, redis_url: str) -> None:
    """The process script is a whole server for one call: the caller waits in the Redis
    queue and is put through to the operator the queue picked."""
    _queue(redis_url, staff=True)
    fake = FakeAsterisk(
        to="12345", caller="13800138000", digits="0", script="", dial_status="ANSWER"
    )
    code, commands, records = run_script(config_copy, redis_url, fake)
    assert code == 0
    # the call's state first (one round trip), then the attempt number, then the call
    assert commands[0].startswith('GET FULL VARIABLE "${HOTLINE_SESSION}|${HOTLINE_DONE}|')
    assert commands[1:3] == ['SET VARIABLE "HOTLINE_SESSION" "1"', "ANSWER"]
    assert records[0]["attempt"] == 1
    assert fake.result.variables["HOTLINE_ROUTE"] == "queue"
    assert fake.result.variables["HOTLINE_SKILL"] == "general"
    assert fake.result.variables["HOTLINE_AGENT"] == "p1"
    assert fake.result.variables["HOTLINE_DONE"] == "1"  # the dialplan's failover stops here
    assert fake.result.dialled == ["PJSIP/p1"]
    assert [r["outcome"] for r in records] == ["answered"]
    assert records[0]["path"] == ["main", "operator"] and records[0]["outcome_detail"] == "p1"
    assert _agent_state(redis_url, "p1") == "wrapup"  # the call ended: wrap-up


def test_nobody_staffed_the_pipe_caller_is_never_dropped(config_copy: Path, redis_url: str) -> None:
    """No operator logged in: queue.yaml's overflow for the general skill applies, as on a
    FastAGI server (callback when a dialler runs, else a message that becomes a ticket)."""
    _queue(redis_url, staff=False)
    fake = FakeAsterisk(to="12345", caller="13800138005", digits="0", script="")
    code, _, records = run_script(config_copy, redis_url, fake)
    assert code == 0
    assert fake.result.variables["HOTLINE_ROUTE"] == "message"
    assert fake.result.variables["HOTLINE_DONE"] == "1"
    assert [r["outcome"] for r in records] == ["message"]
    assert fake.result.recorded, "the caller left a message"


def test_merged_line_and_transfer_through_the_pipe(config_copy: Path, redis_url: str) -> None:
    fake = FakeAsterisk(
        to="4960000", caller="13800138001", digits="*91", script="", dial_status="ANSWER"
    )
    code, _, records = run_script(config_copy, redis_url, fake)
    assert code == 0
    assert fake.result.played[0].endswith("line_moved")
    assert fake.result.dialled == ["PJSIP/110@carrier"]
    assert records[-1]["outcome"] == "emergency"


def test_every_way_a_caller_goes_ends_cleanly(config_copy: Path, redis_url: str) -> None:
    for how in ("sighup", "hangup-line", "eof"):
        for after in (0, 2, 5):
            fake = FakeAsterisk(to="12345", caller="13800138002", digits="1", script="")
            code, _, records = run_script(config_copy, redis_url, fake, after=after, how=how)
            assert code == 0, (how, after)
            # stdin closed with no SIGHUP and no HANGUP line: Asterisk itself went away
            outcome = "pbx-lost" if how == "eof" else "hangup"
            assert records[-1]["outcome"] == outcome, (how, after, records[-1])
            assert records[-1]["uniqueid"] == fake.uniqueid


def test_caller_name_cut_mid_character(config_copy: Path, redis_url: str) -> None:
    fake = FakeAsterisk(to="12345", caller="13800138003", caller_name="张三", digits="0", script="")
    header = fake.header().encode().replace("张三".encode(), "张三".encode()[:4])
    code, _, records = run_script(config_copy, redis_url, fake, header=header)
    assert code == 0
    assert records[-1]["outcome"] in ("message", "answered")
    assert records[-1]["caller_name"].startswith("张")


def test_eof_before_the_header_ends(config_copy: Path, redis_url: str) -> None:
    fake = FakeAsterisk(to="12345", caller="13800138004", script="")
    partial = fake.header().encode()[:40]
    code, commands, records = run_script(
        config_copy, redis_url, fake, header=partial, how="eof-in-header"
    )
    assert code == 0
    assert commands == []
    assert records == []


def _events(redis_url: str) -> list[dict[str, str]]:
    """The queue events still in Redis (the servers' pump takes them to queue_log)."""

    async def read() -> list[dict[str, str]]:
        client = redis_client(redis_url, decode_responses=True)
        try:
            entries = await client.xrange(keys.events(QueueSettings().centre)) or []
            return [{str(k): str(v) for k, v in (f or {}).items()} for _, f in entries]
        finally:
            await client.aclose()

    return asyncio.run(read())


def test_the_survey_after_an_answered_call(config_copy: Path, redis_url: str) -> None:
    """The caller stays on the line after the operator hung up: the survey question, a key,
    the thanks; the score is on the call record, which gives the call's survey_score."""
    _queue(redis_url, staff=True)
    fake = FakeAsterisk(
        to="12345", caller="13800138006", digits="0", script="", dial_status="ANSWER"
    )
    code, commands, records = run_script(
        config_copy, redis_url, fake, press={"survey_question": "4"}
    )
    assert code == 0
    assert fake.result.variables["HOTLINE_SURVEYED"] == "1"
    assert any("survey_thanks" in c for c in commands)
    record = records[-1]
    assert record["outcome"] == "answered" and record["hangup_by"] == "agent"
    assert ("survey", "4") in [(e["kind"], e["detail"]) for e in record["events"]]
    assert call_row(record, ZoneInfo("Asia/Shanghai"))["survey_score"] == 4


def test_a_caller_hanging_up_while_waiting_abandons(config_copy: Path, redis_url: str) -> None:
    """The operator is busy with another caller; ours hangs up during its wait (WAIT FOR
    DIGIT ends with -1, then SIGHUP): abandoned, out of the queue at once with ABANDON."""
    q = _queue(redis_url, staff=True)
    _occupy(q, redis_url, "other.1")
    fake = FakeAsterisk(to="12345", caller="13800138007", digits="0", script="")

    code, _, records = run_script(config_copy, redis_url, fake, hangup_when=waiting)
    assert code == 0
    record = records[-1]
    assert record["outcome"] == "abandoned", record
    assert "abandon" in [e["kind"] for e in record["events"]]
    abandons = [e for e in _events(redis_url) if e["event"] == "ABANDON"]
    assert [e["callid"] for e in abandons] == [fake.uniqueid]
    assert not asyncio.run(_entry(redis_url, fake.uniqueid))
    assert _agent_state(redis_url, "p1") == "reserved"  # still for the other caller


def test_a_waiting_caller_whose_asterisk_dies_is_pbx_lost(
    config_copy: Path, redis_url: str
) -> None:
    """Asterisk is killed while the caller waits (its pipes close; no SIGHUP, no HANGUP):
    the record says pbx-lost, naming this host, and the caller leaves the queue at once as
    PBXLOST (offered, not abandoned)."""
    q = _queue(redis_url, staff=True)
    _occupy(q, redis_url, "other.2")
    fake = FakeAsterisk(to="12345", caller="13800138008", digits="0", script="")

    code, _, records = run_script(config_copy, redis_url, fake, gone_when=waiting)
    assert code == 0
    record = records[-1]
    assert record["outcome"] == "pbx-lost", record
    lost = [e for e in record["events"] if e["kind"] == "pbx_lost"]
    assert lost and lost[0]["detail"] == socket.gethostname(), record["events"]
    left = [e["event"] for e in _events(redis_url) if e["callid"] == fake.uniqueid]
    assert "PBXLOST" in left and "ABANDON" not in left, left
    assert not asyncio.run(_entry(redis_url, fake.uniqueid))


async def _entry(redis_url: str, uniqueid: str) -> bool:
    """Whether the caller has an entry in the Redis queue."""
    client = redis_client(redis_url)
    try:
        return bool(await client.exists(keys.entry(uniqueid, QueueSettings().centre)))
    finally:
        await client.aclose()


def test_the_script_reaps_only_while_no_server_does(redis_url: str) -> None:
    """Wrap-ups end while no server's reaper runs; while one runs, the script leaves it the
    work; the operators' heartbeats (their desks talk to the servers) are never judged by
    a script."""

    async def run() -> None:
        client = redis_client(redis_url)
        await client.flushdb()
        now = [1_700_000_000.0]
        q = RedisQueue(client, QueueSettings(wrapup_seconds=10), lambda: now[0], "script")
        spec = AgentSpec(id="p1", name="p1", interface="PJSIP/p1", skills={"general": 5})
        await q.login(spec, ready=True)  # heartbeat due in 60 s
        await q.enqueue(QueueRequest("c1", "13800000000", "12345", "general", 0, now[0]))
        await q.connect("c1", "p1")
        assert await q.complete("c1", "p1") == "wrapup"  # due at +10 s
        hub = ScriptHub(q)
        start = now[0]
        now[0] = start + 9
        await q.tick()  # a server's reaper: nothing due yet
        now[0] = start + 11
        await hub.tick_now()
        assert (await q.agent("p1")).state == "wrapup"  # the server reaps, 2 s ago
        now[0] = start + 15
        await hub.tick_now()  # 6 s without a server: the script reaps
        assert (await q.agent("p1")).state == "ready"
        for later in (200, 202, 208, 214, 290):  # long past the heartbeat deadline
            now[0] = start + later
            await hub.tick_now()
            assert (await q.agent("p1")).state == "ready", later
        assert hub.reaped == 5  # all but +202: a reaper had run 2 s before
        await client.aclose()

    asyncio.run(run())
