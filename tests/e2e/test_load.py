"""Many calls at once through the whole stack: SIPp callers -> Asterisk -> our FastAGI server
(menu, Redis queue, waiter) -> Dial of the operators' SIPp softphones -> survey -> hangup.

``HOTLINE_E2E_CALLS`` callers (default 24) call 12345 at once, press 0 during the welcome
and wait for an operator; four operators (1001-1004) answer every call, talk 2 s and hang up.
Every call must go as scripted (SIPp exit 0 on both sides), be recorded as answered by one of
them and have its CONNECT in queue_log. ``HOTLINE_E2E_CALLS=50 pytest -s
tests/e2e/test_load.py`` is the measurement of docs/benchmarks.md ("Concurrent SIP calls").
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.sipp import Operator

pytestmark = pytest.mark.asterisk

CALLS = int(os.environ.get("HOTLINE_E2E_CALLS", "24"))
OPERATORS = ("1001", "1002", "1003", "1004")


def test_concurrent_calls_are_all_answered(stack: Stack, tmp_path: Path) -> None:
    stack.wait_queue_empty()
    phones: dict[str, Operator] = {}
    try:
        for agent_id in OPERATORS:
            phones[agent_id] = stack.softphone(agent_id, tmp_path, ring=0.5, talk=2.0, once=False)
            assert stack.login(agent_id)["state"] == "ready"
        callers = [f"1370000{i:04d}" for i in range(CALLS)]
        started = time.monotonic()
        calls = [stack.call("12345", c, keys=[(3.0, "0")]) for c in callers]
        # Every call comes up, and more at once than there are operators (they queue). Not
        # all at once: on a loaded machine the first calls may be over (the notice, 0.5 s of
        # ringing, 2 s of talk) before the last SIPp has dialled.
        peak, seen = 0, set[str]()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(seen) < CALLS:
            inbound = [f[0] for f in stack.channels() if f[0].startswith("PJSIP/carrier-")]
            peak = max(peak, len(inbound))
            seen.update(inbound)
            time.sleep(0.5)
        assert len(seen) == CALLS, f"only {len(seen)} of {CALLS} calls came up"
        assert peak > len(OPERATORS), f"at most {peak} calls up at once"
        # the queue drains at 4 calls per (ring + talk + wrap-up), with margin
        budget = 60 + CALLS * 6 / len(OPERATORS)
        records = {c: stack.record(c, timeout=budget) for c in callers}
        for sipp in calls:
            stack.finish(sipp, hang_up=False)
        elapsed = time.monotonic() - started
        outcomes = {c: (r["outcome"], r["agent"]) for c, r in records.items()}
        assert all(o == "answered" and a in OPERATORS for o, a in outcomes.values()), outcomes
        for rec in records.values():
            assert "CONNECT" in stack.wait_events(rec["uniqueid"], {"ENTERQUEUE", "CONNECT"})
        for phone in phones.values():
            assert not list(phone.workdir.glob("*_errors.log")), phone.errors()
        print(f"{CALLS} calls, peak {peak} at once, all answered in {elapsed:.1f}s")
    finally:
        for agent_id, phone in phones.items():
            try:
                stack.logout(agent_id)
            finally:
                phone.stop()
