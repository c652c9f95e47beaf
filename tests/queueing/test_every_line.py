"""A person on every line, and every promise kept (issue 11), on the real Redis:

- a merged line's caller whose specialist is away is answered by a general operator, widened
  while the menu still plays; a parallel line's caller stays with its own seats;
- operators logged in but paused are there for the "nobody there" rule: callers wait;
- with no dialler, nobody hears a callback promise: the message prompt, then the recording;
- a caller with no number to call back leaves a message after the longest wait;
- prompts play in pieces: an operator who becomes free ends the prompt between two pieces;
- a self-service key leaves the queue as EXITWITHKEY."""

from __future__ import annotations

import asyncio
import time

import pytest

from ivr.config.queue_models import (
    CallbackSettings,
    DiallerSettings,
    MessageSettings,
    OverflowRule,
    QueueFile,
    WidenSettings,
)
from ivr.errors import AGIHangup
from ivr.queuewait.waiter import QueueHub, RedisQueueWaiter
from queueing.queue import QueueRequest
from tests.queueing.channel import WaitingChannel
from tests.queueing.conftest import SETTINGS, agent
from tests.queueing.test_callback import events
from tests.queueing.test_waiter import record_for

PARALLEL = {"6919999": ["6919999", "4952222"]}  # lines.yaml's parallel heating line
GENERAL = OverflowRule(max_waiting=50, max_wait_seconds=600, action="callback",
                       prompt="queue_overflow_callback")  # fmt: skip
PROMISES = {"queue_overflow_callback", "queue_callback_confirm"}


def options(**kw: object) -> QueueFile:
    base = QueueFile(settings=SETTINGS, overflow={"general": GENERAL}, **kw)  # type: ignore[arg-type]
    return base.with_lines(PARALLEL)


def request(
    uid: str, skill: str, line: str, caller: str = "13800000000", ago: float = 0.0
) -> QueueRequest:
    return QueueRequest(uid, caller, line, skill, 0, time.time() - ago)


