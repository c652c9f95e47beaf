"""The waiter and the hub: a caller waits with music, hears its position, is put through to
the agent the Lua assignment picked (told through the process's inbox, not by polling), goes
back to its place when the agent does not answer, and is recorded as abandoned on hangup."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from ivr.config.bundle import ConfigBundle
from ivr.engine.attempt import HandedBack
from ivr.engine.callstore import MemoryStore
from ivr.engine.channel import CallInfo
from ivr.engine.menu import MenuEngine
from ivr.engine.record import CallRecord
from ivr.errors import AGIHangup
from ivr.queuewait.waiter import QueueHub, RedisQueueWaiter, number_prompts
from queueing.events import MemoryEventSink
from queueing.queue import QueueRequest, RedisQueue
from tests.queueing.channel import WaitingChannel
from tests.queueing.conftest import SETTINGS, agent
from tests.redis_clients import redis_client


async def until(cond: Callable[[], object], what: str, deadline: float = 10.0) -> None:
    """Poll ``cond`` until it holds, failing after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not cond():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def record_for(uid: str) -> CallRecord:
    return CallRecord(uid, "13800000000", "", "12345", "PJSIP/trunk", "v1")


async def queued(hub: QueueHub, uid: str, skill: str = "general") -> tuple[QueueRequest, object]:
    request = QueueRequest(uid, "13800000000", "12345", skill, 0, time.time())
    return request, await hub.queue.enqueue(request)


async def test_agent_ready_puts_the_waiting_caller_through(hub: QueueHub) -> None:
    waiter = RedisQueueWaiter(hub)
    ch = WaitingChannel(dial_results=["ANSWER"])
    request, place = await queued(hub, "c1")
    record = record_for("c1")
    task = asyncio.create_task(waiter.wait(ch, request, place, record))  # type: ignore[arg-type]
    await until(lambda: ch.waits >= 3, "the caller to wait with music")
    assert ch.music[0] is True and ch.dialled == []
    await hub.queue.login(agent("a1"), ready=True)
    await asyncio.wait_for(task, 10)
    assert ch.dialled == ["PJSIP/a1"]
    assert ch.variables["HOTLINE_AGENT"] == "a1" and "HOTLINE_QUEUE_WAIT" in ch.variables
    assert record.outcome == "answered" and record.outcome_detail == "a1"
    assert (await hub.queue.agent("a1")).state == "ready"  # wrap-up 0
    assert hub.pump is not None
    await hub.pump.drain()
    sink = hub.sink
    assert isinstance(sink, MemoryEventSink)
    names = [e.event for e in sink.events if e.callid == "c1"]
    assert names == ["ENTERQUEUE", "CONNECT", "COMPLETECALLER"]
    connect = next(e for e in sink.events if e.event == "CONNECT")
    assert connect.agent == "a1" and connect.queue == "general"


async def test_no_answer_pauses_the_agent_and_the_caller_waits_on_at_its_place(
    hub: QueueHub,
) -> None:
    waiter = RedisQueueWaiter(hub)

    async def second_agent_logs_in(dialstring: str) -> None:
        if dialstring == "PJSIP/a1":
            await hub.queue.login(agent("a2"), ready=True)  # busy with nobody else: gets c1

    ch = WaitingChannel(dial_results=["NOANSWER", "ANSWER"], on_dial=second_agent_logs_in)
    await hub.queue.login(agent("a1"), ready=True)
    request, place = await queued(hub, "c1")
    record = record_for("c1")
    await asyncio.wait_for(waiter.wait(ch, request, place, record), 10)  # type: ignore[arg-type]
    assert ch.dialled == ["PJSIP/a1", "PJSIP/a2"]
    a1 = await hub.queue.agent("a1")
    assert (a1.state, a1.reason) == ("paused", "no answer")
    assert record.outcome == "answered" and record.outcome_detail == "a2"


