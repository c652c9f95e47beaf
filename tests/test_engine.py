"""The menu engine against the shipped config, driven by a fake channel, with a real Redis."""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from ivr.config.bundle import ConfigBundle
from ivr.config.models import (
    HoursNode,
    LineMode,
    MenuNode,
    PlayNode,
    QueueNode,
    TransferNode,
)
from ivr.engine.attempt import STATE_EXPRESSION, HandedBack, LiveInfo
from ivr.engine.callstore import MemoryStore
from ivr.engine.channel import CallInfo
from ivr.engine.menu import MenuEngine
from ivr.engine.record import CallRecord
from queueing.queue import QueuePlace, QueueRequest, RedisQueue
from tests.fakes import FakeChannel

STRANGER = "13700000001"


def info(to: str = "12345", caller: str = STRANGER, uid: str = "1700000000.1") -> CallInfo:
    return CallInfo(uniqueid=uid, caller=caller, dnid=to, extension=to, channel="PJSIP/trunk-1")


async def call(
    config: ConfigBundle,
    queue: RedisQueue,
    ch: FakeChannel,
    to: str = "12345",
    caller: str = STRANGER,
    uid: str = "1700000000.1",
    clock: dt.datetime | None = None,
) -> CallRecord:
    store = MemoryStore()
    engine = MenuEngine(config, queue, store, clock=(lambda: clock) if clock else None)
    record = await engine.run(ch, info(to, caller, uid))
    assert store.records == [record], "every call leaves exactly one record in the store"
    return record


def person_skill(config: ConfigBundle) -> str:
    fallback = config.menu.nodes[config.menu.settings.fallback]
    assert isinstance(fallback, QueueNode)
    return fallback.skill or config.menu.settings.default_skill


async def test_pressing_nothing_reaches_a_person(config: ConfigBundle, queue: RedisQueue) -> None:
    ch = FakeChannel(keys="")
    record = await call(config, queue, ch)
    assert record.outcome == "queue"
    assert record.skill == person_skill(config)
    assert record.path[0] == config.menu.settings.entry
    assert record.path[-1] == config.menu.settings.fallback
    assert [e.kind for e in record.events].count("timeout") == config.menu.settings.max_no_input + 1
    assert ch.variables["HOTLINE_ROUTE"] == "queue"
    assert await queue.waiting(record.skill) == [record.uniqueid]
    assert "welcome" in ch.played


