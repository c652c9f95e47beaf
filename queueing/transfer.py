"""An operator's transfer of the caller it is talking to, through the Asterisk Manager
Interface: blind, three-party, or consult first and then join (or cancel).

The caller's channel runs the hotline's FastAGI session, which dialled the operator
(``EXEC Dial``) and waits for Dial to return. The caller is never redirected away from its
session: the session keeps it, and the record of every leg with it (docs/transfers.md).

1. The operator's call: :func:`queueing.notices.current_call` (the agent's hash, ``busy``)
   gives the caller's uniqueid. AMI takes a uniqueid wherever it takes a channel name
   (``ast_channel_get_by_name`` falls back to the uniqueid), so the caller's channel needs no
   bookkeeping; the operator's channel is the caller's ``BRIDGEPEER`` (AMI ``Getvar``).
2. ``Setvar HOTLINE_TRANSFER=mode|target|agent|dial|ring`` on the caller: what its session
   reads when Dial returns (:func:`parse_request`).
3. The operator's leg leaves the bridge, so that Dial returns in the caller's session:
   - blind: AMI ``Hangup`` of the operator's channel; the session COMPLETEs the operator
     (wrap-up) and dials the target itself (the record gets the leg's DIALSTATUS);
   - threeway: AMI ``Redirect`` of the operator's channel into the conference room named
     after the call's uniqueid (``[hotline-transfer]``, ConfBridge); the session puts the
     caller into the same room; AMI ``Originate`` brings the target in;
   - consult: the operator is redirected into a consultation room (``[hotline-consult]``)
     where the target is originated; the caller waits alone in its room with music on hold.
     :meth:`TransferService.finish` ``join`` redirects the operator and the target together
     (``Redirect`` with ``ExtraChannel``) into the caller's room; ``cancel`` hangs the target
     up and brings the operator back to the caller.
4. Each step is a leg (JSON in :func:`queueing.keys.transfer_legs`): the caller's session
   adds them to the call record when the call ends.

Must not import: anything of ``ivr``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from queueing import keys
from queueing.ami import OriginateResult
from queueing.errors import AMIError, QueueError
from queueing.notices import current_call
from queueing.stopping import stop_task

log = logging.getLogger(__name__)

#: the caller's channel variable its session reads when Dial returns
VARIABLE = "HOTLINE_TRANSFER"
MODES = ("blind", "threeway", "consult")
COLLEAGUE = "agent:"  # a target key naming a colleague or team leader by agent id
KEEP_SECONDS = 86400  # how long the transfer's keys outlive it in Redis


class TransferError(QueueError):
    """A transfer was refused: ``status`` is the HTTP status the desk gets."""

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message, code=code)
        self.status = status


@dataclass(frozen=True)
class Target:
    """One place a caller can be transferred to (queue.yaml ``transfers.targets``)."""

    key: str
    name: str
    kind: str  # emergency, department, subcentre, colleague
    dial: str
    modes: tuple[str, ...] = MODES
    ring_timeout: float = 60.0


@dataclass(frozen=True)
class TransferRequest:
    """What the caller's session reads from :data:`VARIABLE`."""

    mode: str
    target: str
    agent: str
    dial: str
    ring_timeout: float

    def value(self) -> str:
        return "|".join(
            (self.mode, self.target, self.agent, self.dial, str(round(self.ring_timeout)))
        )


def parse_request(value: str | None) -> TransferRequest | None:
    """:data:`VARIABLE` as the service sets it; None when unset, empty or not ours."""
    parts = (value or "").split("|")
    if len(parts) != 5 or parts[0] not in MODES or not parts[3]:
        return None
    try:
        ring = float(parts[4])
    except ValueError:
        return None
    return TransferRequest(parts[0], parts[1], parts[2], parts[3], ring)


@dataclass(frozen=True)
class Leg:
    at: float  # epoch seconds
    kind: str  # transfer, release, redirect, originate, answer, join, cancel, failed
    detail: str


async def read_legs(
    client: aioredis.Redis, uniqueid: str, centre: str = keys.DEFAULT_CENTRE
) -> list[Leg]:
    """The legs the service wrote for a call, oldest first."""
    out = []
    for raw in await client.lrange(keys.transfer_legs(uniqueid, centre), 0, -1):
        try:
            data = json.loads(raw)
            out.append(Leg(float(data["at"]), str(data["kind"]), str(data["detail"])))
        except (ValueError, KeyError, TypeError):
            continue
    return out


@dataclass(frozen=True)
class TransferResult:
    uniqueid: str
    agent: str
    target: str
    mode: str
    state: str  # released, conference, consulting, joined, cancelled
    operator_channel: str


class ManagerPort(Protocol):
    """What the service needs of :class:`queueing.ami.AMIClient`."""

    async def action(self, name: str, *extra: tuple[str, str], **fields: Any) -> dict[str, str]: ...

    async def originate(
        self,
        channel: str,
        *,
        context: str,
        exten: str,
        priority: int = 1,
        timeout: float = 30.0,
        caller_id: str = "",
        variables: dict[str, str] | None = None,
    ) -> OriginateResult: ...


