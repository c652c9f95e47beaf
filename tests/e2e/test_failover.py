"""The FastAGI server fails while callers wait in the operator queue: every caller still
reaches an operator, in the original order, and none is dropped.

Three SIP callers (distinct numbers) call 12345 one after another and press 0; nobody is on
duty, so they wait (music on hold, in our server's queue waiter), at places 1, 2, 3. Then the
server that holds them is killed with SIGKILL, no goodbye:

- (a) it is restarted on the same port (a supervisor's restart): the dialplan finds no FastAGI
  server at first, holds the queued callers on music and tries the FastAGI hosts again, and the
  restarted server takes them back;
- (b) two servers are listed as FastAGI hosts and the first one dies: the dialplan goes on to
  the second one at once, which takes the callers over.

Either way each caller re-enters AGI with its route (``queue,general,<priority>``), skips the
menu and resumes its place in Redis (found by uniqueid: RESUME in queue_log with the same
position, the entry now held by the new server, the waiting order unchanged). Meanwhile every
SIPp caller is still on the line. Then operator 1001 goes ready and answers them one by one,
in the original order 1-2-3 (CONNECT order in queue_log), and each call goes as scripted
(SIPp exit 0: the only BYE a caller gets is the hotline's after the survey).

The stack's server is the one killed; it is running again when a test ends (test (a)
restarts it itself, test (b) afterwards), with the stack's normal dialplan.
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from ivr.asterisk import local
from ivr.config.loader import load_config
from queueing import keys
from tests.api_client import api_token, call_api
from tests.conftest import free_port
from tests.e2e.conftest import Stack, poll, with_options
from tests.e2e.sipp import Operator, SippCall

pytestmark = pytest.mark.asterisk


OPERATOR = "1001"
SKILL = "general"
RESTARTED = ("13910000001", "13910000002", "13910000003")  # (a)
TAKEN_OVER = ("13920000001", "13920000002", "13920000003")  # (b)


class Queue:
    """The operator queue as Redis holds it (read only)."""

    def __init__(self, stack: Stack) -> None:
        self.client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
        self.centre = load_config(stack.config_dir, stack.recordings).queue.settings.centre

    def waiting(self, skill: str = SKILL) -> list[str]:
        return list(self.client.zrange(keys.waiting(skill, self.centre), 0, -1))

    def entry(self, uid: str) -> dict[str, str]:
        return dict(self.client.hgetall(keys.entry(uid, self.centre)))

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def queue(stack: Stack) -> Iterator[Queue]:
    stack.wait_queue_empty()
    q = Queue(stack)
    try:
        yield q
    finally:
        q.close()


def http(
    stack: Stack, port: int, method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    """The staff API of the server on ``port`` (it shares the stack's database, so the
    stack's API token)."""
    return call_api(port, api_token(stack.database_url), method, path, body)


def server_id(stack: Stack, log_name: str) -> str:
    """The queue server id the newest server writing ``log_name`` announced at start."""
    text = (stack.work / log_name).read_text("utf-8", "replace")
    ids = re.findall(r"queue server id (\S+)", text)
    assert ids, text[-2000:]
    return ids[-1]


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no session is closed, no lease given back, nothing said to Asterisk."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def place_callers(
    stack: Stack, queue: Queue, numbers: tuple[str, ...], calls: list[SippCall]
) -> None:
    """The callers call 12345 one after another and press 0; each waits in the queue (its
    ENTERQUEUE is in queue_log) at the next place before the next one calls. Their SIPp
    calls go into ``calls``."""
    for n, number in enumerate(numbers, 1):
        calls.append(stack.call("12345", number, keys=[(3.0, "0")]))
        uid = stack.wait_queued(number, timeout=40)
        assert queue.entry(uid)["position"] == str(n)


def uniqueids(stack: Stack, calls: list[SippCall]) -> list[str]:
    uids = [stack.uniqueid(c.caller) for c in calls]
    assert all(uids), uids
    return [u for u in uids if u]


def wait_resumed(stack: Stack, queue: Queue, uids: list[str], server: str) -> None:
    """Every caller re-entered on ``server`` and took up its old place: its entry is held by
    that server and its RESUME (``server|position``) is in queue_log, at the place it had."""

    def resumed() -> list[dict[str, Any]] | None:
        if any(queue.entry(u).get("server") != server for u in uids):
            return None
        rows = [
            stack.query(
                "SELECT data1, data2 FROM queue_log WHERE callid = ? AND event = 'RESUME'", u
            )
            for u in uids
        ]
        return [r[-1] for r in rows] if all(rows) else None

    rows = poll(
        resumed,
        lambda: (
            f"not all resumed on {server}: {[queue.entry(u) for u in uids]} "
            f"{[stack.queue_events(u) for u in uids]}\n{stack.serve_log()}"
        ),
        timeout=90,
    )
    assert rows == [{"data1": server, "data2": str(n)} for n in (1, 2, 3)]
    assert queue.waiting() == uids  # the original order, whatever order they came back in
    assert [queue.entry(u)["position"] for u in uids] == ["1", "2", "3"]