async def test_operator_key_reaches_a_person_at_once(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    ch = FakeChannel(keys=config.menu.settings.operator_key)
    record = await call(config, queue, ch)
    assert record.outcome == "queue"
    assert record.path == [config.menu.settings.entry, config.menu.settings.fallback]
    assert record.digits == config.menu.settings.operator_key
    # The key interrupted the first prompt (the recording notice) and counted: the caller
    # did not sit through the welcome or the menu.
    assert ch.played[0] == config.menu.settings.notice[0]
    assert not set(config.menu.nodes[config.menu.settings.entry].prompt) & set(ch.played)


async def test_repeated_wrong_keys_reach_a_person(config: ConfigBundle, queue: RedisQueue) -> None:
    entry = config.menu.nodes[config.menu.settings.entry]
    assert isinstance(entry, MenuNode)
    wrong = next(k for k in "123456789#" if k not in entry.options)
    ch = FakeChannel(keys=wrong * 10)
    record = await call(config, queue, ch)
    invalid = [e for e in record.events if e.kind == "invalid"]
    assert len(invalid) == config.menu.settings.max_invalid + 1
    assert record.outcome == "queue"
    assert record.path[-1] == config.menu.settings.fallback
    assert ch.played.count(config.menu.settings.invalid_prompt) == config.menu.settings.max_invalid


def emergency_keys(config: ConfigBundle, number: str) -> str:
    node = config.menu.nodes[config.menu.settings.emergency]
    assert isinstance(node, MenuNode)
    for key, target in node.options.items():
        t = config.menu.nodes[target]
        if isinstance(t, TransferNode) and t.emergency == number:
            return key
    raise AssertionError(f"no option for {number}")


@pytest.mark.parametrize("number", ["110", "119", "120", "122"])
async def test_emergency_key_reaches_the_emergency_line(
    config: ConfigBundle, queue: RedisQueue, number: str
) -> None:
    key = config.menu.settings.emergency_key
    assert key
    ch = FakeChannel(keys=key + emergency_keys(config, number))
    record = await call(config, queue, ch)
    assert ch.dialled == [config.menu.emergency_lines[number]]
    assert record.outcome == "emergency"
    assert ch.variables["HOTLINE_ROUTE"] == "emergency"


async def test_failed_emergency_transfer_falls_back_to_a_person(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    dial = config.menu.emergency_lines["110"]
    ch = FakeChannel(
        keys=(config.menu.settings.emergency_key or "") + emergency_keys(config, "110"),
        dial_status={dial: "CONGESTION"},
    )
    record = await call(config, queue, ch)
    assert ch.dialled == [dial]
    assert record.outcome == "queue", "a failed transfer never leaves the caller alone"
    assert ("dial", "CONGESTION") in [(e.kind, e.detail) for e in record.events]


def lines_of(config: ConfigBundle, mode: LineMode) -> list[tuple[str, str]]:
    return [(ln.number, config.line_skill(ln)) for ln in config.lines.lines if ln.mode is mode]


async def test_every_merged_line_announces_the_move_then_serves_with_its_skill(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    merged = [ln for ln in config.lines.lines if ln.mode is LineMode.MERGED]
    assert merged
    for i, line in enumerate(merged):
        ch = FakeChannel(keys=config.menu.settings.operator_key)
        record = await call(config, queue, ch, to=line.number, uid=f"m.{i}")
        assert ch.played[0] == (line.announcement or "line_moved"), line.number
        assert record.line_number == line.number
        assert record.outcome == "queue"
        assert record.skill == config.line_skill(line), line.number


async def test_every_parallel_line_reaches_its_department_seats(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    parallel = [ln for ln in config.lines.lines if ln.mode is LineMode.PARALLEL]
    assert parallel
    # Department hours may route the call elsewhere; fix the clock inside office hours.
    monday_morning = dt.datetime(2026, 11, 23, 10, 0)
    for i, line in enumerate(parallel):
        ch = FakeChannel(keys="")
        record = await call(config, queue, ch, to=line.number, uid=f"p.{i}", clock=monday_morning)
        assert record.outcome == "queue", line.number
        assert record.skill == config.line_skill(line), line.number
        assert "line_moved" not in ch.played


async def test_legacy_number_in_carrier_forms_routes_the_same(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    line = next(ln for ln in config.lines.lines if ln.mode is LineMode.MERGED)
    area = config.lines.hotline.area_code or ""
    for i, form in enumerate([line.number, f"{area}{line.number}", f"+86{area[1:]}{line.number}"]):
        if len(line.number) < 7 and form != line.number:
            continue  # short national numbers carry no area code
        record = await call(config, queue, FakeChannel(keys="0"), to=form, uid=f"f.{i}")
        assert record.line_number == line.number, form


async def test_subcentre_line_transfers_and_falls_back_to_a_person(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    subs = [ln for ln in config.lines.lines if ln.mode is LineMode.SUBCENTRE]
    assert subs
    line = subs[0]
    assert line.transfer
    ch = FakeChannel()
    record = await call(config, queue, ch, to=line.number, uid="s.1")
    assert ch.dialled == [line.transfer]
    assert record.outcome == "subcentre"

    ch = FakeChannel(dial_status={line.transfer: "BUSY"})
    record = await call(config, queue, ch, to=line.number, uid="s.2")
    assert ch.dialled == [line.transfer]
    assert record.outcome == "queue", "a busy sub-centre never leaves the caller alone"
    assert record.skill == config.line_skill(line)


async def test_accessible_caller_skips_the_menu_with_priority(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    caller = config.accessibility.callers[0].number
    early = await call(config, queue, FakeChannel(keys="0"), uid="a.0")  # waits first
    ch = FakeChannel()
    record = await call(config, queue, ch, caller=caller, uid="a.1")
    assert record.accessible
    assert record.outcome == "queue"
    assert record.path == []
    assert record.priority == config.accessibility.priority
    assert record.queue_position == 1, "priority goes ahead of a caller who came earlier"
    assert early.skill == record.skill
    assert await queue.waiting(record.skill or "") == ["a.1", "a.0"]


async def test_hours_branch_follows_the_department_calendar(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    hours_id, node = next(
        (nid, n) for nid, n in config.menu.nodes.items() if isinstance(n, HoursNode)
    )
    keys = keys_to(config, hours_id)
    assert keys is not None
    open_at = dt.datetime(2026, 11, 23, 10, 0)  # Monday, a working day
    closed_at = dt.datetime(2026, 11, 22, 10, 0)  # Sunday
    holiday = dt.datetime(2026, 10, 1, 10, 0)  # National Day
    for i, (when, branch) in enumerate(
        [(open_at, node.open), (closed_at, node.closed), (holiday, node.closed)]
    ):
        record = await call(config, queue, FakeChannel(keys=keys), uid=f"h.{i}", clock=when)
        assert branch in record.path, when


def keys_to(config: ConfigBundle, target: str) -> str | None:
    """The shortest key sequence from the entry (or the emergency key) that enters ``target``."""
    s = config.menu.settings
    starts = [(s.entry, "")]
    if s.emergency_key:
        starts.append((s.emergency, s.emergency_key))
    seen: set[str] = set()
    todo = deque(starts)
    while todo:
        nid, keys = todo.popleft()
        if nid in seen:
            continue
        seen.add(nid)
        if nid == target:
            return keys
        node = config.menu.nodes[nid]
        if isinstance(node, MenuNode):
            for key, nxt in node.options.items():
                todo.append((nxt, keys + key))
            todo.append((s.fallback, keys + s.operator_key))
        elif isinstance(node, PlayNode):
            todo.append((node.next, keys))
        elif isinstance(node, HoursNode):
            todo.append((node.open, keys))
        elif isinstance(node, TransferNode):
            todo.append((node.on_fail or s.fallback, keys))
        elif hasattr(node, "next"):
            todo.append((node.next, keys + "."))
    return None  # reachable only some other way (a closed department, say)


async def test_hangup_at_every_kind_of_node_leaves_a_complete_record(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    """For every node: hang up at each command on the way there. Each call ends as a hangup,
    with the node it happened at, and a stored record."""
    kinds_hung_up_at: set[str] = set()
    when = dt.datetime(2026, 11, 23, 10, 0)
    for nid in config.menu.nodes:
        keys = keys_to(config, nid)
        if keys is None:
            continue
        failing = dict.fromkeys(config.menu.emergency_lines.values(), "NOANSWER")
        full = FakeChannel(keys=keys, dial_status=failing)
        await call(config, queue, full, uid=f"full.{nid}", clock=when)
        for n in range(full.commands):
            ch = FakeChannel(keys=keys, hangup_after=n, dial_status=failing)
            record = await call(config, queue, ch, uid=f"hup.{nid}.{n}", clock=when)
            # A caller who hangs up once placed in the queue has abandoned it.
            queued = any(e.kind == "queue" for e in record.events)
            assert record.outcome == ("abandoned" if queued else "hangup")
            assert record.ended_at is not None
            assert record.events[-2].kind == "hangup"
            if record.hangup_node is not None:
                hung = config.menu.nodes[record.hangup_node]
                kinds_hung_up_at.add(hung.type)
    # An hours node without a prompt sends Asterisk nothing, so a caller cannot hang up "in" it.
    silent = {n.type for n in config.menu.nodes.values() if n.type == "hours" and not n.prompt}
    expected = {"menu", "play", "queue", "lookup", "message", "transfer", "hours"} - silent
    assert kinds_hung_up_at >= expected


async def test_reentering_caller_keeps_its_place(config: ConfigBundle, queue: RedisQueue) -> None:
    first = await call(config, queue, FakeChannel(keys="0"), uid="r.1")
    await call(config, queue, FakeChannel(keys="0"), uid="r.2")
    again = await call(config, queue, FakeChannel(keys="0"), uid="r.1")
    assert first.queue_position == 1
    assert again.queue_position == 1, "same uniqueid: same place, not the back of the queue"


async def test_lookup_and_message_return_to_the_menu(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    lookup_id = next(nid for nid, n in config.menu.nodes.items() if n.type == "lookup")
    keys = (keys_to(config, lookup_id) or "") + "20261123001#"
    ch = FakeChannel(keys=keys)
    record = await call(config, queue, ch, uid="l.1")
    lookups = [e for e in record.events if e.kind == "lookup"]
    assert [e.detail for e in lookups] == ["20261123001 not_found"]
    assert "lookup_not_found" in ch.played
    assert record.outcome == "queue", "after the lookup, silence still reaches a person"

    message_id = next(nid for nid, n in config.menu.nodes.items() if n.type == "message")
    ch = FakeChannel(keys=keys_to(config, message_id) or "")
    record = await call(config, queue, ch, uid="msg.1")
    assert len(ch.recorded) == 1
    assert record.messages == [ch.recorded[0] + ".wav"]
    assert record.outcome == "queue"


async def test_a_retry_replays_the_menu_not_the_welcome(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    entry = config.menu.nodes[config.menu.settings.entry]
    assert isinstance(entry, MenuNode) and entry.reprompt
    wrong = next(k for k in "123456789#" if k not in entry.options)
    # nothing during the recording notice, a wrong key during the welcome, then silence
    ch = FakeChannel(keys="." + wrong)
    record = await call(config, queue, ch)
    assert record.outcome == "queue"
    notice = config.menu.settings.notice[0]
    invalid = config.menu.settings.invalid_prompt
    assert ch.played[:4] == [notice, entry.prompt[0], invalid, *entry.reprompt]
    assert ch.played.count(entry.prompt[0]) == 1


async def test_a_finished_call_says_so_for_the_dialplan(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    ch = FakeChannel(keys="*91")
    await call(config, queue, ch)
    assert ch.variables["HOTLINE_DONE"] == "1", "transferred to 110: served"

    handed = FakeChannel(keys="0")
    record = await call(config, queue, handed, uid="handed.1")
    assert record.outcome == "queue"
    assert "HOTLINE_DONE" not in handed.variables, "queued with no waiter: the dialplan goes on"
    assert handed.variables["HOTLINE_HELD"] == "", "nobody holds it: no FastAGI retry for it"

    gone = FakeChannel(keys="0", hangup_after=3)
    record = await call(config, queue, gone, uid="gone.1")
    assert record.outcome == "hangup"
    assert "HOTLINE_DONE" not in gone.variables


async def test_a_caller_held_by_a_waiter_is_marked_for_the_dialplan(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    """While a waiter holds the queued caller, HOTLINE_HELD=1 is on the channel: should the
    session break off (the server died), the dialplan tries the FastAGI servers again for it
    while its place is kept (asterisk_conf/extensions.conf, [hotline-serve])."""
    ch = FakeChannel(keys="0")
    seen: list[str] = []

    class Waiter:
        async def wait(self, *args: object) -> None:
            seen.append(ch.variables.get("HOTLINE_HELD", "unset"))

    engine = MenuEngine(config, queue, MemoryStore(), waiter=Waiter())
    await engine.run(ch, info(uid="held.1"))
    assert seen == ["1"]


async def test_a_caller_back_from_a_failed_server_resumes_its_place(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    await call(config, queue, FakeChannel(keys="0"), uid="early.1")
    await call(config, queue, FakeChannel(keys="0"), uid="early.2")
    # The dialplan passes the route the call had as the AGI's last three arguments.
    store = MemoryStore()
    engine = MenuEngine(config, queue, store)
    ch = FakeChannel()
    args = ("queue", "general", "0")
    record = await engine.run(ch, CallInfo("early.1", STRANGER, dnid="12345", arguments=args))
    assert record.path == [], "no menu again"
    assert ch.played == []
    assert record.queue_position == 1, "its original place, not the back of the queue"
    # A first attempt has empty arguments: the menu as usual.
    first = await engine.run(
        FakeChannel(keys="0"), CallInfo("new.1", STRANGER, arguments=("", "", ""))
    )
    assert first.path == ["main", "operator"]


# ------------------------------------------------------------------ attempts and re-entries


@dataclass
class StateChannel(FakeChannel):
    """A channel that keeps its variables across sessions (as Asterisk keeps them on the
    channel between two AGI() of one call) and answers GET FULL VARIABLE."""

    present: bool = True
    evaluated: list[str] = field(default_factory=list)

    async def evaluate(self, expression: str) -> str:
        self.evaluated.append(expression)
        return re.sub(r"\$\{([^}]*)\}", lambda m: self.variables.get(m.group(1), ""), expression)

    async def caller_present(self) -> bool:
        return self.present

    def again(self, keys: str = "") -> StateChannel:
        """The next AGI session of the same call: same channel variables."""
        return StateChannel(keys=keys, variables=dict(self.variables), present=self.present)


class SurveyWaiter:
    """A waiter that only records what the engine asks of it."""

    def __init__(self) -> None:
        self.waits: list[str] = []
        self.surveys: list[str] = []

    async def wait(self, channel: Any, request: Any, place: Any, record: CallRecord) -> None:
        self.waits.append(record.uniqueid)

    async def survey(self, channel: Any, uniqueid: str, record: CallRecord) -> None:
        self.surveys.append(uniqueid)
        await channel.set_variable("HOTLINE_SURVEYED", "1")


async def test_a_plain_reentry_resumes_the_queue_place_from_the_channel(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    """A re-entering call (a bare AGI(), no arguments) finds its place from the channel's
    variables, read in one round trip; each session is the next attempt."""
    ch = StateChannel(keys="0")
    first = await MenuEngine(config, queue, MemoryStore(), server="s1").run(ch, info(uid="p.1"))
    await call(config, queue, FakeChannel(keys="0"), uid="p.2")
    assert (first.attempt, first.server, first.queue_position) == (1, "s1", 1)
    assert ch.evaluated == [STATE_EXPRESSION] and ch.variables["HOTLINE_SESSION"] == "1"
    again = ch.again()
    second = await MenuEngine(config, queue, MemoryStore(), server="s2").run(again, info(uid="p.1"))
    assert (second.attempt, second.server) == (2, "s2")
    assert second.path == [] and again.played == [], "no menu again"
    assert second.queue_position == 1, "its original place"
    assert again.variables["HOTLINE_SESSION"] == "2"


async def test_a_reentry_finds_its_place_in_redis_when_the_channel_cannot_tell(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    """The session broke off between the enqueue and the channel variables: the queue's
    entry of the uniqueid tells the skill and priority."""
    await call(config, queue, FakeChannel(keys="0"), uid="q.1")
    ch = StateChannel(variables={"HOTLINE_SESSION": "1"})
    record = await MenuEngine(config, queue, MemoryStore()).run(ch, info(uid="q.1"))
    assert record.attempt == 2 and record.path == [] and record.queue_position == 1
    assert ("resume", "general p0") in [(e.kind, e.detail) for e in record.events]
    # a first attempt is never looked up: the menu as usual
    fresh = await MenuEngine(config, queue, MemoryStore()).run(
        StateChannel(keys="0"), info(uid="q.2")
    )
    assert fresh.path == ["main", "operator"]


@pytest.mark.parametrize(
    "left",
    [
        {"HOTLINE_DONE": "1", "HOTLINE_ROUTE": "queue", "HOTLINE_AGENT": "1001"},
        # the session died after the operator's Dial returned, before it could say so
        {"HOTLINE_ROUTE": "queue", "DIALSTATUS": "ANSWER", "HOTLINE_AGENT": "1001"},
    ],
)
async def test_a_served_call_is_never_queued_again_only_surveyed(
    config: ConfigBundle, queue: RedisQueue, left: dict[str, str]
) -> None:
    waiter = SurveyWaiter()
    engine = MenuEngine(config, queue, MemoryStore(), waiter=waiter)
    ch = StateChannel(variables={"HOTLINE_SESSION": "1", "HOTLINE_SKILL": "general", **left})
    record = await engine.run(ch, info(uid="s.1"))
    assert waiter.waits == [] and await queue.waiting("general") == []
    assert waiter.surveys == ["s.1"], "the survey it did not take"
    assert (record.outcome, record.outcome_detail, record.path) == ("answered", "1001", [])
    assert ch.variables["HOTLINE_DONE"] == "1" and ch.played == [] and ch.dialled == []
    # surveyed already: nothing at all, the call ends
    again = ch.again()
    record = await engine.run(again, info(uid="s.1"))
    assert waiter.surveys == ["s.1"] and waiter.waits == []
    assert record.attempt == 3 and record.outcome == "answered"
    assert again.played == [] and again.variables["HOTLINE_DONE"] == "1"


async def test_old_dialplans_route_arguments_still_resume(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    await call(config, queue, FakeChannel(keys="0"), uid="o.1")
    ch = StateChannel()
    args = ("queue", "general", "0")
    record = await MenuEngine(config, queue, MemoryStore()).run(
        ch, CallInfo("o.1", STRANGER, dnid="12345", arguments=args)
    )
    assert record.path == [] and record.queue_position == 1


async def test_a_handed_back_caller_keeps_its_place_for_the_next_server(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    class Stopping:
        async def wait(self, *args: object) -> None:
            raise HandedBack("h.1")

    ch = StateChannel(keys="0")
    store = MemoryStore()
    record = await MenuEngine(config, queue, store, waiter=Stopping()).run(ch, info(uid="h.1"))
    assert record.outcome == "handed-back" and store.records == [record]
    assert "HOTLINE_DONE" not in ch.variables and ch.variables["HOTLINE_HELD"] == "1"
    assert await queue.waiting("general") == ["h.1"], "the place stays for the next server"


async def test_the_enqueue_waits_with_music_while_redis_is_away(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    class Flaky:
        def __init__(self, failures: int) -> None:
            self.failures = failures

        async def enqueue(self, request: QueueRequest) -> QueuePlace:
            if self.failures:
                self.failures -= 1
                raise RedisConnectionError("Connection refused")
            return await queue.enqueue(request)

    ch = StateChannel(keys="0")
    record = await MenuEngine(config, Flaky(2), MemoryStore()).run(ch, info(uid="f.1"))
    assert record.outcome == "queue" and record.queue_position == 1
    assert ch.music == "", "music while it waited, off again once placed"
    gone = StateChannel(keys="0")
    engine = MenuEngine(config, Flaky(1000), MemoryStore(), redis_patience=0.0)
    with pytest.raises(RedisConnectionError):
        await engine.run(gone, info(uid="f.2"))
    assert "HOTLINE_DONE" not in gone.variables, "the dialplan takes the caller on"


async def test_live_calls_are_registered_noted_and_ended(
    config: ConfigBundle, queue: RedisQueue
) -> None:
    class Tracker:
        def __init__(self) -> None:
            self.seen: list[tuple[str, str, int, str]] = []

        async def started(self, record: CallRecord) -> LiveInfo | None:
            self.seen.append(("started", record.uniqueid, record.attempt, record.outcome))
            return None

        async def note(self, record: CallRecord, *, done: bool = False) -> None:
            self.seen.append(("note", record.uniqueid, record.attempt, record.outcome))

        async def ended(self, record: CallRecord, *, finished: bool) -> None:
            self.seen.append(("ended" if finished else "left", record.uniqueid, 0, ""))

    tracker = Tracker()
    engine = MenuEngine(config, queue, MemoryStore(), tracker=tracker)
    await engine.run(StateChannel(keys="0"), info(uid="t.1"))
    assert tracker.seen == [
        ("started", "t.1", 1, "in_progress"),
        ("note", "t.1", 1, "queue"),
        ("ended", "t.1", 0, ""),
    ]
    assert engine.live == {}