async def test_the_operator_conversation_is_recorded_once_per_call(hub: QueueHub) -> None:
    waiter = RedisQueueWaiter(hub, record_calls=True)

    async def second_agent_logs_in(dialstring: str) -> None:
        if dialstring == "PJSIP/a1":
            await hub.queue.login(agent("a2"), ready=True)

    ch = WaitingChannel(dial_results=["NOANSWER", "ANSWER"], on_dial=second_agent_logs_in)
    await hub.queue.login(agent("a1"), ready=True)
    request, place = await queued(hub, "c1")
    record = record_for("c1")
    await asyncio.wait_for(waiter.wait(ch, request, place, record), 10)  # type: ignore[arg-type]
    assert len(ch.recordings) == 1, "one recording, though two operators were rung"
    assert record.recording == ch.recordings[0]
    # relative to the recordings root, filed under the Beijing date
    assert record.recording.startswith("calls/") and record.recording.endswith("/c1.wav")
    assert record.to_dict()["recording"] == record.recording


async def test_hangup_while_waiting_is_an_abandon_with_the_wait(hub: QueueHub) -> None:
    waiter = RedisQueueWaiter(hub)
    ch = WaitingChannel(hangup=lambda ch: ch.waits >= 5)
    request, place = await queued(hub, "c1")
    await queued(hub, "c2")
    record = record_for("c1")
    with pytest.raises(AGIHangup):
        await waiter.wait(ch, request, place, record)  # type: ignore[arg-type]
    assert await hub.queue.waiting("general") == ["c2"]
    assert any(e.kind == "abandon" for e in record.events)
    assert hub.pump is not None
    await hub.pump.drain()
    assert isinstance(hub.sink, MemoryEventSink)
    assert [e.event for e in hub.sink.events if e.callid == "c1"] == ["ENTERQUEUE", "ABANDON"]


async def test_position_and_estimate_are_announced_over_music(hub: QueueHub) -> None:
    for i in range(3):
        await queued(hub, f"ahead{i}")
    await hub.queue.login(agent("a1", general=5))  # staffed: logged in ...
    await hub.queue.ready("a1")  # ... takes ahead0
    await hub.queue.login(agent("a2", general=5))
    await hub.queue.ready("a2")  # takes ahead1; ahead2 is first, c1 second
    ch = WaitingChannel(hangup=lambda ch: ch.t > 50)
    waiter = RedisQueueWaiter(hub, clock=ch.clock)
    request, place = await queued(hub, "c1")
    with pytest.raises(AGIHangup):
        await waiter.wait(ch, request, place, record_for("c1"))  # type: ignore[arg-type]
    # after 10 s: "there are 1 calls waiting, hold time less than a minute" (2 agents, 180 s
    # handle time: 2 * 180 / 2 = 3 minutes)
    assert ch.played == [
        "queue-thereare", "digits/1", "queue-callswaiting", "queue-holdtime", "digits/3",
        "queue-minutes",
    ]  # fmt: skip
    assert ch.music.count(True) == ch.music.count(False) + 1  # music back after announcing


def test_number_prompts() -> None:
    assert number_prompts(7) == ["digits/7"]
    assert number_prompts(30) == ["digits/30"]
    assert number_prompts(42) == ["digits/40", "digits/2"]


async def test_an_offer_that_arrives_before_the_session_registers_is_kept(hub: QueueHub) -> None:
    await hub.queue.login(agent("a1"), ready=True)
    request, place = await queued(hub, "c1")
    await until(lambda: hub.offers_received == 1, "the offer")
    ch = WaitingChannel()
    record = record_for("c1")
    await asyncio.wait_for(RedisQueueWaiter(hub).wait(ch, request, place, record), 10)  # type: ignore[arg-type]
    assert ch.dialled == ["PJSIP/a1"]


async def test_through_the_menu_engine(hub: QueueHub, config: ConfigBundle) -> None:
    """Silence reaches the queue; the waiter takes over; the record ends answered."""
    store = MemoryStore()
    ch = WaitingChannel()
    engine = MenuEngine(config, hub.queue, store, waiter=RedisQueueWaiter(hub))
    skill = config.menu.settings.default_skill
    agents = [agent(f"a{i}", **{s: 5}) for i, s in enumerate(sorted(_skills(config)))]
    for spec in agents:
        await hub.queue.login(spec, ready=True)
    info = CallInfo(uniqueid="u1", caller="13700000001", dnid="12345", extension="12345")
    record = await asyncio.wait_for(engine.run(ch, info), 20)  # type: ignore[arg-type]
    assert record.outcome == "answered", record.events
    assert skill or record.skill