def assert_on_the_line(stack: Stack, calls: list[SippCall]) -> None:
    """Nobody was dropped: each SIPp caller still waits for its call (no BYE came), and its
    channel is up in Asterisk."""
    for sipp in calls:
        assert sipp.proc.poll() is None, f"{sipp.caller} ended early\n{sipp.errors()}"
        assert stack.channel_of(sipp.caller) is not None, stack.channels()


def kept_company(stack: Stack, calls: list[SippCall], offset: int) -> None:
    """After the re-entry each caller is kept company as before: music on hold, then (at the
    announcement time of the new wait) its position, over the same channel."""
    channels = {}
    for sipp in calls:
        fields = stack.channel_of(sipp.caller)
        assert fields is not None, stack.channels()
        channels[sipp.caller] = fields[0]

    def missing() -> list[str]:
        text = "\n".join(stack.log_since(offset))
        out = []
        for caller, chan in channels.items():
            if f"Started music on hold, class 'default', on channel '{chan}'" not in text:
                out.append(f"{caller}: no music on hold on {chan}")
            if f"<{chan}> Playing 'queue-" not in text:
                out.append(f"{caller}: no position announced on {chan}")
        return out

    poll(lambda: True if not missing() else None, lambda: str(missing()), timeout=60)


def staff(stack: Stack, workdir: Path, login: Callable[[str], dict[str, Any]]) -> Operator:
    """Operator 1001's softphone (takes call after call), logged in as ready."""
    phone = stack.softphone(OPERATOR, workdir, ring=0.5, talk=2.0, once=False)
    try:
        # ready, or offered a waiting caller at once
        assert login(OPERATOR)["state"] in ("ready", "reserved")
    except BaseException:
        phone.stop()
        raise
    return phone


def event_at(stack: Stack, uid: str, event: str) -> dt.datetime:
    rows = stack.query(
        "SELECT at FROM queue_log WHERE callid = ? AND event = ? ORDER BY id", uid, event
    )
    assert rows, stack.queue_events(uid)
    return dt.datetime.fromisoformat(str(rows[0]["at"]))


def served_in_order(stack: Stack, calls: list[SippCall], uids: list[str]) -> None:
    """Each caller was answered by the operator, in the original order, and its call went as
    scripted; its queue wait counts from its first place, not from the re-entry."""
    records = [stack.record(c.caller, timeout=120) for c in calls]
    for sipp in calls:
        stack.finish(sipp, hang_up=False)  # the hotline hung up after the survey
    for rec, uid in zip(records, uids, strict=True):
        assert (rec["uniqueid"], rec["outcome"], rec["agent"]) == (uid, "answered", OPERATOR)
        assert rec["skill"] == SKILL
        kinds = [e["kind"] for e in rec["events"]]
        assert "announce" in kinds[kinds.index("resume") :], kinds
        # the menu of the first attempt (from the killed server's snapshot), not again after
        # the failover
        assert rec["path"].count("main") == 1, rec["path"]
    placeholders = ",".join("?" * len(uids))
    connects = poll(
        lambda: (
            rows
            if len(
                rows := stack.query(
                    "SELECT callid, agent FROM queue_log WHERE event = 'CONNECT' "
                    f"AND callid IN ({placeholders}) ORDER BY at, id",
                    *uids,
                )
            )
            >= len(uids)
            else None
        ),
        lambda: f"CONNECTs: {[stack.queue_events(u) for u in uids]}",
        timeout=90,
    )
    assert [(r["callid"], r["agent"]) for r in connects] == [(u, OPERATOR) for u in uids]
    for uid in uids:
        events = stack.queue_events(uid)
        assert events.count("ENTERQUEUE") == 1, events
        assert "ABANDON" not in events, events
        assert events.index("ENTERQUEUE") < events.index("RESUME") < events.index("CONNECT")
    for rec, uid in zip(records, uids, strict=True):
        # the wait on the record includes the time before the failover
        before = event_at(stack, uid, "RESUME") - event_at(stack, uid, "ENTERQUEUE")
        assert rec["queue_wait"] > before.total_seconds(), (rec["queue_wait"], before)


def failover_lines(stack: Stack, offset: int, number: str) -> list[str]:
    return stack.log_since(offset, f" {number}: ")


