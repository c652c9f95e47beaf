"""The caller's side of a transfer (ivr/queuewait/handover.py): when the Dial of the operator
returns and ``HOTLINE_TRANSFER`` is set, the waiter's session carries the transfer out
instead of ending the call: a blind transfer COMPLETEs the operator at once and dials the
target; a three-party call puts the caller into its conference room and COMPLETEs the
operator when the caller leaves it. The record stays answered and shows every leg."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from ivr.config.queue_models import QueueFile
from ivr.engine.channel import DialResult
from ivr.queuewait.waiter import QueueHub, RedisQueueWaiter
from queueing.queue import QueueRequest
from queueing.transfer import VARIABLE, TransferRequest, TransferService
from tests.queueing.channel import WaitingChannel
from tests.queueing.conftest import SETTINGS, agent
from tests.queueing.test_waiter import record_for, until
from tests.queueing.transfer_fakes import FakeManager


@dataclass
class TransferringChannel(WaitingChannel):
    """While the operator talks (inside Dial), the desk asks for ``transfer``: the variable
    is set and the operator's leg goes, so Dial returns ANSWER."""

    transfer: TransferRequest | None = None
    conferences: list[str] = field(default_factory=list)
    target_status: str = "ANSWER"

    async def evaluate(self, expression: str) -> str:
        if expression == f"${{{VARIABLE}}}":
            return self.variables.get(VARIABLE, "")
        return "1"  # DIALPLAN_EXISTS(hotline-answered,s,1)

    async def caller_present(self) -> bool:
        return not self.hung_up

    async def conference(self, room: str, bridge_profile: str, user_profile: str) -> None:
        self._step()
        self.conferences.append(f"{room},{bridge_profile},{user_profile}")
        self.t += 60

    async def dial(self, dialstring: str, timeout: float, options: str = "") -> DialResult:
        if self.dialled and self.transfer is not None:  # the caller's own dial of the target
            self._step()
            self.dialled.append(dialstring)
            return DialResult(self.target_status, 20.0 if self.target_status == "ANSWER" else 0)
        if self.transfer is not None:
            self.variables[VARIABLE] = self.transfer.value()
        return await super().dial(dialstring, timeout, options)


async def put_through(hub: QueueHub, ch: TransferringChannel, uid: str):  # type: ignore[no-untyped-def]
    waiter = RedisQueueWaiter(hub, options=QueueFile(settings=SETTINGS))
    request = QueueRequest(uid, "13800000000", "12345", "general", 0, time.time())
    place = await hub.queue.enqueue(request)
    record = record_for(uid)
    task = asyncio.create_task(waiter.wait(ch, request, place, record))
    await until(lambda: ch.waits >= 1, "the caller to wait")
    await hub.queue.login(agent("a1"), ready=True)
    await asyncio.wait_for(task, 10)
    return record


async def queue_events(hub: QueueHub) -> list[str]:
    raw: Any = await hub.queue.client.xrange(hub.queue.events_key)
    return [fields[b"event"].decode() for _, fields in raw]


def kinds(record) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(e.kind, e.detail) for e in record.events]


async def test_blind_the_session_completes_the_operator_and_dials_the_target(
    hub: QueueHub,
) -> None:
    # the service's own legs, as the desk's request wrote them
    service = TransferService(hub.queue.client, FakeManager(), lambda: [])
    await service.leg("b1", "transfer", "blind 110 (公安 110) by a1")
    ch = TransferringChannel(transfer=TransferRequest("blind", "110", "a1", "PJSIP/110@x", 60))
    record = await put_through(hub, ch, "b1")
    assert ch.dialled == ["PJSIP/a1", "PJSIP/110@x"]
    assert (record.outcome, record.agent, record.hangup_by) == ("answered", "a1", "transfer")
    events = kinds(record)
    assert ("transfer", "blind 110 by a1") in events
    assert ("transfer_dial", "110 PJSIP/110@x ANSWER") in events
    assert ("transfer_leg", "transfer blind 110 (公安 110) by a1") in events
    assert not any(k == "survey" for k, _ in events)  # no survey after a transfer
    assert [e.at for e in record.events] == sorted(e.at for e in record.events)
    assert record.ended_at is not None and record.ended_at >= record.events[-1].at
    # the operator was COMPLETEd (agent side) before the caller's dial of the target
    assert (await queue_events(hub))[-2:] == ["CONNECT", "COMPLETEAGENT"]
    assert (await hub.queue.agent("a1")).state == "ready"  # wrap-up 0
    assert ch.variables["HOTLINE_DONE"] == "1"  # failover does not take the caller again


async def test_blind_the_caller_hangs_up_while_the_target_rings(hub: QueueHub) -> None:
    ch = TransferringChannel(transfer=TransferRequest("blind", "110", "a1", "PJSIP/110@x", 60))
    ch.hangup = lambda c: "HOTLINE_DONE" in c.variables  # gone once the operator's leg went
    record = await put_through(hub, ch, "b2")
    assert ("transfer_dial", "110 caller hung up") in kinds(record)
    assert record.outcome == "answered"


async def test_threeway_the_caller_joins_its_room_and_completes_when_it_leaves(
    hub: QueueHub,
) -> None:
    ch = TransferringChannel(transfer=TransferRequest("threeway", "110", "a1", "PJSIP/110", 60))
    record = await put_through(hub, ch, "t1")
    assert ch.conferences == ["t1,hotline_bridge,hotline_user"]
    assert ch.dialled == ["PJSIP/a1"]  # the service originates the target, not the session
    events = kinds(record)
    assert ("transfer", "threeway 110 by a1") in events
    assert ("conference", "t1 enter") in events and ("conference", "t1 left") in events
    assert (await queue_events(hub))[-1] == "COMPLETECALLER"
    assert record.hangup_by == "transfer"


async def test_a_call_without_a_transfer_ends_as_before(hub: QueueHub) -> None:
    ch = TransferringChannel()
    record = await put_through(hub, ch, "n1")
    assert record.hangup_by == "agent" and not any(k == "transfer" for k, _ in kinds(record))
