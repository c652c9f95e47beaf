"""The transfer service (queueing/transfer.py) on a real Redis queue and a fake AMI: what it
asks Asterisk in which order, the legs it keeps for the record, and each refusal with its id
and HTTP status. The caller's side (the waiter's session) is tested in
test_transfer_session.py; the whole on the real Asterisk in tests/e2e/test_transfer.py."""

from __future__ import annotations

import asyncio

import pytest

from queueing import keys
from queueing.queue import QueueRequest, RedisQueue
from queueing.transfer import (
    VARIABLE,
    Target,
    TransferError,
    TransferRequest,
    TransferService,
    parse_request,
    read_legs,
)
from tests.queueing.conftest import agent
from tests.queueing.test_waiter import until
from tests.queueing.transfer_fakes import FakeManager

OPERATOR_CHANNEL = "PJSIP/a1-00000007"
TARGETS = [
    Target("110", "公安 110", "emergency", "PJSIP/110@carrier", ("blind", "threeway")),
    Target("water", "供水热线", "department", "PJSIP/96116@carrier", ring_timeout=40),
]


async def talking(rq: RedisQueue, uid: str = "c1", agent_id: str = "a1") -> None:
    """Agent ``agent_id`` answered caller ``uid``."""
    await rq.login(agent(agent_id), ready=True)
    await rq.enqueue(QueueRequest(uid, "13800000001", "12345", "general", 0, rq.clock() - 5))
    await rq.connect(uid, agent_id)
    assert (await rq.agent(agent_id)).state == "busy"


def service_for(rq: RedisQueue, ami: FakeManager) -> TransferService:
    return TransferService(rq.client, ami, lambda: TARGETS, clock=rq.clock)


async def refused(call: object) -> TransferError:
    with pytest.raises(TransferError) as info:
        await call  # type: ignore[misc]
    return info.value


def test_the_request_travels_in_one_channel_variable() -> None:
    req = TransferRequest("blind", "110", "1001", "PJSIP/110@carrier", 60.0)
    assert req.value() == "blind|110|1001|PJSIP/110@carrier|60"
    assert parse_request(req.value()) == req
    for other in (None, "", "1", "park|110|1001|PJSIP/110@carrier|60", "blind|110|1001||60"):
        assert parse_request(other) is None


async def test_blind_sets_the_variable_then_hangs_the_operator_up(rq: RedisQueue) -> None:
    await talking(rq)
    ami = FakeManager(peers={"c1": OPERATOR_CHANNEL})
    result = await service_for(rq, ami).transfer("a1", "110", "blind")
    assert (result.uniqueid, result.state, result.operator_channel) == (
        "c1", "released", OPERATOR_CHANNEL
    )  # fmt: skip
    # the caller's channel by its uniqueid (AMI takes one where it takes a name)
    assert ami.actions == [
        {"Action": "Getvar", "Channel": "c1", "Variable": "BRIDGEPEER"},
        {"Action": "Setvar", "Channel": "c1", "Variable": VARIABLE,
         "Value": "blind|110|a1|PJSIP/110@carrier|60"},
        {"Action": "Hangup", "Channel": OPERATOR_CHANNEL, "Cause": "16"},
    ]  # fmt: skip
    legs = await read_legs(rq.client, "c1")
    assert [(leg.kind, leg.detail) for leg in legs] == [
        ("transfer", "blind 110 (公安 110) by a1"),
        ("release", f"{OPERATOR_CHANNEL} hung up"),
    ]
    assert legs[0].at == rq.clock()
    assert await rq.client.ttl(keys.transfer_legs("c1")) > 0


async def test_threeway_redirects_the_operator_and_brings_the_target_in(
    rq: RedisQueue,
) -> None:
    await talking(rq)
    ami = FakeManager(peers={"c1": OPERATOR_CHANNEL})
    service = service_for(rq, ami)
    result = await service.transfer("a1", "110", "threeway")
    await service.settle(5)
    assert result.state == "conference"
    assert ami.names() == ["Getvar", "Setvar", "Redirect"]
    assert ami.actions[2] == {"Action": "Redirect", "Channel": OPERATOR_CHANNEL,
        "Context": "hotline-transfer", "Exten": "c1", "Priority": "1"}  # fmt: skip
    # 110 into the same room, showing the citizen's number
    assert ami.originates == [{"channel": "PJSIP/110@carrier", "context": "hotline-transfer",
                               "exten": "c1", "caller_id": "13800000001"}]  # fmt: skip
    kinds = [leg.kind for leg in await read_legs(rq.client, "c1")]
    assert kinds == ["transfer", "redirect", "originate", "answer"]


