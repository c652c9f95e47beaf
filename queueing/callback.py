"""The callback dialler: calls back the callers who chose virtual hold, when it is their turn.

A callback entry stays in the waiting set at its original score, so it is reached exactly
when the caller would have been. The Lua assignment then reserves an agent for it, as for
a live caller, and pushes the offer onto the centre's ``callbacks`` list (not a process's
inbox: nobody holds the call). The :class:`~queueing.waiter.QueueHub` of every process with
a dialler listens on that list with the same BLPOP as its inbox.

Order of the legs: **the agent first**. ``Originate`` rings the agent's interface; only when
the agent has answered does the channel enter the dialplan context (``dialler.context``,
extension = the caller's number), which dials the caller out through the trunk and bridges.
So a citizen never picks up to silence or to a second queue, and the agent sees on the
phone that it is a callback (caller id name ``回拨 <number>``). The variables
``HOTLINE_CALLBACK`` (uniqueid), ``HOTLINE_AGENT`` and ``HOTLINE_SKILL`` are set on the
channel for the dialplan.

- agent answered: CONNECT; when the channel hangs up (AMI ``Hangup``), COMPLETEAGENT and
  the agent's wrap-up;
- agent did not answer (NOANSWER, BUSY, CONGESTION, CHANUNAVAIL): as for a live caller, the
  agent is paused "no answer" and the callback goes back to its place;
- AMI unreachable: the offer is let go; its lease expires and the reaper puts the callback
  back at its place and the agent back among the idle (HL-QUE-024 is logged).

While it dials and talks, the dialler's hub renews the callback's lease; if the process
dies, the reaper does the same clean-up.
"""

from __future__ import annotations

import logging
from typing import Protocol

from queueing.ami import AMIClient, OriginateResult, resolve_secret
from queueing.config import DiallerSettings
from queueing.queue import Offer, RedisQueue

log = logging.getLogger(__name__)


class Originator(Protocol):
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

    async def wait_hangup(self, uniqueid: str, timeout: float) -> bool: ...

    async def close(self) -> None: ...


class CallbackDialler:
    def __init__(
        self, queue: RedisQueue, settings: DiallerSettings, ami: Originator | None = None
    ) -> None:
        self.queue = queue
        self.settings = settings
        self.ami: Originator = ami or AMIClient(
            settings.host, settings.port, settings.username, resolve_secret(settings.secret)
        )
        self.dialled: list[tuple[str, str]] = []  # (uniqueid, status), for tests and logs

    async def close(self) -> None:
        await self.ami.close()

    async def dial(self, offer: Offer) -> str:
        """Call the agent, then the caller. Returns the status (ANSWER ...), "" when the
        offer was let go."""
        s = self.settings
        uid, agent = offer.uniqueid, offer.agent
        entry = await self.queue.entry(uid)
        if entry.get("state") != "offered" or entry.get("agent") != agent:
            return ""  # stale offer (the reaper moved it on)
        caller = entry.get("caller", "")
        try:
            result = await self.ami.originate(
                offer.interface,
                context=s.context,
                exten=caller,
                timeout=s.ring_timeout,
                caller_id=f'"回拨 {caller}" <{s.caller_id}>',
                variables={
                    "HOTLINE_CALLBACK": uid,
                    "HOTLINE_AGENT": agent,
                    "HOTLINE_SKILL": entry.get("skill", ""),
                },
            )
        except Exception as exc:
            log.error("HL-QUE-024 callback %s to %s: AMI failed (%s); it keeps its place", uid,
                      agent, exc)  # fmt: skip
            return ""
        self.dialled.append((uid, result.status))
        if not result.answered:
            await self.queue.no_answer(uid, agent, result.status)
            return result.status
        await self.queue.connect(uid, agent)
        try:
            seen = await self.ami.wait_hangup(result.uniqueid, s.max_call_seconds)
            if not seen:
                log.warning(
                    "callback %s: no hangup seen in %.0f s, closed", uid, s.max_call_seconds
                )
        except Exception as exc:
            log.warning("callback %s: AMI lost during the call (%s), closed now", uid, exc)
        await self.queue.complete(uid, agent, "agent")
        return result.status