def _skills(config: ConfigBundle) -> set[str]:
    from ivr.config.models import QueueNode

    out = {config.menu.settings.default_skill}
    for node in config.menu.nodes.values():
        if isinstance(node, QueueNode) and node.skill:
            out.add(node.skill)
    for dept in config.departments.departments.values():
        out.add(dept.skill)
    return out


async def test_crash_mid_wait_and_reentry_on_another_server(queue_url: str) -> None:
    """Server 1 dies while its caller waits (and while the caller's offer is in flight);
    Asterisk re-enters the call on server 2, which resumes the original place and offer."""
    c1 = redis_client(queue_url)
    await c1.flushdb()
    s1 = QueueHub(RedisQueue(c1, SETTINGS, server="agi-1"), reaper=False)
    await s1.start()
    await queued(s1, "ahead")
    request, place = await queued(s1, "c1")
    ch1 = WaitingChannel()
    task = asyncio.create_task(RedisQueueWaiter(s1).wait(ch1, request, place, record_for("c1")))  # type: ignore[arg-type]
    await until(lambda: ch1.waits >= 2, "the caller to wait on server 1")
    task.cancel()  # the process dies: no abandon, no cleanup
    await s1.stop()
    await s1.queue.close()
    # an agent serves "ahead" and becomes ready again: c1 is offered to server 1's inbox
    c2 = redis_client(queue_url)
    s2 = QueueHub(RedisQueue(c2, SETTINGS, server="agi-2"), reaper=False)
    await s2.start()
    await s2.queue.login(agent("a1"), ready=True)
    await s2.queue.connect("ahead", "a1")
    await s2.queue.complete("ahead", "a1")  # wrap-up 0: ready, offered c1 on dead agi-1
    assert (await s2.queue.entry("c1"))["state"] == "offered"
    again = QueueRequest("c1", request.caller, request.line, "general", 0, time.time())
    place2 = await s2.queue.enqueue(again)
    assert (place2.resumed, place2.state) == (True, "offered")
    assert (await s2.queue.entry("c1"))["enqueued_at"] == repr(request.enqueued_at)
    ch2 = WaitingChannel()
    record = record_for("c1")
    await asyncio.wait_for(RedisQueueWaiter(s2).wait(ch2, again, place2, record), 10)  # type: ignore[arg-type]
    assert ch2.dialled == ["PJSIP/a1"] and record.outcome == "answered"
    await s2.stop()
    await s2.queue.close()


# ------------------------------------------------------------ served once, Redis away, stop


@dataclass
class LiveChannel(WaitingChannel):
    """A waiting channel that can tell whether the caller is still there after the call,
    and notes in order what happened (variables set, prompts played)."""

    present: bool = True
    steps: list[str] = field(default_factory=list)

    async def caller_present(self) -> bool:
        return self.present and not self.hung_up

    async def evaluate(self, expression: str) -> str:
        return ""

    async def set_variable(self, name: str, value: str) -> None:
        await super().set_variable(name, value)
        self.steps.append(f"{name}={value}")

    async def play(self, prompt: str, escape_digits: str = "") -> str:
        key = await super().play(prompt, escape_digits)
        self.steps.append(prompt.rsplit("/", 1)[-1])
        return key


class Notes:
    """A live-call registry that notes what it was told."""

    def __init__(self) -> None:
        self.notes: list[tuple[str, bool]] = []

    async def started(self, record: CallRecord) -> None:
        return None

    async def note(self, record: CallRecord, *, done: bool = False) -> None:
        self.notes.append((record.outcome, done))

    async def ended(self, record: CallRecord, *, finished: bool) -> None:
        pass


class Scores:
    async def survey(self, uniqueid: str, score: int) -> None:
        pass


