"""The browser phones' watcher (queueing/phonewatch.py) on a real Redis queue and a fake AMI
answering ``Getvar DEVICE_STATE(...)`` as Asterisk 22 does: an agent ready with a browser
phone that stays unavailable for the grace period is paused ``phone offline``; a phone back
in time, an agent on a call or already paused, a desk phone, are left alone; one server of
several probes. The whole on the real Asterisk and Chromium: tests/e2e/test_webrtc_e2e.py."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ivr.config.queue_models import AgentSpec
from queueing.ami import AMIError
from queueing.model import AgentState
from queueing.phonewatch import OFFLINE, PhoneWatch
from queueing.queue import QueueRequest, RedisQueue
from tests.queueing.conftest import agent
from tests.queueing.test_waiter import until

WEB = "PJSIP/a1-web"


class FakeDevices:
    """AMI ``Getvar`` of ``DEVICE_STATE(<interface>)`` without a channel."""

    def __init__(self, **states: str) -> None:
        self.states = {f"PJSIP/{k.replace('_', '-')}": v for k, v in states.items()}
        self.asked: list[str] = []
        self.down = False
        self.refused = 0  # actions refused while down

    async def action(self, name: str, *extra: tuple[str, str], **fields: Any) -> dict[str, str]:
        if self.down:
            self.refused += 1
            raise AMIError("AMI connection lost")
        assert name == "Getvar" and "Channel" not in fields, (name, fields)
        iface = fields["Variable"].removeprefix("DEVICE_STATE(").removesuffix(")")
        self.asked.append(iface)
        return {"Response": "Success", "Value": self.states.get(iface, "INVALID")}


class Now:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def browser(aid: str) -> AgentSpec:
    return agent(aid).model_copy(update={"interface": f"PJSIP/{aid}-web"})


def watcher(rq: RedisQueue, ami: FakeDevices, now: Now, paused: list[AgentState],
            *, server: str = "s1", grace: float | None = 20.0) -> PhoneWatch:  # fmt: skip
    async def told(state: AgentState) -> None:
        paused.append(state)

    phones = {"a1": WEB, "a3": "PJSIP/a3-web"}  # a2 has a desk phone only
    return PhoneWatch(rq, ami, lambda: phones, lambda: grace, probe=5, on_pause=told,
                      server=server, clock=now)  # fmt: skip


async def test_a_phone_unavailable_for_the_grace_period_pauses_its_agent(rq: RedisQueue) -> None:
    await rq.login(browser("a1"), ready=True)
    await rq.login(agent("a2"), ready=True)  # the desk phone: never asked
    ami, now, told = FakeDevices(a1_web="UNAVAILABLE"), Now(), []  # type: list[AgentState]
    watch = watcher(rq, ami, now, told)
    assert await watch.round() == []  # seen down: the grace starts
    now.t += 19
    assert await watch.round() == []
    assert (await rq.agent("a1")).state == "ready"
    now.t += 1
    assert await watch.round() == ["a1"]
    state = await rq.agent("a1")
    assert (state.state, state.reason) == ("paused", OFFLINE)
    assert [(s.id, s.state, s.interface) for s in told] == [("a1", "ready", WEB)]
    assert set(ami.asked) == {WEB}  # a3 is not logged in, a2 has no browser phone
    assert (await rq.agent("a2")).state == "ready"
    now.t += 60
    assert await watch.round() == []  # paused: not asked again, not told again
    assert len(told) == 1


async def test_a_phone_back_within_the_grace_period_leaves_the_agent_ready(
    rq: RedisQueue,
) -> None:
    await rq.login(browser("a1"), ready=True)
    ami, now, told = FakeDevices(a1_web="UNAVAILABLE"), Now(), []  # type: list[AgentState]
    watch = watcher(rq, ami, now, told)
    await watch.round()
    now.t += 15
    ami.states[WEB] = "NOT_INUSE"  # the desk reloaded: registered again
    await watch.round()
    ami.states[WEB] = "UNAVAILABLE"
    now.t += 15
    assert await watch.round() == []  # a new grace period from now
    now.t += 20
    assert await watch.round() == ["a1"]


async def test_agents_on_a_call_or_paused_or_watching_off_are_left_alone(rq: RedisQueue) -> None:
    await rq.login(browser("a1"), ready=True)
    await rq.login(browser("a3"), ready=False)  # paused (login)
    await rq.enqueue(QueueRequest("c1", "13800000001", "12345", "general", 0, rq.clock() - 5))
    await rq.connect("c1", "a1")  # a1 talks (its device would say INUSE; say UNAVAILABLE)
    ami, now, told = FakeDevices(a1_web="UNAVAILABLE", a3_web="UNAVAILABLE"), Now(), []
    watch = watcher(rq, ami, now, told)  # type: ignore[arg-type]
    for _ in range(3):
        assert await watch.round() == []
        now.t += 30
    assert ami.asked == [] and (await rq.agent("a1")).state == "busy"
    assert (await rq.agent("a3")).reason == "login"
    await rq.complete("c1", "a1", "agent")  # the call ends: wrap-up is watched
    off = watcher(rq, ami, now, told, grace=None, server="s2")  # type: ignore[arg-type]
    assert await off.round() == [] and ami.asked == []  # null: never asked
    await watch.round()
    now.t += 20
    assert await watch.round() == ["a1"]


async def test_one_server_of_several_probes(rq: RedisQueue) -> None:
    await rq.login(browser("a1"), ready=True)
    first, second = FakeDevices(a1_web="UNAVAILABLE"), FakeDevices(a1_web="UNAVAILABLE")
    now, told = Now(), []  # type: list[AgentState]
    one, two = watcher(rq, first, now, told), watcher(rq, second, now, told, server="s2")
    await one.round()
    await two.round()
    await one.round()
    assert first.asked == [WEB, WEB] and second.asked == []


async def test_ami_away_is_logged_once_and_the_watch_goes_on(
    rq: RedisQueue, caplog: pytest.LogCaptureFixture
) -> None:
    await rq.login(browser("a1"), ready=True)
    ami, told = FakeDevices(a1_web="UNAVAILABLE"), []  # type: list[AgentState]
    ami.down = True
    watch = watcher(rq, ami, Now(), told)
    watch.probe = 0.05
    with caplog.at_level(logging.WARNING):
        watch.start()

        def warned() -> list[str]:
            return [r.getMessage() for r in caplog.records if "HL-QUE-091" in r.getMessage()]

        # three probe rounds refused by the AMI that is away: one warning for them all
        await until(lambda: ami.refused >= 3, "the watch stopped probing while AMI was away")
        ami.down = False
        await until(lambda: WEB in ami.asked, "the watch never asked AMI again")
        await watch.stop()
    lines = warned()
    assert len(lines) == 1 and "AMI connection lost" in lines[0], lines
    assert WEB in ami.asked  # asked again once AMI was back
