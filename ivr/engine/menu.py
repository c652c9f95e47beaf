"""The menu engine: one async script per call, against the :class:`Channel` interface.

Rules it keeps whatever the config says:

- doing nothing reaches a person: silence and repeated mistakes go to the fallback node, which
  validation guarantees leads to the operator queue;
- the menu never hangs up on a caller: every path ends in the queue, a transfer, or the
  caller's own hangup; a failed transfer falls back to a person;
- the operator key reaches a person and the emergency key reaches the emergency menu from any
  menu;
- callers on the accessibility list skip the menu and get priority;
- a caller re-entering after a server failure skips the menu and resumes its place in the
  queue: the engine finds it from the channel's variables (:mod:`ivr.engine.attempt`), from
  the queue's entry of its uniqueid, or from the route arguments older dialplans pass (see
  :func:`resume_args`);
- a call that was served (an operator answered) is never queued or put through again: a
  re-entry only takes the survey if it was not taken, then ends.

When the engine has served the call to its end it sets ``HOTLINE_DONE=1``; the dialplan
re-enters a call whose session ended without it (a caller merely handed to the queue, with no
waiter to keep it company, is not done either). Each session is an attempt, numbered on the
channel (``HOTLINE_SESSION``) and in the record (``record.attempt``).

It records every step in a :class:`CallRecord` and hands it to a :class:`CallStore`, also when
the caller hangs up or the session is cancelled.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

from ivr.config.bundle import ConfigBundle
from ivr.engine.attempt import (
    CallState,
    CallTracker,
    HandedBack,
    queue_place,
    read_state,
)
from ivr.engine.call import MenuCall
from ivr.engine.callstore import CallStore
from ivr.engine.channel import CallInfo, Channel
from ivr.engine.parts import NoTickets, QueueWaiter, TicketLookup
from ivr.engine.record import PBX_LOST, CallRecord, utcnow
from ivr.errors import AGIHangup, PBXLost
from queueing.queue import QueueGateway

log = logging.getLogger(__name__)


def resume_args(arguments: tuple[str, ...]) -> tuple[str, int] | None:
    """The queue place a re-entering call had. The dialplan ends every AGI's arguments with
    ``${HOTLINE_ROUTE},${HOTLINE_SKILL},${HOTLINE_PRIORITY}``, so a call that was in the queue
    arrives with ``..., queue, SKILL, PRIORITY`` (a process script has its own arguments
    first)."""
    if len(arguments) < 3:
        return None
    route, skill, priority = arguments[-3:]
    if route != "queue" or not skill:
        return None
    return skill, int(priority) if priority.isdigit() else 0


class MenuEngine:
    def __init__(
        self,
        config: ConfigBundle,
        queue: QueueGateway,
        store: CallStore,
        tickets: TicketLookup | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        waiter: QueueWaiter | None = None,
        *,
        server: str = "",
        tracker: CallTracker | None = None,
        live: dict[str, CallRecord] | None = None,
        redis_patience: float = 60.0,
    ) -> None:
        self.config = config
        self.queue = queue
        self.store = store
        self.waiter = waiter
        self.server = server  # this server's id, on every record
        self.tracker = tracker  # the live-call registry; None: none
        self.live = live if live is not None else {}  # the calls in progress, by uniqueid
        # how long the enqueue at the end of the menu retries (with music) while Redis is away
        self.redis_patience = redis_patience
        self.stopping = False  # the server is stopping: a cancelled call is handed back
        self.tickets = tickets or NoTickets()
        self.clock = clock or (lambda: dt.datetime.now(ZoneInfo(config.hours.timezone)))

    # ------------------------------------------------------------------------- entry point

    async def run(self, channel: Channel, info: CallInfo) -> CallRecord:
        cfg = self.config
        route = cfg.route(info.dnid, info.extension)
        line = route.line
        record = CallRecord(
            uniqueid=info.uniqueid,
            caller=info.caller,
            caller_name=info.caller_name,
            dialled=route.number,
            channel=info.channel,
            config_version=cfg.version,
            line_number=line.number if line else None,
            line_name=line.name if line else cfg.lines.hotline.name,
            line_mode=line.mode.value if line else None,
            department=line.department if line else None,
            accessible=cfg.is_accessible(info.caller),
            server=self.server,
        )
        call = MenuCall(self, channel, record, route)
        self.live[record.uniqueid] = record
        try:
            await self._attempt(call, info)
            if record.outcome != "queue":
                # Served to the end. A caller only handed to the queue (no waiter here) is
                # not: the dialplan takes it on (next server, or its static queue).
                await channel.set_variable("HOTLINE_DONE", "1")
        except PBXLost as exc:
            # the Asterisk box died under the call: not the caller's doing
            record.add("pbx_lost", call.node, exc.box)
            record.hangup_node = call.node
            if record.outcome in ("in_progress", "queue"):
                record.finish(
                    PBX_LOST, f"Asterisk {exc.box or '?'} went away at {call.node or 'start'}"
                )
            else:  # answered, transferred ...: the outcome stands, the call is over
                record.ended_at = utcnow()
        except AGIHangup:
            record.add("hangup", call.node)
            record.hangup_node = call.node
            if record.outcome == "in_progress":
                record.finish("hangup", f"at {call.node or 'start'}")
            elif record.outcome == "queue":
                record.finish("abandoned", f"waiting for {record.skill}")
            else:  # answered, transferred ...: the outcome stands, the call is over
                record.ended_at = utcnow()
        except HandedBack:
            # the server stops: the caller keeps its place for the next server
            record.finish("handed-back", f"waiting for {record.skill}")
        except BaseException as exc:
            # Cancellation and crashes still leave a complete record; they are re-raised.
            record.hangup_node = call.node
            if self.stopping and isinstance(exc, asyncio.CancelledError):
                record.finish("handed-back", f"at {call.node or 'start'}")
            else:
                record.add("error", call.node, type(exc).__name__)
                record.finish("error", type(exc).__name__)
            await self._done(record)
            raise
        await self._done(record)
        return record

    async def _attempt(self, call: MenuCall, info: CallInfo) -> None:
        """Which attempt this is, and where the call goes on: the menu, its queue place, or
        (served before) the survey or nothing."""
        record, channel = call.record, call.ch
        state = await read_state(channel)
        if state is not None:
            record.attempt = state.session + 1
            await channel.set_variable("HOTLINE_SESSION", str(record.attempt))
        live = await self.tracker.started(record) if self.tracker is not None else None
        if live is not None and state is None and live.attempt:
            record.attempt = live.attempt + 1  # a channel that cannot tell (process script)
        if (state is not None and state.served) or (live is not None and live.done):
            await call.served_before(state or CallState(), live)
            return
        resume = resume_args(info.arguments)
        if resume is None and state is not None and state.route == "queue" and state.skill:
            resume = state.skill, state.priority
        if resume is None and (record.attempt > 1 or (live is not None and live.attempt > 0)):
            resume = await queue_place(self.queue, record.uniqueid)
        if resume is not None:
            await call.resume(*resume)
        else:
            await call.run()

    async def _done(self, record: CallRecord) -> None:
        await self._save(record)
        self.live.pop(record.uniqueid, None)
        if self.tracker is not None:
            finished = record.outcome not in ("handed-back", "error")
            await self.tracker.ended(record, finished=finished)

    async def _save(self, record: CallRecord) -> None:
        try:
            await self.store.save(record)
        except Exception:
            log.exception("[HL-ENG-001] could not store the call record of %s", record.uniqueid)
