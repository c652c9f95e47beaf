"""The caller's side of an operator's transfer (:mod:`queueing.transfer`): what the caller's
FastAGI session does when its ``Dial`` of the operator returns because the transfer service
took the operator's leg away.

The service set ``HOTLINE_TRANSFER`` on the caller's channel before it hung the operator's
channel up (blind) or redirected it into a conference room (threeway, consult). The session
reads it (``GET FULL VARIABLE``, which also runs on a hung-up channel) and, instead of
ending the call:

- blind: COMPLETEs the operator (wrap-up at once) and dials the target itself, so that the
  record gets the leg's DIALSTATUS;
- threeway / consult: puts the caller into the conference room named after its uniqueid
  (``ConfBridge``) until the caller leaves it, then COMPLETEs the operator.

The call stays ``answered`` (an operator answered it: the service level counts it); the
record shows the transfer as events: ``transfer`` (mode, target, by whom), each leg the
service wrote (``transfer_leg``: released, redirected, originated, answered, joined ...) at
the time it happened, and the session's own (``transfer_dial`` / ``conference``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Protocol, runtime_checkable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ivr.engine.attempt import has_state
from ivr.engine.channel import Channel
from ivr.engine.record import CallEvent, CallRecord
from ivr.errors import AGIHangup
from queueing.transfer import VARIABLE, TransferRequest, parse_request, read_legs

log = logging.getLogger(__name__)

#: confbridge.conf's profiles (asterisk_conf/confbridge.conf)
BRIDGE_PROFILE = "hotline_bridge"
USER_PROFILE = "hotline_user"


@runtime_checkable
class Conferencing(Protocol):
    """A channel that can join a ConfBridge room (:class:`ivr.agi.channel.AGIChannel`)."""

    async def conference(self, room: str, bridge_profile: str, user_profile: str) -> None: ...


async def transfer_request(channel: Channel) -> TransferRequest | None:
    """The transfer the service asked for on this channel; None for a call that simply
    ended (or a channel driver that cannot tell)."""
    if not has_state(channel):
        return None
    with contextlib.suppress(AGIHangup):
        return parse_request(await channel.evaluate(f"${{{VARIABLE}}}"))
    return None


async def carry_out(channel: Channel, request: TransferRequest, record: CallRecord) -> str:
    """Run the caller's part of ``request``; returns who ended it (``agent`` for a blind
    transfer, whose operator hung up; ``caller`` after a conference)."""
    uid = record.uniqueid
    if request.mode == "blind":
        try:
            result = await channel.dial(request.dial, request.ring_timeout)
            record.add("transfer_dial", None, f"{request.target} {request.dial} {result.status}")
        except AGIHangup:
            record.add("transfer_dial", None, f"{request.target} caller hung up")
        return "agent"
    if not isinstance(channel, Conferencing):
        record.add("conference", None, "this channel cannot join a conference")
        return "agent"
    record.add("conference", None, f"{uid} enter")
    try:
        await channel.conference(uid, BRIDGE_PROFILE, USER_PROFILE)
        record.add("conference", None, f"{uid} left")
    except AGIHangup:
        record.add("conference", None, f"{uid} caller hung up")
    return "caller"


async def add_legs(record: CallRecord, client: aioredis.Redis, centre: str) -> None:
    """The legs the transfer service wrote, as events at the time they happened (events
    stay in time order)."""
    try:
        legs = await read_legs(client, record.uniqueid, centre)
    except (RedisError, OSError) as exc:  # Redis away: the record goes without them (logged)
        log.warning("[HL-QUE-083] transfer legs of %s not read: %s", record.uniqueid, exc)
        return
    start = record.started_at
    for leg in legs:
        at = dt.datetime.fromtimestamp(leg.at, dt.UTC)
        offset = round((at - start).total_seconds(), 3)
        event = CallEvent(at, offset, "transfer_leg", None, f"{leg.kind} {leg.detail}")
        record.events.append(event)
    record.events.sort(key=lambda e: e.at)
