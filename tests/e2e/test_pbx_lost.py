"""The Asterisk box is killed (SIGKILL) while a caller waits in the operator queue (issue 18).

A killed Asterisk says nothing: its FastAGI sockets just close, without the ``HANGUP`` a living
Asterisk always sends first. The hotline server tells that apart from a caller hanging up: the
call's record says ``pbx-lost`` (naming the box), the caller leaves the queue at once as
PBXLOST (not ABANDON) and is never offered to an operator. Then the stack's Asterisk is
started again exactly as the session fixture starts it, for the tests that follow. The same
through the process-AGI script (no FastAGI server answering): the orphaned script reads the
end of its pipe with no SIGHUP.
"""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from ivr.asterisk import conf, local
from ivr.asterisk.pids import running_pid, wait_gone
from tests.e2e.conftest import Stack, dead_agi_urls, poll, with_options
from tests.e2e.test_failover import Queue, queue  # noqa: F401 (the fixture)

pytestmark = pytest.mark.asterisk

CALLER = "13970000001"  # a number no other e2e test uses (records are found by it)
PROCESS_CALLER = "13970000002"


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
    killed_while_waiting(stack, queue, CALLER, box="127.0.0.1")


@pytest.mark.timeout(900)
def test_asterisk_killed_under_the_process_script(
    stack: Stack,
    queue: Queue,  # noqa: F811
) -> None:
    """No FastAGI server answers, the caller waits through the process-AGI script (pyst2, a
    child of Asterisk): Asterisk killed, the orphaned script reads the end of its stdin with
    no SIGHUP: pbx-lost, naming this host; the server files the script's record."""
    process = conf.process_agi_for_paths(
        config_dir=stack.config_dir,
        recordings_dir=stack.recordings,
        var_dir=stack.var,  # the server imports its var/calls.jsonl
        redis_url=stack.redis_url,
    )
    stack.wait_queue_empty()
    assert stack.install(with_options(stack, agi_urls=dead_agi_urls(1), process_agi=process)) == []
    killed_while_waiting(stack, queue, PROCESS_CALLER, box=socket.gethostname())


def killed_while_waiting(stack: Stack, queue: Queue, caller: str, *, box: str) -> None:  # noqa: F811
    """A caller waits in the queue; Asterisk is SIGKILLed; the record says pbx-lost naming
    ``box``, the caller left the queue as PBXLOST, never offered, called back. Asterisk is
    started again with the stack's config."""
    sipp = stack.call("12345", caller, keys=[(3.0, "0")])
    killed = False
    try:
        uid = stack.wait_queued(caller, timeout=60)
        assert queue.entry(uid).get("state") == "waiting", queue.entry(uid)
        pid = running_pid(stack.root)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # no goodbye: no HANGUP on the FastAGI socket
        killed = True
        assert wait_gone(pid, stack.root, 10.0), "Asterisk still runs after SIGKILL"
        started = time.monotonic()
        record = stack.record(caller, timeout=30)
        assert record["outcome"] == "pbx-lost", record
        assert box in record["outcome_detail"], record
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
                    "SELECT kind FROM callback_tasks WHERE (ref = ? OR call_uniqueid = ?) "
                    "AND kind = 'missed'",
                    uid,
                    uid,
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
