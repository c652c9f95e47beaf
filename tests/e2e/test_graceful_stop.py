"""A graceful stop (SIGTERM) of the hotline server on an existing Asterisk wired the simplest
way (the admin's plain ``AGI()`` re-entered until ``HOTLINE_DONE=1``, see test_reentry.py),
while

- (a) three callers wait in the queue (nobody free to take them),
- (b) one caller talks to an operator (a SIP softphone that talks for a while),
- (c) one caller is in the survey after an answered call (and presses nothing).

Then a server is started again on the same port (a supervisor's restart, once the stopping
one has exited). What the people on the line see:

- the talking call goes on to its end on the stopping server (operator's BYE, the survey,
  the hotline's BYE: SIPp exit 0); so does the survey;
- nobody is put through twice: each caller's CONNECT is in queue_log once, the survey caller
  is never queued again (one ENTERQUEUE) nor rung to an operator again;
- the waiting callers are handed back with their places (no ABANDON, even though the stop
  takes longer than a queue lease), and the restarted server puts them through in their
  original order;
- each caller has one call record, ``answered``; the waiting callers' records hold the
  handed-back attempt too.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from ivr.asterisk import local
from tests.e2e.conftest import Stack, poll
from tests.e2e.sipp import Operator, SippCall
from tests.e2e.test_failover import Queue, server_id
from tests.e2e.test_reentry import (
    ADMIN_NUMBER,
    admin,  # noqa: F401 - the fixture: the admin's plain-AGI context
    call_in,
    connects,
    records_of,
    uid_of,
    wait_all_answered,
)

pytestmark = pytest.mark.asterisk

WAITING = tuple(f"1395000{n:04d}" for n in range(1, 4))  # (a)
TALKING, SURVEYED = "13950000010", "13950000011"  # (b), (c)
TALKER, SURVEYOR, TAKER = "1002", "1003", "1004"  # their operators; the restarted server's
#: how long (b) talks: until well after the SIGTERM (about 5 s after it answers), and long
#: enough for the stop to outlast a queue lease (30 s) and its renewal period
TALK_SECONDS = 45.0


def pause_after_call(stack: Stack, agent: str, uid: str) -> None:
    """``agent`` just logged in ready and was offered ``uid``: it takes no call after it."""
    state = stack.agent(agent)
    assert state["state"] in ("reserved", "busy") and state.get("call") == uid, state
    stack.http("POST", f"/api/agents/{agent}/pause", {"reason": "break"})


def connected(stack: Stack, uid: str, timeout: float = 60.0) -> None:
    stack.wait_events(uid, {"CONNECT"}, timeout=timeout)


def completed(stack: Stack, uid: str) -> bool | None:
    return True if any(e.startswith("COMPLETE") for e in stack.queue_events(uid)) else None


@pytest.mark.timeout(900)  # with the stack's start (the first test of a session)
def test_sigterm_waiting_talking_surveyed(
    stack: Stack,
    admin: Queue,  # noqa: F811
    tmp_path: Path,
) -> None:
    offset = local.log_offset(stack.root)
    phones: list[Operator] = []
    calls: list[SippCall] = []
    stopped = False
    try:
        # (b) the talking caller, (c) the survey caller, then (a) the three others: all wait
        talking = stack.call(ADMIN_NUMBER, TALKING, keys=[(3.0, "0")])
        calls.append(talking)
        t_uid = stack.wait_queued(TALKING, timeout=60)
        surveyed = stack.call(ADMIN_NUMBER, SURVEYED, keys=[(3.0, "0")])
        calls.append(surveyed)
        s_uid = stack.wait_queued(SURVEYED, timeout=60)
        calls.extend(call_in(stack, WAITING, admin))
        order = poll(
            lambda: w if len(w := admin.waiting()) == 2 + len(WAITING) else None,
            lambda: f"waiting: {admin.waiting()}",
            timeout=60,
        )
        assert order[:2] == [t_uid, s_uid], order
        w_order = order[2:]
        by_uid = {uid_of(stack, c.caller): c.caller for c in calls[2:]}
        assert sorted(w_order) == sorted(by_uid)

        # (b) operator TALKER takes the head of the queue and talks for a long while
        phones.append(stack.softphone(TALKER, tmp_path, ring=0.5, talk=TALK_SECONDS))
        stack.login(TALKER)
        pause_after_call(stack, TALKER, t_uid)
        connected(stack, t_uid)
        # (c) operator SURVEYOR takes the next one, talks briefly and hangs up: the caller is
        # in the survey, and presses nothing
        phones.append(stack.softphone(SURVEYOR, tmp_path, ring=0.5, talk=2.0))
        stack.login(SURVEYOR)
        pause_after_call(stack, SURVEYOR, s_uid)
        connected(stack, s_uid)
        poll(
            lambda: completed(stack, s_uid),
            lambda: f"{SURVEYED}: {stack.queue_events(s_uid)}\n{stack.serve_log()}",
            timeout=60,
        )

        # SIGTERM: the survey is under way, the other call still talking, three waiting
        assert surveyed.proc.poll() is None, surveyed.errors()
        assert completed(stack, t_uid) is None, stack.queue_events(t_uid)
        assert talking.proc.poll() is None, talking.errors()
        assert admin.waiting() == w_order
        before = server_id(stack, "serve.log")
        stack.server.send_signal(signal.SIGTERM)
        stopped = True

        # the talking call and the survey finish on the stopping server: the operator's BYE,
        # the survey, the hotline's BYE
        stack.finish(surveyed, hang_up=False)
        stack.finish(talking, hang_up=False)
        for phone in phones:
            assert phone.wait(60) == 0, phone.errors()
        # the stopping server exits once they are over; the waiting callers meanwhile keep
        # going round the admin's context, their places kept in Redis (no ABANDON)
        stack.server.wait(120)
        assert admin.waiting() == w_order, "handed back with their places"
        for sipp in calls[2:]:
            assert sipp.proc.poll() is None, f"{sipp.caller} was dropped\n{sipp.errors()}"

        # a server again on the same port: the waiting callers re-enter and are taken up
        stack.restart_server()
        after = server_id(stack, "serve.log")
        assert after != before
        poll(
            lambda: True if all(admin.entry(u).get("server") == after for u in w_order) else None,
            lambda: f"not all taken back: {[admin.entry(u) for u in w_order]}",
            timeout=90,
        )
        assert admin.waiting() == w_order, "the original order, whatever order they came back"
        phones.append(stack.softphone(TAKER, tmp_path, ring=0.5, talk=1.0, once=False))
        assert stack.login(TAKER)["state"] in ("ready", "reserved")
        callers = tuple(by_uid[u] for u in w_order)
        wait_all_answered(stack, callers, w_order)
        assert [(r["callid"], r["agent"]) for r in connects(stack, w_order)] == [
            (u, TAKER) for u in w_order
        ]
        for sipp in calls[2:]:
            stack.finish(sipp, hang_up=False)  # the hotline hung up after the survey

        # nobody put through twice, nobody queued again, nobody abandoned
        expected = {t_uid: TALKER, s_uid: SURVEYOR} | {u: TAKER for u in w_order}
        for uid, agent in expected.items():
            events = stack.queue_events(uid)
            assert events.count("ENTERQUEUE") == 1, (uid, events)
            assert events.count("CONNECT") == 1, (uid, events)
            assert "ABANDON" not in events and "RINGNOANSWER" not in events, (uid, events)
            rows = stack.query(
                "SELECT agent FROM queue_log WHERE callid = ? AND event = 'CONNECT'", uid
            )
            assert [r["agent"] for r in rows] == [agent], (uid, rows)
        # one record each, with its final outcome
        for caller in (TALKING, SURVEYED, *callers):
            stack.record(caller, timeout=60)
            rows = records_of(stack, caller)
            assert len(rows) == 1, rows
            assert rows[0]["outcome"] == "answered", rows
        for caller, agent in ((TALKING, TALKER), (SURVEYED, SURVEYOR)):
            row = records_of(stack, caller)[0]
            assert row["agent"] == agent and row["attempts"] == 1, row
        for caller in callers:
            row = records_of(stack, caller)[0]
            assert row["agent"] == TAKER, row
            attempts = row["attempts"]
            assert isinstance(attempts, int) and attempts >= 2, row  # the handed-back one too
            assert '"handed_back"' in str(row["events"]), row["events"]
        assert stack.log_since(offset, f"admin {ADMIN_NUMBER} "), "the context re-entered"
    finally:
        for sipp in calls:
            sipp.kill()
        if stopped and stack.server.poll() is None:
            try:
                stack.server.wait(60)
            except subprocess.TimeoutExpired:
                stack.server.kill()
                stack.server.wait(10)
        if stack.server.poll() is not None:
            stack.restart_server()
        try:
            for agent in (TALKER, SURVEYOR, TAKER):
                stack.logout(agent)
        finally:
            for phone in phones:
                phone.stop()
