"""A person within 15 s (issue 11), measured on the real Asterisk with nothing pressed.

The caller is placed in the queue at answer; with an operator ready, the operator's phone
rings within 5 s of the answer, on 12345 and on a merged legacy line, after the must-hear
notices. A merged line whose specialist is away is answered by a general operator.

The times come from the SIP messages themselves: the caller's SIPp logs when the 200 OK
(the answer) arrived, the operator's SIPp when the INVITE (the ring) arrived, both with
this host's clock.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ivr.config.bundle import ConfigBundle
from ivr.config.loader import load_config
from ivr.config.models import LineMode
from tests.e2e.conftest import Stack
from tests.e2e.sipp import Operator, SippCall

pytestmark = pytest.mark.asterisk

RING_WITHIN = 5.0  # seconds from the answer to the operator's phone ringing
NOBODY_PRESSES = "13800000151", "13800000152", "13800000153"


def first_message(workdir: Path, direction: str, start: str) -> dt.datetime | None:
    """When SIPp (``-trace_msg``) first logged a message ``direction`` ('received'/'sent')
    whose first line starts with ``start``."""
    for log in sorted(workdir.glob("*_messages.log")):
        lines = log.read_text("utf-8", "replace").splitlines()
        for i, line in enumerate(lines):
            if not line.startswith("-----") or i + 3 >= len(lines):
                continue
            if direction in lines[i + 1] and lines[i + 3].startswith(start):
                return dt.datetime.fromisoformat(" ".join(line.split()[-2:]))
    return None


def ring_delay(call: SippCall, phone: Operator) -> float:
    answered = first_message(call.workdir, "received", "SIP/2.0 200")
    rung = first_message(phone.workdir, "received", "INVITE ")
    assert answered is not None, f"the caller was never answered\n{call.errors()}"
    assert rung is not None, "the operator's phone never rang"
    return (rung - answered).total_seconds()


def merged_line(config: ConfigBundle) -> tuple[str, str]:
    """A merged line's number and its skill."""
    line = next(ln for ln in config.lines.lines if ln.mode is LineMode.MERGED and not ln.entry)
    return line.number, config.line_skill(line)


def operators(stack: Stack, skill: str) -> tuple[str, str]:
    """An operator of ``skill`` and a general operator who does not serve it (both with a
    SIP account in the stack)."""
    agents = {a.id: a for a in load_config(stack.config_dir, stack.recordings).agents.agents}
    sip = [a.agent_id for a in stack.opts.agents if a.endpoint]
    specialist = next(i for i in sip if skill in agents[i].skills)
    general = next(
        i for i in sip if "general" in agents[i].skills and skill not in agents[i].skills
    )
    return specialist, general


def test_an_operator_ready_rings_within_5_s_with_nothing_pressed(
    stack: Stack, tmp_path: Path
) -> None:
    config = load_config(stack.config_dir, stack.recordings)
    number, skill = merged_line(config)
    specialist, general = operators(stack, skill)
    stack.wait_queue_empty()
    results: dict[str, float] = {}
    for who, dialled, caller in (
        (general, "12345", NOBODY_PRESSES[0]),
        (specialist, number, NOBODY_PRESSES[1]),
    ):
        phone = stack.softphone(who, tmp_path / dialled, ring=1.0, talk=2.0)
        try:
            assert stack.login(who)["state"] == "ready"
            call = stack.call(dialled, caller)
            rec = stack.record(caller, timeout=120)
            assert (rec["outcome"], rec["agent"]) == ("answered", who), rec["outcome_detail"]
            assert rec["path"] == [] or config.menu.settings.fallback not in rec["path"]
            assert phone.wait(30) == 0, phone.errors()
            stack.finish(call, hang_up=False)
            results[dialled] = ring_delay(call, phone)
        finally:
            phone.stop()
            stack.logout(who)
    print(f"answer to ring: {results}")
    for dialled, seconds in results.items():
        assert 0 < seconds <= RING_WITHIN, f"{dialled}: the phone rang {seconds:.1f} s after answer"


def test_a_merged_line_whose_specialist_is_away_reaches_a_general_operator(
    stack: Stack, tmp_path: Path
) -> None:
    config = load_config(stack.config_dir, stack.recordings)
    number, skill = merged_line(config)
    specialist, general = operators(stack, skill)
    stack.wait_queue_empty()
    stack.logout(specialist)
    stack.set_widen(5.0)  # the shipped default (the stack's is off)
    phone = stack.softphone(general, tmp_path, ring=1.0, talk=2.0)
    try:
        assert stack.login(general)["state"] == "ready"
        call = stack.call(number, NOBODY_PRESSES[2])
        rec = stack.record(NOBODY_PRESSES[2], timeout=120)
        assert (rec["outcome"], rec["agent"]) == ("answered", general), rec["outcome_detail"]
        assert phone.wait(30) == 0, phone.errors()
        stack.finish(call, hang_up=False)
        assert ring_delay(call, phone) <= 15.0
    finally:
        phone.stop()
        stack.logout(general)
        stack.set_widen(None)