def test_killed_server_restarted_takes_its_callers_back_in_order(
    stack: Stack, queue: Queue, tmp_path: Path
) -> None:
    """(a) One FastAGI host, killed while three callers wait, restarted on the same port."""
    assert stack.install() == []
    offset = local.log_offset(stack.root)
    phone: Operator | None = None
    calls: list[SippCall] = []
    try:
        place_callers(stack, queue, RESTARTED, calls)
        uids = uniqueids(stack, calls)
        assert queue.waiting() == uids
        before = server_id(stack, "serve.log")
        at_kill = local.log_offset(stack.root)
        kill(stack.server)
        stack.restart_server()
        after = server_id(stack, "serve.log")
        assert after != before
        wait_resumed(stack, queue, uids, after)
        assert_on_the_line(stack, calls)
        kept_company(stack, calls, at_kill)
        for number in RESTARTED:
            lines = failover_lines(stack, offset, number)
            # the dead server's session ended without HOTLINE_DONE: the dialplan held the
            # queued caller and tried the FastAGI host again until the restarted one took it
            assert any("did not finish the call" in line for line in lines), lines
            assert any("FastAGI again" in line for line in lines), lines
            assert not any("process AGI" in line or "static queue" in line for line in lines)
        phone = staff(stack, tmp_path, stack.login)
        served_in_order(stack, calls, uids)
        for number in RESTARTED:
            assert any("served by fastagi" in x for x in failover_lines(stack, offset, number))
    finally:
        for sipp in calls:
            sipp.kill()
        if stack.server.poll() is not None:
            stack.restart_server()
        if phone is not None:
            try:
                stack.logout(OPERATOR)
            finally:
                phone.stop()
    assert phone is not None
    assert not list(phone.workdir.glob("*_errors.log")), phone.errors()


def test_second_server_takes_over_the_callers_of_a_killed_one_in_order(
    stack: Stack, queue: Queue, tmp_path: Path
) -> None:
    """(b) Two FastAGI hosts: the stack's server first, a second one on its own ports (same
    Redis, same database); the first one is killed, the second one takes the callers over."""
    agi_b, http_b = free_port(), free_port()
    second = stack.start_server(
        stack.work / "var-b",
        agi_b,
        http_b,
        log_name="serve-b.log",
        database_url=f"sqlite:///{stack.var / 'hotline.db'}",
    )
    first_url = f"agi://127.0.0.1:{stack.agi_port}/hotline"
    second_url = f"agi://127.0.0.1:{agi_b}/hotline"
    phone: Operator | None = None
    calls: list[SippCall] = []
    try:
        assert stack.install(with_options(stack, agi_urls=(first_url, second_url))) == []
        offset = local.log_offset(stack.root)
        place_callers(stack, queue, TAKEN_OVER, calls)
        uids = uniqueids(stack, calls)
        first = server_id(stack, "serve.log")
        assert [queue.entry(u)["server"] for u in uids] == [first] * 3  # all on the first
        at_kill = local.log_offset(stack.root)
        kill(stack.server)
        wait_resumed(stack, queue, uids, server_id(stack, "serve-b.log"))
        assert_on_the_line(stack, calls)
        # the first server comes back (a supervisor's restart): the callers stay where they are
        stack.restart_server()
        kept_company(stack, calls, at_kill)
        for number in TAKEN_OVER:
            lines = failover_lines(stack, offset, number)
            assert any(f"FastAGI {first_url} did not finish" in x for x in lines), lines
            assert not any("FastAGI again" in x for x in lines), lines  # the second at once
        phone = staff(
            stack,
            tmp_path,
            lambda agent: http(
                stack, http_b, "POST", f"/api/agents/{agent}/login", {"ready": True}
            ),
        )
        served_in_order(stack, calls, uids)
        for number in TAKEN_OVER:
            lines = failover_lines(stack, offset, number)
            assert any("served by fastagi" in x for x in lines), lines
            assert not any(second_url in x and "did not finish" in x for x in lines), lines
    finally:
        for sipp in calls:
            sipp.kill()
        try:
            if phone is not None:
                try:
                    if (
                        http(stack, http_b, "GET", f"/api/agents/{OPERATOR}").get("state")
                        != "offline"
                    ):
                        http(stack, http_b, "POST", f"/api/agents/{OPERATOR}/logout", {})
                finally:
                    phone.stop()
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(40)
            except subprocess.TimeoutExpired:
                second.kill()
                second.wait()
            if stack.server.poll() is not None:
                stack.restart_server()
            stack.install()  # the stack's own dialplan again
    assert phone is not None
    assert not list(phone.workdir.glob("*_errors.log")), phone.errors()
