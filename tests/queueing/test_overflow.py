"""Overflow rules (the caller is never dropped) and the keypad survey after an answered call;
their queue.yaml settings are checked at file:line:col."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from ivr.config.loader import check_config
from ivr.config.queue_models import Announce, OverflowRule, QueueFile, QueueSettings, SurveySettings
from ivr.errors import AGIHangup
from ivr.queuewait.waiter import QueueHub, RedisQueueWaiter
from queueing.events import MemoryEventSink
from queueing.queue import QueueRequest
from tests.queueing.channel import WaitingChannel
from tests.queueing.conftest import agent
from tests.queueing.test_callback import events
from tests.queueing.test_waiter import record_for

SETTINGS = QueueSettings(
    wrapup_seconds=0, announce=Announce(interval_seconds=30, first_after_seconds=10)
)


def request(uid: str, skill: str = "enterprise", caller: str = "13800000000") -> QueueRequest:
    return QueueRequest(uid, caller, "12345", skill, 0, time.time())


def waiter(hub: QueueHub, callbacks: bool = False, **rules: OverflowRule) -> RedisQueueWaiter:
    return RedisQueueWaiter(
        hub, options=QueueFile(settings=SETTINGS, overflow=rules), callbacks=callbacks
    )


async def test_widen_when_nobody_staffs_the_skill(hub: QueueHub) -> None:
    w = waiter(hub, enterprise=OverflowRule(action="widen", skill="general", prompt="ovf"))
    await hub.queue.enqueue(request("first", skill="general"))  # ahead in general
    r = request("c1")
    place = await hub.queue.enqueue(r)
    ch = WaitingChannel()
    record = record_for("c1")
    task = asyncio.create_task(w.wait(ch, r, place, record))  # type: ignore[arg-type]
    for _ in range(200):
        if "c1" in await hub.queue.waiting("general"):
            break
        await asyncio.sleep(0.01)
    # moved with its score: behind the caller who came first, not at the back
    assert await hub.queue.waiting("general") == ["first", "c1"]
    assert ch.played == ["ovf"]
    await hub.queue.login(agent("a1", general=5), ready=True)  # takes "first" ...
    await hub.queue.connect("first", "a1")
    await hub.queue.complete("first", "a1")  # ... then c1
    await asyncio.wait_for(task, 10)
    assert record.outcome == "answered" and record.skill == "general"
    over = [e for e in await events(hub.queue, "c1") if e[1] == "OVERFLOW"]
    assert over and over[0][2].startswith("widen|general|no_agents|")


async def test_message_when_the_queue_is_too_long(hub: QueueHub) -> None:
    await hub.queue.login(agent("a1", enterprise=5))  # staffed (paused: not taking calls)
    await hub.queue.ready("a1")
    await hub.queue.pause("a1")
    for i in range(3):
        await hub.queue.enqueue(request(f"ahead{i}"))
    w = waiter(hub, enterprise=OverflowRule(no_agents=False, max_waiting=3, action="message"))
    r = request("c1")
    ch = WaitingChannel()
    record = record_for("c1")
    await asyncio.wait_for(w.wait(ch, r, await hub.queue.enqueue(r), record), 10)  # type: ignore[arg-type]
    assert record.outcome == "message" and len(record.messages) == 1
    # the message prompt (not the rule's default "another arrangement"), then thanks
    assert ch.recorded == record.messages
    assert ch.played == ["queue_overflow_message", "message_thanks"]
    assert await hub.queue.entry("c1") == {}
    assert [e[1] for e in await events(hub.queue, "c1")] == ["ENTERQUEUE", "OVERFLOW"]


async def test_callback_overflow_without_a_dialler_takes_a_message(hub: QueueHub) -> None:
    w = waiter(hub, enterprise=OverflowRule(action="callback"))
    r = request("c1")
    record = record_for("c1")
    await asyncio.wait_for(w.wait(WaitingChannel(), r, await hub.queue.enqueue(r), record), 10)  # type: ignore[arg-type]
    assert record.outcome == "message"


async def test_callback_overflow_after_a_long_wait(hub: QueueHub) -> None:
    await hub.queue.login(agent("a1", enterprise=5))
    await hub.queue.ready("a1")
    await hub.queue.enqueue(request("ahead"))  # a1 takes it and keeps ringing
    w = waiter(
        hub,
        callbacks=True,
        enterprise=OverflowRule(
            no_agents=False,
            max_wait_seconds=30,
            action="callback",
            prompt="queue_overflow_callback",
        ),
    )
    ch = WaitingChannel()
    w.clock = ch.clock
    r = request("c1")
    record = record_for("c1")
    await asyncio.wait_for(w.wait(ch, r, await hub.queue.enqueue(r), record), 10)  # type: ignore[arg-type]
    assert record.outcome == "callback" and ch.t > 30
    assert ch.played[-1] == "queue_overflow_callback"
    assert (await hub.queue.entry("c1"))["kind"] == "callback"


async def test_transfer_to_the_subcentre_and_back_to_the_place_if_it_fails(
    hub: QueueHub,
) -> None:
    rule = OverflowRule(action="transfer", dial="PJSIP/96001@carrier", prompt=None)
    await hub.queue.enqueue(request("before"))
    r = request("c1")
    place = await hub.queue.enqueue(r)
    ch = WaitingChannel(dial_results=["NOANSWER"], hangup=lambda ch: ch.waits >= 3)
    record = record_for("c1")
    try:
        await asyncio.wait_for(waiter(hub, enterprise=rule).wait(ch, r, place, record), 10)  # type: ignore[arg-type]
    except Exception as exc:
        assert type(exc).__name__ == "AGIHangup"
    assert ch.dialled == ["PJSIP/96001@carrier"]  # tried once, then waited at its place
    ch2 = WaitingChannel(dial_results=["ANSWER"])
    r2 = request("c2")
    record2 = record_for("c2")
    await asyncio.wait_for(
        waiter(hub, enterprise=rule).wait(ch2, r2, await hub.queue.enqueue(r2), record2),
        10,  # type: ignore[arg-type]
    )
    assert record2.outcome == "transfer" and ch2.variables["HOTLINE_ROUTE"] == "subcentre"
    assert await hub.queue.entry("c2") == {}


async def test_failed_transfer_keeps_the_original_place(hub: QueueHub) -> None:
    rule = OverflowRule(action="transfer", dial="PJSIP/96001@carrier", prompt=None)
    r = request("c1")
    place = await hub.queue.enqueue(r)
    await hub.queue.enqueue(request("after"))
    seen: list[list[str]] = []

    async def look(_: str) -> None:
        seen.append(await hub.queue.waiting("enterprise"))

    ch = WaitingChannel(dial_results=["BUSY"], on_dial=look, hangup=lambda ch: ch.waits >= 3)
    with pytest.raises(AGIHangup):
        await waiter(hub, enterprise=rule).wait(ch, r, place, record_for("c1"))  # type: ignore[arg-type]
    assert seen == [["after"]]  # out of the queue while the sub-centre rang
    names = [e[1] for e in await events(hub.queue, "c1")]
    assert names == ["ENTERQUEUE", "OVERFLOW", "ENTERQUEUE", "ABANDON"]


class Sink:
    def __init__(self) -> None:
        self.scores: list[tuple[str, int]] = []

    async def survey(self, uniqueid: str, score: int) -> None:
        self.scores.append((uniqueid, score))


async def test_survey_after_an_answered_call(hub: QueueHub) -> None:
    sink = Sink()
    w = RedisQueueWaiter(hub, options=QueueFile(settings=SETTINGS), survey=sink,
                         prompt=lambda n: f"/prompts/{n}")  # fmt: skip
    await hub.queue.login(agent("a1", general=5), ready=True)
    ch = WaitingChannel(press={"survey_question": "4"})
    r = request("c1", skill="general")
    record = record_for("c1")
    await asyncio.wait_for(w.wait(ch, r, await hub.queue.enqueue(r), record), 10)  # type: ignore[arg-type]
    assert sink.scores == [("c1", 4)] and record.outcome == "answered"
    assert ch.played == ["survey_question", "survey_thanks"]
    # no key, or a key outside 1..5: nothing stored
    ch2 = WaitingChannel(keys=["9"])
    r2 = request("c2", skill="general")
    await asyncio.wait_for(w.wait(ch2, r2, await hub.queue.enqueue(r2), record_for("c2")), 10)  # type: ignore[arg-type]
    assert sink.scores == [("c1", 4)]
    # the caller hung up with the agent: no survey, no error
    ch3 = WaitingChannel(hangup=lambda ch: bool(ch.dialled))
    ch3.dial_results = ["ANSWER"]
    r3 = request("c3", skill="general")
    rec3 = record_for("c3")
    orig = ch3.dial

    async def dial_then_leave(d: str, t: float, o: str = "") -> object:
        res = await orig(d, t, o)
        ch3.hung_up = True
        return res

    ch3.dial = dial_then_leave  # type: ignore[method-assign]
    ch3.hangup = lambda ch: False
    await asyncio.wait_for(w.wait(ch3, r3, await hub.queue.enqueue(r3), rec3), 10)  # type: ignore[arg-type]
    assert rec3.outcome == "answered" and rec3.events[-1].detail == "hung up"
    disabled = RedisQueueWaiter(
        hub, options=QueueFile(settings=SETTINGS, survey=SurveySettings(enabled=False)),
        survey=sink,
    )  # fmt: skip
    ch4 = WaitingChannel(press={"survey_question": "5"})
    r4 = request("c4", skill="general")
    await asyncio.wait_for(
        disabled.wait(ch4, r4, await hub.queue.enqueue(r4), record_for("c4")), 10
    )  # type: ignore[arg-type]
    assert sink.scores == [("c1", 4)]
    assert isinstance(hub.sink, MemoryEventSink)


def test_queue_yaml_prompts_and_rules_are_checked(config_copy: Path) -> None:
    (config_copy / "queue.yaml").write_text(
        "callback:\n"
        "  offer_prompt: no_such_prompt\n"
        "survey:\n"
        "  thanks_prompt: survey_thanks\n"
        "overflow:\n"
        "  general: {action: widen}\n"
        "  enterprise: {action: transfer, no_agents: false}\n"
        "  dialect: {action: widen, skill: nowhere}\n"
        "  heatting: {action: message}\n"
    )
    problems = check_config(config_copy)
    got = [(p.line, p.column, p.code) for p in problems]
    assert got == [
        (2, 17, "HL-CFG-011"),
        (6, 21, "HL-CFG-084"),  # widen without skill: at the action
        (7, 3, "HL-CFG-084"),  # no condition on
        (7, 24, "HL-CFG-084"),  # transfer without dial
        (8, 35, "HL-CFG-084"),  # widen to an unknown skill
        (9, 3, "HL-CFG-084"),
    ], problems
    assert "no_such_prompt" in problems[0].message and problems[0].file.endswith("queue.yaml")