def _no_call(agent: str) -> TransferError:
    return TransferError(
        f"agent {agent} is not talking to a caller: nothing to transfer",
        code="HL-QUE-080",
        status=409,
    )


class TransferService:
    """Transfers of the centre ``centre``'s calls. ``targets`` returns the configured
    targets (asked at each transfer: a reload applies at once)."""

    def __init__(
        self,
        client: aioredis.Redis,
        ami: ManagerPort,
        targets: Callable[[], Sequence[Target]],
        *,
        centre: str = keys.DEFAULT_CENTRE,
        context: str = "hotline-transfer",
        consult_context: str = "hotline-consult",
        colleague_ring_timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client, self.ami, self._targets = client, ami, targets
        self.centre, self.context, self.consult_context = centre, context, consult_context
        self.colleague_ring_timeout = colleague_ring_timeout
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    def targets(self) -> list[Target]:
        return list(self._targets())

    async def _target(self, key: str, mode: str) -> Target:
        if mode not in MODES:
            raise TransferError(f"unknown transfer mode {mode!r} ({', '.join(MODES)})",
                                code="HL-QUE-081", status=400)  # fmt: skip
        if key.startswith(COLLEAGUE):
            agent_id = key[len(COLLEAGUE) :]
            raw = await self.client.hget(keys.agent(agent_id, self.centre), "interface")
            iface = raw.decode() if isinstance(raw, bytes) else (raw or "")
            if not iface:
                raise TransferError(f"colleague {agent_id} is not logged in",
                                    code="HL-QUE-081", status=400)  # fmt: skip
            return Target(key, agent_id, "colleague", iface, MODES, self.colleague_ring_timeout)
        target = next((t for t in self._targets() if t.key == key), None)
        if target is None:
            raise TransferError(f"unknown transfer target {key!r}: not in queue.yaml transfers",
                                code="HL-QUE-081", status=400)  # fmt: skip
        if mode not in target.modes:
            raise TransferError(
                f"{target.name} ({key}) takes {', '.join(target.modes)}, not {mode}",
                code="HL-QUE-081",
                status=400,
            )
        return target

    async def _ami(self, name: str, *extra: tuple[str, str], **fields: Any) -> dict[str, str]:
        try:
            return await self.ami.action(name, *extra, **fields)
        except (AMIError, OSError, TimeoutError) as exc:
            raise TransferError(f"AMI is not available ({exc}): the call stays as it is",
                                code="HL-QUE-082", status=503) from None  # fmt: skip

    async def leg(self, uniqueid: str, kind: str, detail: str) -> None:
        """One leg of the call's transfer, for its record."""
        key = keys.transfer_legs(uniqueid, self.centre)
        line = json.dumps({"at": self.clock(), "kind": kind, "detail": detail}, ensure_ascii=False)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.rpush(key, line)
                pipe.expire(key, KEEP_SECONDS)
                await pipe.execute()
        except RedisError as exc:
            log.warning("[HL-QUE-083] leg %s of %s not kept: %s", kind, uniqueid, exc)

    async def transfer(self, agent: str, key: str, mode: str) -> TransferResult:
        """Transfer ``agent``'s caller to target ``key`` (``agent:<id>`` for a colleague)."""
        if key == COLLEAGUE + agent:
            raise TransferError(f"agent {agent} cannot transfer its caller to itself",
                                code="HL-QUE-081", status=400)  # fmt: skip
        target = await self._target(key, mode)
        call = await current_call(self.client, agent, self.centre)
        if call is None or call.offered:
            raise _no_call(agent)
        uid = call.uniqueid
        state_key = keys.transfer(uid, self.centre)
        # one transfer per call: the first to write the call's transfer hash has it
        if not await self.client.hsetnx(state_key, "agent", agent):
            raise TransferError(f"the call {uid} of agent {agent} is being transferred already",
                                code="HL-QUE-084", status=409)  # fmt: skip
        await self.client.expire(state_key, KEEP_SECONDS)
        try:
            operator = await self._operator(uid, agent)
            request = TransferRequest(mode, target.key, agent, target.dial, target.ring_timeout)
            await self._set(uid, agent, request.value())
        except TransferError:
            await self.client.delete(state_key)
            raise
        await self.client.hset(state_key, mapping={"mode": mode, "target": target.key,
            "operator": operator, "state": "starting"})  # fmt: skip
        await self.leg(uid, "transfer", f"{mode} {target.key} ({target.name}) by {agent}")
        ctx = self.context if mode == "threeway" else self.consult_context
        try:
            if mode == "blind":
                reply = await self._ami("Hangup", Channel=operator, Cause=16)
                state, what = "released", f"{operator} hung up"
            else:
                reply = await self._ami("Redirect", Channel=operator, Context=ctx, Exten=uid,
                                        Priority=1)  # fmt: skip
                state = "conference" if mode == "threeway" else "consulting"
                what = f"{operator} to {ctx},{uid}"
        except TransferError:
            await self._undo(uid)
            raise
        if reply.get("Response") != "Success":
            await self._undo(uid)
            await self.leg(uid, "failed", f"{operator}: {reply.get('Message', '')}")
            raise TransferError(
                f"Asterisk refused to move the operator's channel {operator}: "
                f"{reply.get('Message', '')}",
                code="HL-QUE-083",
                status=502,
            )
        await self.client.hset(state_key, "state", state)
        await self.leg(uid, "release" if mode == "blind" else "redirect", what)
        if mode != "blind":
            self._spawn(self._bring(uid, target, ctx))
        return TransferResult(uid, agent, target.key, mode, state, operator)

    async def _operator(self, uid: str, agent: str) -> str:
        """The operator's channel: the caller's ``BRIDGEPEER`` (none: not bridged any more)."""
        peer = await self._ami("Getvar", Channel=uid, Variable="BRIDGEPEER")
        operator = peer.get("Value", "") if peer.get("Response") == "Success" else ""
        if not operator:
            raise _no_call(agent)
        return operator

    async def _set(self, uid: str, agent: str, value: str) -> None:
        reply = await self._ami("Setvar", Channel=uid, Variable=VARIABLE, Value=value)
        if reply.get("Response") != "Success":  # the caller's channel is gone
            raise _no_call(agent)

    async def _undo(self, uid: str) -> None:
        with contextlib.suppress(TransferError):
            await self._ami("Setvar", Channel=uid, Variable=VARIABLE, Value="")
        await self.client.delete(keys.transfer(uid, self.centre))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _bring(self, uid: str, target: Target, context: str) -> None:
        """Originate the target into the room (``context``, extension = the uniqueid)."""
        caller = await self.client.hget(keys.entry(uid, self.centre), "caller")
        cid = caller.decode() if isinstance(caller, bytes) else (caller or "")
        await self.leg(uid, "originate", f"{target.dial} into {context},{uid}")
        try:
            result = await self.ami.originate(
                target.dial, context=context, exten=uid, timeout=target.ring_timeout,
                caller_id=cid, variables={"HOTLINE_TRANSFER_OF": uid},
            )  # fmt: skip
        except (AMIError, OSError, TimeoutError) as exc:
            await self.leg(uid, "failed", f"{target.key}: {exc}")
            return
        if result.answered:
            state_key = keys.transfer(uid, self.centre)
            await self.client.hset(state_key, "third", result.channel)
            await self.leg(uid, "answer", f"{target.key} {result.channel}")
            if _s(await self.client.hget(state_key, "state") or "") == "cancelled":
                # the operator cancelled while it rang: nobody is waiting for it
                with contextlib.suppress(AMIError, OSError, TimeoutError):
                    await self.ami.action("Hangup", Channel=result.channel, Cause=16)
                await self.leg(uid, "cancel", f"{target.key} answered after the cancel")
        else:
            await self.leg(uid, "failed", f"{target.key} {result.status}")

    async def finish(self, agent: str, action: str) -> TransferResult:
        """End ``agent``'s consultation: ``join`` brings the operator and the consulted party
        into the caller's room (three-way); ``cancel`` hangs the consulted party up and
        brings the operator back to the caller."""
        if action not in ("join", "cancel"):
            raise TransferError(f"unknown consultation action {action!r} (join, cancel)",
                                code="HL-QUE-081", status=400)  # fmt: skip
        call = await current_call(self.client, agent, self.centre)
        if call is None or call.offered:
            raise _no_call(agent)
        uid = call.uniqueid
        state_key = keys.transfer(uid, self.centre)
        raw = await self.client.hgetall(state_key)
        info = {_s(k): _s(v) for k, v in raw.items()}
        if info.get("state") != "consulting":
            raise TransferError(f"agent {agent} is not consulting anyone for call {uid}",
                                code="HL-QUE-084", status=409)  # fmt: skip
        operator, third = info.get("operator", ""), info.get("third", "")
        if action == "join":
            if not third:
                raise TransferError(f"{info.get('target')} has not answered yet",
                                    code="HL-QUE-084", status=409)  # fmt: skip
            reply = await self._ami(
                "Redirect", Channel=operator, Context=self.context, Exten=uid, Priority=1,
                ExtraChannel=third, ExtraContext=self.context, ExtraExten=uid, ExtraPriority=1,
            )  # fmt: skip
            state = "joined"
        else:
            if third:
                await self._ami("Hangup", Channel=third, Cause=16)
            reply = await self._ami("Redirect", Channel=operator, Context=self.context,
                                    Exten=uid, Priority=1)  # fmt: skip
            state = "cancelled"
        if reply.get("Response") != "Success":
            raise TransferError(f"Asterisk refused the {action}: {reply.get('Message', '')}",
                                code="HL-QUE-083", status=502)  # fmt: skip
        await self.client.hset(state_key, "state", state)
        await self.leg(uid, action, f"{info.get('target')} by {agent}")
        return TransferResult(uid, agent, info.get("target", ""), "consult", state, operator)

    async def settle(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) for the third parties being originated."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def close(self) -> None:
        await asyncio.gather(*(stop_task(task) for task in list(self._tasks)))


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