async def test_consult_then_join_and_consult_then_cancel(rq: RedisQueue) -> None:
    await talking(rq)
    ami = FakeManager(peers={"c1": OPERATOR_CHANNEL})
    service = service_for(rq, ami)
    started = await service.transfer("a1", "water", "consult")
    await service.settle(5)
    assert started.state == "consulting"
    assert ami.actions[2]["Context"] == "hotline-consult"
    assert ami.originates[0]["context"] == "hotline-consult"
    joined = await service.finish("a1", "join")
    assert joined.state == "joined"
    assert ami.actions[-1] == {
        "Action": "Redirect", "Channel": OPERATOR_CHANNEL, "Context": "hotline-transfer",
        "Exten": "c1", "Priority": "1", "ExtraChannel": "PJSIP/96116@carrier-00000042",
        "ExtraContext": "hotline-transfer", "ExtraExten": "c1", "ExtraPriority": "1",
    }  # fmt: skip
    # once joined, there is no consultation left to end
    assert (await refused(service.finish("a1", "join"))).code == "HL-QUE-084"

    await talking(rq, "c2", "a2")
    ami.peers["c2"] = "PJSIP/a2-00000009"
    await service.transfer("a2", "agent:a1", "consult")  # a colleague, by agent id
    await service.settle(5)
    assert ami.originates[-1]["channel"] == "PJSIP/a1"  # its interface
    cancelled = await service.finish("a2", "cancel")
    assert cancelled.state == "cancelled"
    assert [a["Action"] for a in ami.actions[-2:]] == ["Hangup", "Redirect"]
    assert ami.actions[-2]["Channel"] == "PJSIP/a1-00000042"
    kinds = [leg.kind for leg in await read_legs(rq.client, "c2")]
    assert kinds == ["transfer", "redirect", "originate", "answer", "cancel"]


async def test_refusals_carry_their_id_and_status(rq: RedisQueue) -> None:
    ami = FakeManager(peers={"c1": OPERATOR_CHANNEL})
    service = service_for(rq, ami)
    # nobody is talking
    err = await refused(service.transfer("a1", "110", "blind"))
    assert (err.code, err.status) == ("HL-QUE-080", 409)
    # offered (ringing), not yet talking
    await rq.login(agent("a1"), ready=True)
    await rq.enqueue(QueueRequest("c1", "13800000001", "12345", "general", 0, rq.clock()))
    assert (await refused(service.transfer("a1", "110", "blind"))).code == "HL-QUE-080"
    await rq.connect("c1", "a1")
    for target, mode in (("999", "blind"), ("110", "consult"), ("110", "park"),
                         ("agent:nobody", "blind"), ("agent:a1", "consult")):  # fmt: skip
        err = await refused(service.transfer("a1", target, mode))
        assert (err.code, err.status) == ("HL-QUE-081", 400), (target, mode)
    # not bridged any more (BRIDGEPEER empty)
    err = await refused(service_for(rq, FakeManager()).transfer("a1", "110", "blind"))
    assert err.code == "HL-QUE-080"
    # AMI away: nothing changed
    err = await refused(service_for(rq, FakeManager(down=True)).transfer("a1", "110", "blind"))
    assert (err.code, err.status) == ("HL-QUE-082", 503)
    # Asterisk refuses the move: the variable is cleared again, a new try is possible
    ami.refuse.add("Hangup")
    err = await refused(service.transfer("a1", "110", "blind"))
    assert (err.code, err.status) == ("HL-QUE-083", 502)
    assert ami.variables[("c1", VARIABLE)] == ""
    assert not await rq.client.exists(keys.transfer("c1"))
    ami.refuse.clear()
    await service.transfer("a1", "110", "blind")
    # one transfer per call
    err = await refused(service.transfer("a1", "110", "blind"))
    assert (err.code, err.status) == ("HL-QUE-084", 409)
    assert (await refused(service.finish("a1", "join"))).code == "HL-QUE-084"
    assert (await refused(service.finish("a1", "hold"))).code == "HL-QUE-081"


async def test_a_target_that_does_not_answer_is_a_failed_leg(rq: RedisQueue) -> None:
    await talking(rq)
    ami = FakeManager(peers={"c1": OPERATOR_CHANNEL}, originate_status="BUSY")
    service = service_for(rq, ami)
    await service.transfer("a1", "110", "threeway")
    await service.settle(5)
    legs = await read_legs(rq.client, "c1")
    assert (legs[-1].kind, legs[-1].detail) == ("failed", "110 BUSY")
    assert not await rq.client.hget(keys.transfer("c1"), "third")
    assert (await refused(service.finish("a1", "join"))).code == "HL-QUE-084"


async def test_a_consultation_cancelled_while_the_target_rings(rq: RedisQueue) -> None:
    """The operator gives up before the target answers: back to the caller at once; a target
    that answers afterwards is hung up (nobody waits for it)."""
    await talking(rq)
    ami = FakeManager(peers={"c1": OPERATOR_CHANNEL}, ringing=asyncio.Event())
    service = service_for(rq, ami)
    await service.transfer("a1", "water", "consult")
    await until(lambda: ami.originates, "the Originate to go out (the target rings)")
    assert (await refused(service.finish("a1", "join"))).code == "HL-QUE-084"  # not answered
    cancelled = await service.finish("a1", "cancel")
    assert cancelled.state == "cancelled"
    assert ami.actions[-1]["Action"] == "Redirect" and ami.actions[-1]["Exten"] == "c1"
    assert ami.actions[-1]["Context"] == "hotline-transfer"
    ami.ringing.set()  # now it answers
    await service.settle(5)
    assert ami.actions[-1] == {"Action": "Hangup", "Channel": "PJSIP/96116@carrier-00000042",
                               "Cause": "16"}  # fmt: skip
    legs = [(leg.kind, leg.detail) for leg in await read_legs(rq.client, "c1")]
    assert legs[-3:] == [
        ("cancel", "water by a1"),
        ("answer", "water PJSIP/96116@carrier-00000042"),
        ("cancel", "water answered after the cancel"),
    ]
