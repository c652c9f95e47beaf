"""The Asterisk box is killed (SIGKILL) while a caller waits in the operator queue (issue 18).

A killed Asterisk says nothing: its FastAGI sockets just close, without the ``HANGUP`` a living
Asterisk always sends first. The hotline server tells that apart from a caller hanging up: the
call's record says ``pbx-lost`` (naming the box), the caller leaves the queue at once as
PBXLOST (not ABANDON) and is never offered to an operator. Then the stack's Asterisk is
started again exactly as the session fixture starts it, for the tests that follow.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from ivr.asterisk import local
from ivr.asterisk.pids import running_pid, wait_gone
from tests.e2e.conftest import Stack, poll
from tests.e2e.test_failover import Queue, queue  # noqa: F401 (the fixture)

pytestmark = pytest.mark.asterisk

CALLER = "13970000001"  # a number no other e2e test uses (records are found by it)


def start_asterisk_again(stack: Stack) -> None:
    """As the ``stack`` fixture does: the config installed, then Asterisk started in its root
    with the same bind mounts (after ``stop`` unmounted what the killed one left)."""
    local.stop(stack.root)
    stack.install()
    stack.start_asterisk()


@pytest.mark.timeout(900)  # with the stack's start (the first test of a session)
def test_asterisk_killed_while_a_caller_waits(
    stack: Stack,
    queue: Queue,  # noqa: F811
) -> None:
    sipp = stack.call("12345", CALLER, keys=[(3.0, "0")])
    killed = False
    try:
        uid = stack.wait_queued(CALLER, timeout=60)
        assert queue.entry(uid).get("state") == "waiting", queue.entry(uid)
        pid = running_pid(stack.root)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # no goodbye: no HANGUP on the FastAGI socket
        killed = True
        assert wait_gone(pid, stack.root, 10.0), "Asterisk still runs after SIGKILL"
        started = time.monotonic()
        record = stack.record(CALLER, timeout=30)
        assert record["outcome"] == "pbx-lost", record
        assert "127.0.0.1" in record["outcome_detail"], record
        events = stack.wait_events(uid, {"PBXLOST"}, timeout=30)
        assert "ABANDON" not in events, events
        assert events[0] == "ENTERQUEUE", events
        assert queue.entry(uid) == {} and uid not in queue.waiting()
        # it left at once, not when its lease ran out
        assert time.monotonic() - started < 20
        # and it is never offered: the queue is empty for the operators
        stack.wait_queue_empty(timeout=10)
        # a caller whose box went away is called back (a missed-call task), as an abandon is
        poll(
            lambda: (
                stack.query(
                    "SELECT kind FROM callback_tasks WHERE ref = ? AND kind = 'missed'", uid
                )
                or None
            ),
            lambda: f"no missed-call task for {uid}",
            timeout=30,
        )
    finally:
        sipp.kill()
        if killed or local.status(stack.root).running is False:
            start_asterisk_again(stack)
    assert local.status(stack.root).running
    assert "Asterisk" in stack.rx("core show version")
