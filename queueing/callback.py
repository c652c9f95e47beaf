"""The callback dialler: calls back the callers who chose virtual hold, when it is their turn.

A callback entry stays in the waiting set at its original score, so it is reached exactly
when the caller would have been. The Lua assignment then reserves an agent for it, as for
a live caller, and pushes the offer onto the centre's ``callbacks`` list (not a process's
inbox: nobody holds the call). The :class:`~queueing.hub.QueueHub` of every process whose
dialler is logged in to AMI listens on that list with the same BLPOP as its inbox.

Order of the legs: **the agent first**. ``Originate`` rings the agent's interface; only when
the agent has answered does the channel enter the dialplan context (``dialler.context``,
extension = the caller's number, generated into ``hotline-callback.conf`` by ``hotline
asterisk-conf``), which dials the caller out through the trunk and bridges. So a citizen
never picks up to silence or to a second queue, and the agent sees on the phone that it is a
callback (caller id name ``回拨 <number>``). The variables ``HOTLINE_CALLBACK`` (uniqueid),
``HOTLINE_AGENT`` and ``HOTLINE_SKILL`` are set on the channel for the dialplan, which
reports back with ``UserEvent(HotlineCallback, Callback: <uniqueid>, Stage: ...)``:

- ``Stage: answer`` when the citizen answers (Dial ``U()`` on the citizen's channel): CONNECT;
- ``Stage: hangup`` when the agent's channel hangs up (a hangup handler), with ``Status``: the
  DIALSTATUS of the citizen's leg once Dial returned, empty when the agent hung up first.

What the dialler does with it:

- agent did not answer (NOANSWER, BUSY, CONGESTION, CHANUNAVAIL): as for a live caller, the
  agent is paused "no answer" and the callback goes back to its place at once;
- citizen answered: CONNECT, then COMPLETEAGENT (the agent hung up) or COMPLETECALLER (the
  citizen did), and the agent's wrap-up;
- citizen did not answer (NOANSWER, BUSY, CONGESTION ..., or the agent hung up while it
  rang): the agent heard ``noanswer_prompt`` and is ready again; the callback goes back to its
  place in ``retry_after_seconds`` (CALLBACKFAIL), and after ``max_attempts`` such attempts it
  is closed like a caller who hung up (ABANDON reason ``callback``): a missed-call task
  (漏接回拨) in the ticket store, never silently dropped;
- AMI unusable at that moment: the offer goes back (CALLBACKFAIL ``AMI``, not an attempt), the
  agent keeps its idle place.

:meth:`CallbackDialler.run` keeps the AMI login: it retries with a back-off while Asterisk is
away or the secret is missing (HL-QUE-041/042, logged once per change), pings while logged
in, and tells Redis that a dialler is alive (callbacks due again return to the waiting set
only then). While it dials and talks, the dialler's hub renews the callback's lease; if the
process dies, the reaper puts the callback back (see docs/queue.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Protocol

from queueing.ami import LOST, AMIClient, AMIError, OriginateResult, find_secret
from queueing.options import DiallerOptions
from queueing.queue import Offer, RedisQueue

log = logging.getLogger(__name__)

#: How often a logged-in dialler pings AMI and tells Redis it is alive.
KEEPALIVE_SECONDS = 5.0
#: How long Redis counts a dialler alive after its last keep-alive.
ALIVE_SECONDS = 3 * KEEPALIVE_SECONDS
#: The first and the longest wait between two login attempts.
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
#: Beyond the citizen's ring timeout: the no-answer prompt and the agent's hang-up.
END_MARGIN_SECONDS = 60.0


class Originator(Protocol):
    """What the dialler needs of AMI (:class:`~queueing.ami.AMIClient`)."""

    @property
    def connected(self) -> bool: ...

    async def connect(self) -> None: ...

    async def ping(self) -> None: ...

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

    def watch(self, key: str) -> asyncio.Queue[dict[str, str]]: ...

    def tie(self, key: str, uniqueid: str) -> None: ...

    def unwatch(self, key: str) -> None: ...

    async def close(self) -> None: ...


class CallbackDialler:
    """Dials the callback offers of this process's hub; see the module docstring.

    ``secret_file`` is the per-install AMI secret (``var/ami-secret``), used when the
    ``env:NAME`` of ``settings.secret`` is not set."""

    def __init__(
        self,
        queue: RedisQueue,
        settings: DiallerOptions,
        ami: Originator | None = None,
        *,
        secret_file: Path | None = None,
    ) -> None:
        self.queue = queue
        self.settings = settings
        self.ami: Originator = ami or AMIClient(
            settings.host,
            settings.port,
            settings.username,
            lambda: find_secret(settings.secret, secret_file),
        )
        self.ready = False  # logged in to AMI: this process takes callback offers
        self.others = False  # another process's dialler is logged in
        self.dialled: list[tuple[str, str]] = []  # (uniqueid, status), for tests and logs

    @property
    def available(self) -> bool:
        """Whether a callback asked for now can be dialled (here or by another server)."""
        return self.ready or self.others

    async def close(self) -> None:
        self.ready = False
        with contextlib.suppress(Exception):
            await self.queue.dialler_alive(0)
        await self.ami.close()

    # -- the AMI login --------------------------------------------------------------------

    async def run(self) -> None:
        """Keep the AMI login for as long as the hub runs (a background task)."""
        s = self.settings
        delay = FIRST_BACKOFF_SECONDS
        problem = ""  # the last problem logged: each new one is logged once
        while True:
            try:
                if self.ami.connected:
                    await self.ami.ping()
                else:
                    await self.ami.connect()
                    log.info(
                        "callback dialler: logged in to AMI at %s:%s as %s", s.host, s.port,
                        s.username,
                    )  # fmt: skip
                    problem = ""
                self.ready = True
                delay = FIRST_BACKOFF_SECONDS
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.ready = False
                with contextlib.suppress(Exception):
                    await self.ami.close()
                text = str(exc) or type(exc).__name__
                if text != problem:
                    log.warning(
                        "[HL-QUE-042] callback dialler: no AMI at %s:%s as %s (%s); callbacks "
                        "keep their place until it is back (is Asterisk running with the "
                        "hotline's manager.conf? `hotline asterisk up` or `asterisk-conf`); "
                        "retrying",
                        s.host, s.port, s.username, text,
                    )  # fmt: skip
                    problem = text
            try:
                alive = await self.queue.dialler_alive(ALIVE_SECONDS if self.ready else 0)
                self.others = alive > (1 if self.ready else 0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("[HL-QUE-045] callback dialler: Redis failed (%s); retrying", exc)
            if self.ready:
                await asyncio.sleep(KEEPALIVE_SECONDS)
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    # -- one callback ---------------------------------------------------------------------

    async def dial(self, offer: Offer) -> str:
        """Call the agent, then the caller. Returns the citizen's dial status (ANSWER ...),
        the agent's when it did not answer, "" when the offer was let go."""
        s = self.settings
        uid, agent = offer.uniqueid, offer.agent
        entry = await self.queue.entry(uid)
        if entry.get("state") != "offered" or entry.get("agent") != agent:
            return ""  # stale offer (the reaper moved it on)
        caller = entry.get("caller", "")
        events = self.ami.watch(uid)
        try:
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
                log.error("[HL-QUE-024] callback %s to %s: AMI failed (%s); it keeps its place "
                          "and is tried again", uid, agent, exc)  # fmt: skip
                await self._failed(uid, agent, "AMI", counted=False)
                return ""
            self.dialled.append((uid, result.status))
            if not result.answered:
                await self.queue.no_answer(uid, agent, result.status)
                return result.status
            self.ami.tie(uid, result.uniqueid)
            return await self._citizen(uid, agent, caller, events)
        finally:
            self.ami.unwatch(uid)

    async def click_to_call(
        self, interface: str, agent: str, number: str, ref: str
    ) -> OriginateResult:
        """An operator's call-back of a task (回访, 漏接回拨) from the desk: ring the
        operator's own phone first; once answered, the callback dialplan dials ``number``
        through the trunk, as for a callback offer. ``ref`` names the task in the dialplan's
        events (``HOTLINE_CALLBACK``). Returns when the operator's phone answered or failed;
        AMIError (HL-QUE-042) when no AMI login is up."""
        if not self.ready:
            raise AMIError(
                "no AMI login to Asterisk: click-to-call is not possible now (is Asterisk "
                "running with the hotline's manager.conf?)",
                code="HL-QUE-042",
            )
        s = self.settings
        return await self.ami.originate(
            interface,
            context=s.context,
            exten=number,
            timeout=s.ring_timeout,
            caller_id=f'"回拨 {number}" <{s.caller_id}>',
            variables={"HOTLINE_CALLBACK": ref, "HOTLINE_AGENT": agent},
        )

    async def _citizen(
        self, uid: str, agent: str, caller: str, events: asyncio.Queue[dict[str, str]]
    ) -> str:
        """The agent answered; the dialplan dials the citizen. Follow it to the end."""
        s = self.settings
        first = await _next(events, s.citizen_ring_timeout + END_MARGIN_SECONDS)
        if first is not None and first.get("Stage") == "answer":
            await self.queue.connect(uid, agent)
            self.dialled.append((uid, "ANSWER"))
            end = await _next(events, s.max_call_seconds)
            while end is not None and end.get("Stage") == "answer":
                end = await _next(events, s.max_call_seconds)
            if end is None or end is LOST:
                log.warning("callback %s: its end was not seen (AMI lost or no hangup in %.0f s);"
                            " closed now", uid, s.max_call_seconds)  # fmt: skip
            # Status is set by the dialplan once Dial returned: the citizen hung up first
            who = "caller" if end is not None and end.get("Status") == "ANSWER" else "agent"
            await self.queue.complete(uid, agent, who)
            return "ANSWER"
        if first is None or first is LOST:
            status = "AMI" if first is LOST else "TIMEOUT"
            log.warning("[HL-QUE-043] callback %s to %s: no word from the dialplan context %s "
                        "(%s; is hotline-callback.conf installed?); counted as not reached",
                        uid, caller, s.context, status)  # fmt: skip
        else:
            # the hangup of the agent's channel: Status is the citizen leg's DIALSTATUS, or
            # empty when the agent hung up while the citizen's phone rang
            status = first.get("Status") or "CANCEL"
        self.dialled.append((uid, status))
        await self._failed(uid, agent, status, counted=True)
        return status

    async def _failed(self, uid: str, agent: str, status: str, *, counted: bool) -> None:
        s = self.settings
        result = await self.queue.callback_failed(
            uid,
            agent,
            status,
            counted=counted,
            max_attempts=s.max_attempts,
            retry_seconds=s.retry_after_seconds,
        )
        if result.state == "closed":
            log.warning("[HL-QUE-044] callback %s: the caller was not reached in %d attempts "
                        "(last %s); closed as a missed call (漏接回拨 task)", uid,
                        result.attempts, status)  # fmt: skip
        else:
            log.info("callback %s not reached (%s, attempt %d of %d): again in %.0f s", uid,
                     status, result.attempts, s.max_attempts,
                     s.retry_after_seconds)  # fmt: skip


async def _next(events: asyncio.Queue[dict[str, str]], timeout: float) -> dict[str, str] | None:
    """The next event, or None after ``timeout`` seconds. A ``Hangup`` (of the agent's
    channel) counts as the end with no status, in case the dialplan's own report is lost."""
    try:
        async with asyncio.timeout(timeout):
            msg = await events.get()
    except TimeoutError:
        return None
    if msg.get("Event") == "Hangup":
        return {"Stage": "hangup", "Status": ""}
    return msg