async def until(check: object, what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


async def test_a_merged_line_whose_specialist_is_away_reaches_a_general_operator(
    hub: QueueHub,
) -> None:
    await hub.queue.login(agent("1001", general=8, enterprise=5), ready=True)
    await hub.queue.login(agent("1003", general=5, medical_insurance=8))  # logged in, paused
    w = RedisQueueWaiter(hub, options=options())
    r = request("m1", "medical_insurance", "12393", ago=6)  # answered 6 s ago, menu playing
    place = await hub.queue.enqueue(r)
    w.hold(r)

    async def offered() -> bool:
        return w.offer_waiting("m1")

    await until(offered, "the general operator was never offered the merged line's caller")
    ch, record = WaitingChannel(), record_for("m1")
    await asyncio.wait_for(w.wait(ch, r, place, record), 10)  # type: ignore[arg-type]
    assert record.outcome == "answered" and ch.dialled == ["PJSIP/1001"]
    assert record.skill == "general"
    assert any(e.kind == "overflow" and "-> general" in e.detail for e in record.events)
    over = [e for e in await events(hub.queue, "m1") if e[1] == "OVERFLOW"]
    assert over[0][2].startswith("widen|general|wait|")  # 1003 paused: after the wait


async def test_nobody_logged_in_for_a_merged_line_widens_at_once(hub: QueueHub) -> None:
    w = RedisQueueWaiter(hub, options=options(widen=WidenSettings(after_seconds=600)))
    r = request("m2", "medical_insurance", "12393")
    await hub.queue.enqueue(r)
    w.hold(r)

    async def moved() -> bool:
        return "m2" in await hub.queue.waiting("general")

    await until(moved, "a skill nobody is logged in for did not widen")
    over = [e for e in await events(hub.queue, "m2") if e[1] == "OVERFLOW"]
    assert over[0][2].startswith("widen|general|no_agents|")
    await w.leave("m2", "ticket_lookup", "lookup")


async def test_a_parallel_line_keeps_its_own_seats_unless_listed(hub: QueueHub) -> None:
    opts = options()
    assert opts.rule_for("heating", "4960000").action == "widen"  # type: ignore[union-attr]
    assert opts.rule_for("heating", "4952222").action == "message"  # type: ignore[union-attr]
    listed = options(widen=WidenSettings(parallel_lines=["6919999"]))
    assert listed.rule_for("heating", "4952222").action == "widen"  # type: ignore[union-attr]
    w = RedisQueueWaiter(hub, options=opts)
    await hub.queue.login(agent("2001", heating=5))  # the department's seat, paused
    r = request("p1", "heating", "6919999", ago=60)
    ch = WaitingChannel(hangup=lambda ch: ch.waits >= 3)
    with pytest.raises(AGIHangup):
        await w.wait(ch, r, await hub.queue.enqueue(r), record_for("p1"))  # type: ignore[arg-type]
    names = [e[1] for e in await events(hub.queue, "p1")]
    assert names == ["ENTERQUEUE", "ABANDON"]  # waited in heating, never moved
    # nobody at all logged in for the department's seats: a message, not 12345's operators
    await hub.queue.logout("2001")
    r2 = request("p2", "heating", "4952222")
    ch2, rec2 = WaitingChannel(), record_for("p2")
    await asyncio.wait_for(w.wait(ch2, r2, await hub.queue.enqueue(r2), rec2), 10)  # type: ignore[arg-type]
    assert rec2.outcome == "message" and ch2.played[0] == "queue_overflow_message"
    over = [e[2] for e in await events(hub.queue, "p2") if e[1] == "OVERFLOW"]
    assert over[0].startswith("message||no_agents|")


async def test_all_operators_paused_and_no_dialler_wait_or_leave_a_message(
    hub: QueueHub,
) -> None:
    for aid in ("1001", "1002"):  # logged in, all paused: they come back
        await hub.queue.login(agent(aid, general=5))
    opts = options(dialler=DiallerSettings(enabled=True))  # enabled, but none logged in
    w = RedisQueueWaiter(hub, options=opts)
    # a caller waits (no overflow at once), then hangs up: a plain abandon
    r1 = request("w1", "general", "12345")
    ch1 = WaitingChannel(hangup=lambda ch: ch.waits >= 3)
    with pytest.raises(AGIHangup):
        await w.wait(ch1, r1, await hub.queue.enqueue(r1), record_for("w1"))  # type: ignore[arg-type]
    assert not PROMISES & set(ch1.played) and ch1.recorded == []
    # past general's longest wait: callback, which cannot be registered -> a message
    r2 = request("w2", "general", "12345", ago=601)
    ch2, rec2 = WaitingChannel(), record_for("w2")
    await asyncio.wait_for(w.wait(ch2, r2, await hub.queue.enqueue(r2), rec2), 10)  # type: ignore[arg-type]
    assert ch2.played == ["queue_overflow_message", "message_thanks"]
    assert rec2.outcome == "message" and ch2.recorded == rec2.messages
    assert rec2.messages[0].startswith("messages/") and rec2.messages[0].endswith("/w2.wav")
    assert ch2.variables["HOTLINE_ROUTE"] == "message"
    assert await hub.queue.entry("w2") == {}
    over = [e[2] for e in await events(hub.queue, "w2") if e[1] == "OVERFLOW"]
    assert over and over[0].startswith("message||wait|")


async def test_nobody_logged_in_at_all_gives_the_message_prompt_not_a_promise(
    hub: QueueHub,
) -> None:
    w = RedisQueueWaiter(hub, options=options(dialler=DiallerSettings(enabled=True)))
    r = request("n1", "general", "12345")
    ch, rec = WaitingChannel(), record_for("n1")
    await asyncio.wait_for(w.wait(ch, r, await hub.queue.enqueue(r), rec), 10)  # type: ignore[arg-type]
    assert ch.played[0] == "queue_overflow_message" and not PROMISES & set(ch.played)
    assert rec.outcome == "message" and len(rec.messages) == 1


async def test_a_caller_with_no_usable_number_leaves_a_message_after_the_longest_wait(
    hub: QueueHub,
) -> None:
    await hub.queue.login(agent("1001", general=5))  # there, paused: the caller waits
    opts = options(message=MessageSettings(no_number_after_seconds=30))
    w = RedisQueueWaiter(hub, options=opts, callbacks=True)
    ch, rec = WaitingChannel(), record_for("s1")
    w.clock = ch.clock  # the channel's virtual time
    r = request("s1", "general", "12345", caller="alice")  # a SIP name
    await asyncio.wait_for(w.wait(ch, r, await hub.queue.enqueue(r), rec), 10)  # type: ignore[arg-type]
    assert ch.t >= 30 and rec.outcome == "message" and len(rec.messages) == 1
    assert "queue_callback_offer" not in ch.played  # no callback offered to a SIP name
    assert ch.played[-2:] == ["queue_overflow_message", "message_thanks"]
    over = [e[2] for e in await events(hub.queue, "s1") if e[1] == "OVERFLOW"]
    assert over[0].startswith("message||no_number|")


async def test_an_operator_who_becomes_free_ends_a_prompt_between_two_pieces(
    hub: QueueHub,
) -> None:
    opts = options(callback=CallbackSettings(offer_after_seconds=0, offer_position=None))
    w = RedisQueueWaiter(hub, options=opts, callbacks=True,
                         pieces=lambda name: [f"{name}.{i}" for i in (1, 2, 3)])  # fmt: skip
    await hub.queue.login(agent("1001", general=5))  # present, paused: no overflow
    r = request("o1", "general", "12345")
    ch, rec = WaitingChannel(), record_for("o1")
    play = ch.play

    async def play_and_free(prompt: str, escape: str = "") -> str:
        key = await play(prompt, escape)
        if prompt == "queue_callback_offer.1":
            await hub.queue.ready("1001")

            async def offered() -> bool:
                return hub.has_offer("o1")

            await until(offered, "no offer")
        return key

    ch.play = play_and_free  # type: ignore[method-assign]
    await asyncio.wait_for(w.wait(ch, r, await hub.queue.enqueue(r), rec), 10)  # type: ignore[arg-type]
    assert rec.outcome == "answered" and ch.dialled == ["PJSIP/1001"]
    assert [p for p in ch.played if p.startswith("queue_callback_offer")] == [
        "queue_callback_offer.1"
    ]


async def test_a_self_service_key_leaves_the_queue_as_exitwithkey(hub: QueueHub) -> None:
    w = RedisQueueWaiter(hub, options=options(widen=WidenSettings(after_seconds=None)))
    r = request("k1", "general", "12345")
    await hub.queue.enqueue(r)
    w.hold(r)
    await w.leave("k1", "ticket_lookup", "lookup")
    assert [(e[1], e[2]) for e in await events(hub.queue, "k1")] == [
        ("ENTERQUEUE", "12345|13800000000|1"),
        ("EXITWITHKEY", "lookup|1|1|0|ticket_lookup"),
    ]
    today = (await hub.queue.snapshot())["skills"]["general"]["today"]
    assert (today["offered"], today["selfservice"]) == (0, 1)