@pytest.mark.parametrize("agent_hangs_up", [True, False])
async def test_an_answered_call_is_done_before_the_survey(
    hub: QueueHub, agent_hangs_up: bool
) -> None:
    notes = Notes()
    waiter = RedisQueueWaiter(hub, survey=Scores(), tracker=notes)
    ch = LiveChannel(press={"survey_question": "5"}, present=agent_hangs_up)
    await hub.queue.login(agent("a1"), ready=True)
    request, place = await queued(hub, "d1")
    record = record_for("d1")
    await asyncio.wait_for(waiter.wait(ch, request, place, record), 10)  # type: ignore[arg-type]
    assert [done for _, done in notes.notes] == [False, True], "the offer, then done"
    assert notes.notes[-1][0] == "answered"
    if agent_hangs_up:
        assert ch.steps.index("HOTLINE_DONE=1") < ch.steps.index("survey_question")
        assert ch.steps[-2:] == ["survey_thanks", "HOTLINE_SURVEYED=1"]
    else:  # the caller hung up with the operator: no survey
        assert "HOTLINE_DONE=1" in ch.steps and "survey_question" not in ch.steps
    assert record.hangup_by == ("agent" if agent_hangs_up else "caller")
    assert hub.pump is not None
    await hub.pump.drain()
    sink = hub.sink
    assert isinstance(sink, MemoryEventSink)
    names = [e.event for e in sink.events if e.callid == "d1"]
    assert names[-1] == ("COMPLETEAGENT" if agent_hangs_up else "COMPLETECALLER")


async def test_redis_away_keeps_the_caller_waiting_with_music(
    hub: QueueHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis unreachable for a while: the caller keeps its music and its place, and is put
    through once Redis is back; past the patience the session gives up (the dialplan takes
    the caller on)."""
    away = {"n": 3}
    real = hub.queue.wait_info

    async def flaky(uid: str) -> Any:
        if away["n"] > 0:
            away["n"] -= 1
            raise RedisConnectionError("Connection refused")
        return await real(uid)

    monkeypatch.setattr(hub.queue, "wait_info", flaky)
    monkeypatch.setattr("ivr.queuewait.waiter.POLICY_SECONDS", 0.0)
    waiter = RedisQueueWaiter(hub)
    ch = WaitingChannel()
    request, place = await queued(hub, "r1")
    task = asyncio.create_task(waiter.wait(ch, request, place, record_for("r1")))  # type: ignore[arg-type]
    await until(lambda: away["n"] == 0 and ch.waits >= 5, "Redis to come back")
    assert ch.music == [True], "music all along"
    await hub.queue.login(agent("a1"), ready=True)
    await asyncio.wait_for(task, 10)
    assert ch.dialled == ["PJSIP/a1"]

    await hub.queue.logout("a1")
    away["n"] = 10**6
    impatient = RedisQueueWaiter(hub, redis_patience=0.0)
    request, place = await queued(hub, "r2")
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(
            impatient.wait(WaitingChannel(), request, place, record_for("r2")),  # type: ignore[arg-type]
            10,
        )


async def test_hand_back_leaves_the_place_for_the_next_server(hub: QueueHub) -> None:
    waiter = RedisQueueWaiter(hub)
    ch = WaitingChannel()
    request, place = await queued(hub, "b1")
    record = record_for("b1")
    task = asyncio.create_task(waiter.wait(ch, request, place, record))  # type: ignore[arg-type]
    await until(lambda: ch.waits >= 2, "the caller to wait")
    waiter.hand_back()
    with pytest.raises(HandedBack):
        await asyncio.wait_for(task, 10)
    assert await hub.queue.waiting("general") == ["b1"]
    assert (await hub.queue.entry("b1"))["state"] == "waiting"
    assert hub.pump is not None
    await hub.pump.drain()
    sink = hub.sink
    assert isinstance(sink, MemoryEventSink)
    assert [e.event for e in sink.events if e.callid == "b1"] == ["ENTERQUEUE"], "no ABANDON"
    # a caller who reaches the queue while the server stops is handed back at once
    request, place = await queued(hub, "b2")
    with pytest.raises(HandedBack):
        await waiter.wait(WaitingChannel(), request, place, record_for("b2"))  # type: ignore[arg-type]
