"""Virtual hold: the callback keeps the caller's original place (its score), one callback
per number, dialled through AMI (agent first) only when an agent is free for it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ivr.config.queue_models import (
    Announce,
    CallbackSettings,
    DiallerSettings,
    QueueFile,
    QueueSettings,
)
from ivr.queuewait.waiter import QueueHub, RedisQueueWaiter
from queueing import callback, keys
from queueing.ami import AMIClient, AMIError, resolve_secret
from queueing.callback import CallbackDialler
from queueing.events import MemoryEventSink
from queueing.queue import QueueRequest, RedisQueue
from tests.conftest import free_port
from tests.queueing.channel import WaitingChannel
from tests.queueing.conftest import Clock, agent
from tests.queueing.fake_ami import FakeAMI
from tests.queueing.test_waiter import record_for, until
from tests.redis_clients import redis_client


def req(uid: str, t: float, caller: str = "13800000000", priority: int = 0) -> QueueRequest:
    return QueueRequest(uid, caller, "12345", "general", priority, t)


async def events(q: RedisQueue, uid: str | None = None) -> list[tuple[str, str, str]]:
    rows = await q.client.xrange(q.events_key)
    out = []
    for _, f in rows:
        f = {k.decode(): v.decode() for k, v in f.items()}
        if uid is None or f["callid"] == uid:
            out.append((f["callid"], f["event"], f["data"]))
    return out


async def test_a_callback_keeps_its_place_and_is_dialled_when_an_agent_is_free(
    rq: RedisQueue, clock: Clock
) -> None:
    for i, uid in enumerate(["c1", "c2", "c3"]):
        await rq.enqueue(req(uid, clock() - 10 + i, caller=f"1380000000{i}"))
    result = await rq.request_callback("c2")
    assert (result.status, result.ref, result.position) == ("callback", "c2", 2)
    assert await rq.waiting("general") == ["c1", "c2", "c3"]  # the same place
    entry = await rq.entry("c2")
    assert entry["kind"] == "callback" and entry["server"] == ""
    assert await rq.client.zscore(keys.leases(rq.centre), "c2") is None  # nobody holds it
    assert (await events(rq, "c2"))[-1][1:] == ("CALLBACKREQUEST", "1|2|2|9|")
    await rq.login(agent("a1"), ready=True)  # takes c1, a live caller: to its server's inbox
    assert await rq.client.llen(keys.callbacks(rq.centre)) == 0
    await rq.connect("c1", "a1")
    await rq.complete("c1", "a1")
    clock.advance(11)
    await rq.tick()  # wrap-up over: a1 ready, the head is the callback c2
    assert (await rq.entry("c2"))["state"] == "offered"
    offer = await rq.client.lpop(keys.callbacks(rq.centre))
    assert offer == b"c2\ta1\tPJSIP/a1"
    assert await rq.client.zscore(keys.leases(rq.centre), "c2") is not None  # the dialler's
    assert [e[1] for e in await events(rq, "c2")][-1] == "CALLBACKDIAL"


async def test_one_callback_per_number_keeps_the_earlier_place(
    rq: RedisQueue, clock: Clock
) -> None:
    await rq.enqueue(req("early", clock(), caller="13900000001"))
    await rq.enqueue(req("other", clock() + 1, caller="13900000002"))
    await rq.enqueue(req("late", clock() + 2, caller="13900000001"))
    assert (await rq.request_callback("late")).status == "callback"
    merged = await rq.request_callback("early")
    assert (merged.status, merged.ref, merged.position) == ("merged", "late", 1)
    assert await rq.waiting("general") == ["late", "other"]  # took the earlier place
    assert await rq.entry("early") == {}
    third = await rq.enqueue(req("again", clock() + 3, caller="13900000001"))
    assert (await rq.request_callback("again")).status == "merged"
    assert third.position == 3 and await rq.waiting("general") == ["late", "other"]


async def test_no_callback_once_an_agent_is_reserved(rq: RedisQueue, clock: Clock) -> None:
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(req("c1", clock()))
    assert (await rq.request_callback("c1")).status == "offered"
    assert (await rq.request_callback("nobody")).status == "gone"


async def test_a_callback_whose_dialler_died_goes_back_to_its_place(
    rq: RedisQueue, clock: Clock
) -> None:
    await rq.enqueue(req("c0", clock() - 5, caller="13800000009"))
    await rq.enqueue(req("c1", clock() - 10))
    await rq.request_callback("c1")
    await rq.login(agent("a1"), ready=True)
    assert (await rq.entry("c1"))["state"] == "offered"
    clock.advance(rq.settings.lease_seconds + 1)  # nobody renewed it
    await rq.renew(["c0"])  # (the live caller's session did)
    await rq.tick()
    names = [e[1:] for e in await events(rq, "c1")]
    assert ("RINGNOANSWER", "0|lease") in names
    # a1 was not to blame: ready with its idle place, and takes the live caller meanwhile;
    # the callback is tried again one lease later, and only while a dialler is logged in
    assert (await rq.agent("a1")).call == "c0"
    assert (await rq.entry("c1"))["state"] == "retry"
    await rq.connect("c0", "a1")
    await rq.complete("c0", "a1")
    clock.advance(rq.settings.lease_seconds + rq.settings.wrapup_seconds + 1)
    await rq.heartbeat("a1")
    await rq.tick()
    assert (await rq.entry("c1"))["state"] == "retry" and (await rq.agent("a1")).state == "ready"
    assert await rq.dialler_alive(15) == 1
    await rq.tick()
    assert (await rq.entry("c1"))["state"] == "offered"
    assert (await rq.agent("a1")).call == "c1"
    assert await rq.client.llen(keys.callbacks(rq.centre)) == 2


async def test_a_caller_not_reached_is_tried_again_at_its_place_then_becomes_a_missed_call(
    rq: RedisQueue, clock: Clock
) -> None:
    await rq.enqueue(req("c1", clock() - 60))
    await rq.enqueue(req("live", clock() - 30, caller="13800000007"))
    await rq.request_callback("c1")
    await rq.dialler_alive(3600)
    await rq.login(agent("a1"), ready=True)
    assert (await rq.agent("a1")).call == "c1"
    # the agent answered, the citizen did not: attempt 1 of 2, back in 5 s at its place
    failed = await rq.callback_failed(
        "c1", "a1", "NOANSWER", counted=True, max_attempts=2, retry_seconds=5
    )
    assert (failed.state, failed.attempts) == ("retry", 1)
    assert (await events(rq, "c1"))[-1][1:] == ("CALLBACKFAIL", "NOANSWER|1|2|5")
    entry = await rq.entry("c1")
    assert (entry["state"], entry["attempts"]) == ("retry", "1")
    a1 = await rq.agent("a1")  # not paused: it answered; it takes the next caller
    assert (a1.state, a1.call) == ("reserved", "live")
    await rq.connect("live", "a1")
    await rq.complete("live", "a1")
    clock.advance(rq.settings.wrapup_seconds + 1)
    await rq.tick()
    assert await rq.waiting("general") == []  # not due yet
    await rq.enqueue(req("later", clock() - 1, caller="13800000008"))
    clock.advance(5)
    await rq.tick()  # due: back at its place, ahead of the later caller
    assert (await rq.agent("a1")).call == "c1" and await rq.waiting("general") == ["later"]
    # not dialled at all (AMI away): no attempt, the agent keeps its idle place
    failed = await rq.callback_failed(
        "c1", "a1", "AMI", counted=False, max_attempts=2, retry_seconds=5
    )
    assert (failed.state, failed.attempts) == ("retry", 1)
    assert (await rq.agent("a1")).call == "later"
    await rq.abandon("later")
    clock.advance(6)
    await rq.tick()
    failed = await rq.callback_failed(
        "c1", "a1", "BUSY", counted=True, max_attempts=2, retry_seconds=5
    )
    assert (failed.state, failed.attempts) == ("closed", 2)
    names = [e[1:] for e in await events(rq, "c1")]
    assert names[-2:] == [("CALLBACKFAIL", "BUSY|2|2|"), ("ABANDON", "0|1|82|callback")]
    assert await rq.entry("c1") == {}
    assert await rq.client.hlen(keys.callback_callers(rq.centre)) == 0
    assert await rq.client.zcard(keys.callback_retries(rq.centre)) == 0
    assert (await rq.agent("a1")).state == "ready"
    # the same number may ask again
    await rq.pause("a1")
    await rq.enqueue(req("c2", clock()))
    assert (await rq.request_callback("c2")).status == "callback"


async def test_a_caller_who_calls_again_makes_its_pending_retry_due(
    rq: RedisQueue, clock: Clock
) -> None:
    await rq.enqueue(req("c1", clock()))
    await rq.request_callback("c1")
    await rq.dialler_alive(3600)
    await rq.login(agent("a1"), ready=True)
    await rq.callback_failed("c1", "a1", "NOANSWER", counted=True, max_attempts=3,
                             retry_seconds=300)  # fmt: skip
    await rq.pause("a1")
    await rq.enqueue(req("again", clock() + 1))
    assert (await rq.request_callback("again")).status == "merged"
    await rq.tick()
    assert await rq.waiting("general") == ["c1"]  # due at once, at its original place
    assert (await rq.entry("c1"))["attempts"] == "1"


SETTINGS = QueueSettings(
    wrapup_seconds=0, announce=Announce(interval_seconds=30, first_after_seconds=10)
)


@pytest.fixture
async def hub(queue_url: str, ami: FakeAMI) -> AsyncIterator[QueueHub]:
    async with dialling_hub(queue_url, DiallerSettings(enabled=True, port=ami.port), ami) as h:
        yield h


@contextlib.asynccontextmanager
async def dialling_hub(
    queue_url: str, settings: DiallerSettings, ami: FakeAMI | None = None, **kw: Any
) -> AsyncIterator[QueueHub]:
    """A hub with a dialler (on ``ami``, logged in before it is handed over), no reaper."""
    client = redis_client(queue_url)
    await client.flushdb()
    queue = RedisQueue(client, SETTINGS, server="agi-1")
    client_ami = None if ami is None else AMIClient("127.0.0.1", ami.port, "hotline", ami.secret)
    dialler = CallbackDialler(queue, settings, client_ami, **kw)
    h = QueueHub(queue, MemoryEventSink(), reaper=False, dialler=dialler)
    await h.start()
    try:
        if ami is not None:
            await until(lambda: dialler.ready, "the dialler to log in")
            end = time.monotonic() + 10  # and to have told Redis so (its next step)
            while await queue.diallers_alive() == 0:
                assert time.monotonic() < end, "the dialler did not tell Redis it is alive"
                await asyncio.sleep(0.005)
        yield h
    finally:
        await h.stop()
        await queue.close()


async def test_virtual_hold_through_the_waiter_then_ami_originate(
    hub: QueueHub, ami: FakeAMI
) -> None:
    options = QueueFile(settings=SETTINGS, callback=CallbackSettings(offer_after_seconds=0))
    waiter = RedisQueueWaiter(hub, options=options)
    assert waiter.callbacks  # the hub has a dialler
    ch = WaitingChannel(press={"queue_callback_offer": "1"})
    request = QueueRequest("c1", "13812345678", "12345", "general", 0, time.time())
    place = await hub.queue.enqueue(request)
    record = record_for("c1")
    await asyncio.wait_for(waiter.wait(ch, request, place, record), 10)  # type: ignore[arg-type]
    assert ch.played == ["queue_callback_offer", "queue_callback_confirm"]
    assert record.outcome == "callback" and ch.variables["HOTLINE_ROUTE"] == "callback"
    assert ch.dialled == []
    # nobody staffed: nothing is dialled until an agent is free for it
    await asyncio.sleep(0.05)
    assert ami.originates == []
    await hub.queue.login(agent("a1"), ready=True)
    await until(lambda: len(ami.answered) == 1, "the agent to answer the callback")
    sent = ami.originates[0]
    assert sent["Channel"] == ["PJSIP/a1"] and sent["Exten"] == ["13812345678"]
    assert sent["Context"] == ["hotline-callback"] and sent["Async"] == ["true"]
    assert "HOTLINE_CALLBACK=c1" in sent["Variable"] and "HOTLINE_AGENT=a1" in sent["Variable"]
    for _ in range(200):
        if (await hub.queue.entry("c1")).get("state") == "connected":
            break
        await asyncio.sleep(0.01)
    assert (await hub.queue.agent("a1")).state == "busy"
    assert "c1" in hub.sessions  # its lease is renewed while the call lasts
    ami.hangup(ami.answered[0])
    for _ in range(200):
        if (await hub.queue.agent("a1")).state == "ready":
            break
        await asyncio.sleep(0.01)
    assert (await hub.queue.agent("a1")).state == "ready" and await hub.queue.entry("c1") == {}
    names = [e[1] for e in await events(hub.queue, "c1")]
    assert names == ["ENTERQUEUE", "CALLBACKREQUEST", "CALLBACKDIAL", "CONNECT", "COMPLETEAGENT"]
    assert await hub.queue.client.hlen(keys.callback_callers(hub.queue.centre)) == 0


async def test_an_agent_who_misses_a_callback_is_paused_and_the_callback_waits_on(
    hub: QueueHub, ami: FakeAMI
) -> None:
    ami.outcomes = ["NOANSWER", "ANSWER"]
    q = hub.queue
    await q.enqueue(QueueRequest("c1", "13812345678", "12345", "general", 0, time.time()))
    await q.request_callback("c1")
    await q.login(agent("a1"), ready=True)
    await until(lambda: len(ami.originates) == 1, "the first originate")
    for _ in range(200):
        if (await q.agent("a1")).state == "paused":
            break
        await asyncio.sleep(0.01)
    a1 = await q.agent("a1")
    assert (a1.state, a1.reason) == ("paused", "no answer")
    assert await q.waiting("general") == ["c1"]
    await q.login(agent("a2"), ready=True)
    await until(lambda: len(ami.answered) == 1, "a2 to answer")
    assert ami.originates[1]["Channel"] == ["PJSIP/a2"]
    assert hub.dialler is not None and hub.dialler.dialled[0] == ("c1", "NOANSWER")


async def test_ami_login_refused(ami: FakeAMI) -> None:
    client = AMIClient("127.0.0.1", ami.port, "hotline", "wrong")
    with pytest.raises(AMIError, match="refused"):
        await client.connect()
    await client.close()


def test_secret_references(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "x1")
    assert resolve_secret("env:HOTLINE_AMI_SECRET") == "x1"
    monkeypatch.delenv("HOTLINE_AMI_SECRET")
    with pytest.raises(AMIError):
        resolve_secret("env:HOTLINE_AMI_SECRET")


async def poll_state(q: RedisQueue, uid: str, state: str) -> dict[str, str]:
    for _ in range(500):
        entry = await q.entry(uid)
        if entry.get("state", "gone") == state:
            return entry
        await asyncio.sleep(0.01)
    raise AssertionError(f"{uid}: {await q.entry(uid)}, expected {state}")


async def test_a_citizen_who_does_not_answer_is_called_again_then_left_as_a_missed_call(
    queue_url: str, ami: FakeAMI
) -> None:
    """The agent answers both times; the citizen does not answer, then is busy: after
    max_attempts the callback is closed like an abandoned call, never dropped."""
    ami.citizen = ["NOANSWER", "BUSY"]
    settings = DiallerSettings(enabled=True, port=ami.port, max_attempts=2, retry_after_seconds=5)
    async with dialling_hub(queue_url, settings, ami) as h:
        q = h.queue
        await q.enqueue(QueueRequest("c1", "13812345678", "12345", "general", 0, time.time()))
        await q.request_callback("c1")
        await q.login(agent("a1"), ready=True)
        entry = await poll_state(q, "c1", "retry")
        assert entry["attempts"] == "1" and entry["score"]  # its place is kept
        retry_at = await q.client.zscore(keys.callback_retries(q.centre), "c1")
        assert retry_at is not None and retry_at > time.time() * 1000 + 4000
        await until(lambda: len(ami.originates) == 1, "one originate")
        a1 = await q.agent("a1")
        assert a1.state == "ready"  # it answered: not paused, free for the next caller
        assert h.dialler is not None and ("c1", "NOANSWER") in h.dialler.dialled
        # due again (as if 5 s had passed): back at its place and offered to a1 again
        await q.client.zadd(keys.callback_retries(q.centre), {"c1": 0})
        await q.tick()
        await poll_state(q, "c1", "gone")
        names = [e[1:] for e in await events(q, "c1")]
        assert [n for n, _ in names] == [
            "ENTERQUEUE", "CALLBACKREQUEST", "CALLBACKDIAL", "CALLBACKFAIL", "CALLBACKDIAL",
            "CALLBACKFAIL", "ABANDON",
        ]  # fmt: skip
        assert names[3][1] == "NOANSWER|1|2|5" and names[5][1] == "BUSY|2|2|"
        assert names[6][1].startswith("0|1|") and names[6][1].endswith("|callback")
        assert len(ami.originates) == 2
        assert (await q.agent("a1")).state == "ready"
        assert await q.client.hlen(keys.callback_callers(q.centre)) == 0


async def test_no_callback_is_offered_while_no_dialler_is_logged_in(hub: QueueHub) -> None:
    """A waiter of a process without a dialler (the process AGI script) asks Redis."""
    bare = QueueHub(hub.queue, reaper=False)
    options = QueueFile(settings=SETTINGS, callback=CallbackSettings(offer_after_seconds=0))
    waiter = RedisQueueWaiter(bare, options=options.model_copy(
        update={"dialler": DiallerSettings(enabled=True)}))  # fmt: skip
    assert waiter.callbacks and await bare.can_dial()  # the hub's dialler is logged in
    assert hub.dialler is not None
    await hub.dialler.close()  # logged out: not counted any more
    assert not await bare.can_dial() and not await waiter._can_call_back()


async def test_the_citizen_hanging_up_completes_as_the_caller(hub: QueueHub, ami: FakeAMI) -> None:
    q = hub.queue
    await q.enqueue(QueueRequest("c1", "13812345678", "12345", "general", 0, time.time()))
    await q.request_callback("c1")
    await q.login(agent("a1"), ready=True)
    await poll_state(q, "c1", "connected")
    ami.hangup(ami.answered[0], by="citizen")
    await poll_state(q, "c1", "gone")
    assert [e[1] for e in await events(q, "c1")][-2:] == ["CONNECT", "COMPLETECALLER"]


async def test_the_dialler_waits_for_asterisk_and_its_secret_then_logs_in(
    queue_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """No Asterisk yet, then no secret: the server runs on, logs each problem once, offers
    no callback and takes no callback offer; once both are there it logs in by itself."""
    monkeypatch.setattr(callback, "FIRST_BACKOFF_SECONDS", 0.05)
    monkeypatch.setattr(callback, "MAX_BACKOFF_SECONDS", 0.1)
    monkeypatch.delenv("HOTLINE_E2E_NO_SUCH_SECRET", raising=False)
    fake = FakeAMI(port=free_port())
    secret = tmp_path / "ami-secret"
    settings = DiallerSettings(
        enabled=True, port=fake.port, secret="env:HOTLINE_E2E_NO_SUCH_SECRET"
    )
    caplog.set_level(logging.INFO, logger="queueing.callback")
    async with dialling_hub(queue_url, settings, secret_file=secret) as h:
        assert h.dialler is not None
        ami = h.dialler.ami
        tries = 0
        connect = ami.connect

        async def counted() -> None:
            nonlocal tries
            tries += 1
            await connect()

        ami.connect = counted  # type: ignore[method-assign]
        # several refused attempts (each problem is logged once, however often it recurs)
        await until(lambda: tries >= 3, "the dialler to retry while Asterisk is away")
        assert not h.dialler.ready and not await h.can_dial()
        await fake.start()  # Asterisk is up, the secret is still missing
        await until(lambda: "HL-QUE-041" in caplog.text, "the missing secret to be logged")
        again = tries
        await until(lambda: tries >= again + 2, "more attempts without the secret")
        assert not h.dialler.ready
        secret.write_text(fake.secret + "\n")
        await until(lambda: h.dialler is not None and h.dialler.ready, "the login")
        assert await h.can_dial() and fake.logins == 1
        assert await h.queue.dialler_alive(callback.ALIVE_SECONDS) == 1
        problems = [r.getMessage() for r in caplog.records if "HL-QUE-042" in r.getMessage()]
        assert len(problems) == 2, problems  # refused, then the secret: each once
        assert "logged in to AMI" in caplog.text
    await fake.stop()
