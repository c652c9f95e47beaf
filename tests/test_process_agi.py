"""The pyst2 process-AGI script, driven through pipes the way Asterisk runs it: the header on
stdin, one command per line on stdout, replies on stdin, SIGHUP when the caller hangs up."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from ivr.agi.simulator import FakeAsterisk
from queueing.config import AgentSpec, QueueSettings
from queueing.queue import RedisQueue

SCRIPT = Path(__file__).resolve().parent.parent / "agi_scripts" / "hotline.agi"


def run_script(
    config_dir: Path,
    redis_url: str,
    fake: FakeAsterisk,
    *,
    header: bytes | None = None,
    after: int | None = None,
    how: str = "",
) -> tuple[int, list[str], list[dict[str, Any]]]:
    """Run one call. After ``after`` commands the caller goes: ``how`` is ``sighup`` (what
    Asterisk does for process AGI), ``hangup-line`` or ``eof``."""
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
        reply = fake.respond(line)
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
    client = aioredis.Redis.from_url(redis_url)
    q = RedisQueue(client, QueueSettings(), server="test")

    async def setup() -> None:
        await client.flushdb()
        if staff:
            spec = AgentSpec(id="p1", name="p1", interface="PJSIP/p1", skills={"general": 5})
            await q.login(spec, ready=True)
        await client.aclose()

    asyncio.run(setup())
    return q


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
            assert records[-1]["outcome"] == "hangup", (how, after, records[-1])
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
