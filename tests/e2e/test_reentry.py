"""An existing Asterisk wired to the hotline the simplest way: a context of the admin's own
with a bare ``AGI(agi://127.0.0.1:PORT/hotline)`` (no arguments), re-entered with a little
music until the hotline marks the call done (``HOTLINE_DONE=1``), as README.md and
docs/asterisk.md show it. The test calls reach it through a number of their own.

- (a) The server is killed (SIGKILL) while ten callers wait, and restarted: each caller comes
  back through the plain re-entry, skips the menu (its state is on the channel and in Redis),
  resumes its place, and all ten reach the operator in their original order (CONNECT order in
  queue_log); each call has one call record, answered.
- (b) The server is stopped (SIGTERM) while callers wait, one talks to an operator and one is
  in the survey: the waiting ones are handed back with their places (no ABANDON) and the
  restarted server puts them through in order; the talking one and the surveyed one finish on
  the stopping server; nobody is put through twice (each caller's CONNECT once).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.asterisk import conf, local
from ivr.config.loader import load_config
from tests.e2e.conftest import SITE_CONF, Stack, poll
from tests.e2e.sipp import Operator, SippCall
from tests.e2e.test_failover import OPERATOR, Queue, kill, server_id

pytestmark = pytest.mark.asterisk

ADMIN_NUMBER = "12399"  # the admin's own number, served as 12345
KILLED = tuple(f"1393000{n:04d}" for n in range(1, 11))  # (a)
STOPPED = tuple(f"1394000{n:04d}" for n in range(1, 4))  # (b) waiting
TALKING, SURVEYED = "13940000010", "13940000011"  # (b)


def admin_conf(agi_port: int) -> str:
    """What an admin of an existing Asterisk adds: the whole failover wiring."""
    return f"""
; the admin's own number for the hotline (an exact match goes before the catch-all)
[hotline-inbound]
exten => {ADMIN_NUMBER},1,Goto(hotline-admin,${{EXTEN}},1)

; the admin's own context: a bare AGI, re-entered until the hotline marks the call done
[hotline-admin]
exten => _X.,1(again),AGI(agi://127.0.0.1:{agi_port}/hotline)
 same => n,GotoIf($["${{HOTLINE_DONE}}" = "1"]?done)
 same => n,Log(WARNING,admin {ADMIN_NUMBER} ${{UNIQUEID}} ${{CALLERID(num)}}: again)
 same => n,MusicOnHold(default,2)
 same => n,Goto(again)
 same => n(done),Hangup()
"""


def install_admin(stack: Stack) -> list[str]:
    """The stack's config plus the admin's context; reloaded."""
    files = conf.static_files()
    files.update(conf.generate(load_config(stack.config_dir, stack.recordings), stack.opts))
    files["extensions-site.conf"] = SITE_CONF + admin_conf(stack.agi_port)
    local.install_config(stack.root, None, files, modules=conf.static_modules())
    return local.reload_config(stack.root)


@pytest.fixture
def admin(stack: Stack) -> Iterator[Queue]:
    stack.wait_queue_empty()
    assert install_admin(stack) == []
    q = Queue(stack)
    try:
        yield q
    finally:
        q.close()
        if stack.server.poll() is not None:
            stack.restart_server()
        stack.install()  # the stack's own dialplan again


def call_in(stack: Stack, numbers: tuple[str, ...], queue: Queue) -> list[SippCall]:
    """The callers call the admin's number one after another and press 0; returns once all
    of them wait in the queue with the menu behind them (they are queued from the answer)."""
    calls = []
    for number in numbers:
        calls.append(stack.call(ADMIN_NUMBER, number, keys=[(3.0, "0")]))
        time.sleep(1.0)
    poll(
        lambda: (
            True
            if len(waiting := queue.waiting()) >= len(numbers)
            and all(stack.menu_done(u) for u in waiting)
            else None
        ),
        lambda: f"waiting: {queue.waiting()}\n{stack.serve_log()}",
        timeout=120,
    )
    return calls


def uid_of(stack: Stack, caller: str) -> str:
    uid = stack.uniqueid(caller)
    assert uid, stack.channels()
    return uid


def connects(stack: Stack, uids: list[str]) -> list[dict[str, str]]:
    marks = ",".join("?" * len(uids))
    return stack.query(
        f"SELECT callid, agent FROM queue_log WHERE event = 'CONNECT' AND callid IN ({marks}) "
        "ORDER BY at, id",
        *uids,
    )


def records_of(stack: Stack, caller: str) -> list[dict[str, object]]:
    return stack.query("SELECT * FROM call_records WHERE caller = ? ORDER BY id", caller)


def wait_all_answered(stack: Stack, callers: tuple[str, ...], uids: list[str]) -> None:
    poll(
        lambda: True if len(connects(stack, uids)) >= len(uids) else None,
        lambda: f"CONNECTs: {[stack.queue_events(u) for u in uids]}\n{stack.serve_log()}",
        timeout=240,
    )
    for caller in callers:
        stack.record(caller, timeout=120)


@pytest.mark.timeout(900)  # with the stack's start (the first test of a session)
def test_killed_server_plain_reentry_ten_callers_in_order(
    stack: Stack, admin: Queue, tmp_path: Path
) -> None:
    """(a) SIGKILL with ten callers waiting, then a restart: all ten are taken back through
    the plain re-entry and answered in their original order, each with one record."""
    offset = local.log_offset(stack.root)
    phone: Operator | None = None
    calls: list[SippCall] = []
    try:
        calls = call_in(stack, KILLED, admin)
        by_uid = {uid_of(stack, c.caller): c.caller for c in calls}
        order = admin.waiting()
        assert sorted(order) == sorted(by_uid)
        before = server_id(stack, "serve.log")
        kill(stack.server)
        stack.restart_server()
        after = server_id(stack, "serve.log")
        assert after != before
        poll(
            lambda: True if all(admin.entry(u).get("server") == after for u in order) else None,
            lambda: f"not all taken back: {[admin.entry(u) for u in order]}",
            timeout=90,
        )
        assert admin.waiting() == order, "the original order, whatever order they came back in"
        for sipp in calls:
            assert sipp.proc.poll() is None, f"{sipp.caller} was dropped\n{sipp.errors()}"
        phone = stack.softphone(OPERATOR, tmp_path, ring=0.5, talk=1.0, once=False)
        assert stack.login(OPERATOR)["state"] in ("ready", "reserved")
        callers = tuple(by_uid[u] for u in order)
        wait_all_answered(stack, callers, order)
        assert [(r["callid"], r["agent"]) for r in connects(stack, order)] == [
            (u, OPERATOR) for u in order
        ]
        for sipp in calls:
            stack.finish(sipp, hang_up=False)  # the hotline hung up after the survey
        for uid in order:
            events = stack.queue_events(uid)
            assert events.count("ENTERQUEUE") == 1 and events.count("CONNECT") == 1, events
            assert "ABANDON" not in events, events
        for caller in callers:
            rows = records_of(stack, caller)
            assert len(rows) == 1, rows
            assert rows[0]["outcome"] == "answered", rows
            # attempt 1, which SIGKILL cut off, is in the record from its Redis snapshot
            path = json.loads(str(rows[0]["path"]))
            assert path[:2] == ["main", "operator"], path
            assert rows[0]["attempts"] == 2, rows
        lines = stack.log_since(offset, f"admin {ADMIN_NUMBER} ")
        assert lines, "the admin's context re-entered the AGI"
    finally:
        for sipp in calls:
            sipp.kill()
        if phone is not None:
            try:
                stack.logout(OPERATOR)
            finally:
                phone.stop()
