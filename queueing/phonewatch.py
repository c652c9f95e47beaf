"""Browser phones that stay unregistered: the agent is paused without waiting for a caller.

An operator logged in with the desk's browser phone (its interface is the ``webrtc = yes``
endpoint, docs/webrtc.md) whose tab is closed or whose network is lost has no phone any more,
but the queue would only find out when it offers a call (the Dial fails or rings out). This
watcher asks Asterisk, every ``probe`` seconds, the device state of the browser phones of the
agents logged in with one, and only of those: AMI ``Getvar`` of
``DEVICE_STATE(PJSIP/<endpoint>)``. chan_pjsip says ``UNAVAILABLE`` when the endpoint has no
reachable contact: the contact was removed when its WebSocket closed (a tab closed), or the
AOR's ``qualify_frequency`` OPTIONS went unanswered (a network lost).

An agent ``ready`` or in ``wrapup`` whose phone has been unavailable for ``grace`` seconds
is paused with reason :data:`OFFLINE` (``phone offline``), and ``on_pause`` is told (the
audit row, by the system). A phone that comes back does not unpause the agent: the operator
may not be at the seat; the desk registers the phone again and the operator presses Ready.

Several servers may run a watcher on one queue: a lease in Redis (:func:`keys.phone_watch`)
lets one of them probe at a time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from redis.exceptions import RedisError

from queueing import keys
from queueing.ami import AMIError
from queueing.model import AgentState
from queueing.queue import RedisQueue
from queueing.stopping import stop_task

log = logging.getLogger(__name__)

#: the pause reason the desk and the wallboard show (话机离线)
OFFLINE = "phone offline"
#: device states of a phone that cannot ring (INVALID: the endpoint is not in Asterisk)
DOWN = frozenset({"UNAVAILABLE", "INVALID"})
#: agent states the watcher pauses; a reserved or busy agent is the queue's business
WATCHED = frozenset({"ready", "wrapup"})


class ContactsManager(Protocol):
    async def action(self, name: str, *extra: tuple[str, str], **fields: Any) -> dict[str, str]: ...


class PhoneWatch:
    """Pauses the agents whose browser phone stays unavailable (see the module)."""

    def __init__(
        self,
        queue: RedisQueue,
        ami: ContactsManager,
        phones: Callable[[], dict[str, str]],
        grace: Callable[[], float | None],
        *,
        probe: float = 5.0,
        on_pause: Callable[[AgentState], Awaitable[None]] | None = None,
        server: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: ``phones()``: agent id -> the interface of its browser phone (``PJSIP/1001-web``)
        self.queue, self.ami, self.phones, self.grace = queue, ami, phones, grace
        self.probe, self.on_pause, self.clock = probe, on_pause, clock
        self.server = server or f"phonewatch-{id(self):x}"
        self.down_since: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._closing = False  # the loop's own check (queueing.stopping: a swallowed cancel)

    async def device_state(self, interface: str) -> str:
        reply = await self.ami.action("Getvar", Variable=f"DEVICE_STATE({interface})")
        if reply.get("Response") != "Success":
            raise AMIError(f"DEVICE_STATE({interface}): {reply.get('Message', '')}")
        return reply.get("Value", "").upper()

    async def _lease(self) -> bool:
        """This server probes for the next two rounds (another server's lease: not now)."""
        key, ms = keys.phone_watch(self.queue.centre), int(self.probe * 2000)
        client = self.queue.client
        if await client.set(key, self.server, nx=True, px=ms):
            return True
        holder = await client.get(key)
        mine = (holder.decode() if isinstance(holder, bytes) else holder) == self.server
        if mine:
            await client.pexpire(key, ms)
        return mine

    async def round(self) -> list[str]:
        """One probe of every browser phone in use; returns the agents paused now."""
        grace = self.grace()
        if grace is None or not await self._lease():
            self.down_since.clear()
            return []
        paused: list[str] = []
        seen: set[str] = set()
        for agent_id, interface in self.phones().items():
            state = await self.queue.agent(agent_id)
            if state.interface != interface or state.state not in WATCHED:
                continue
            seen.add(agent_id)
            if await self.device_state(interface) not in DOWN:
                self.down_since.pop(agent_id, None)
                continue
            now = self.clock()
            since = self.down_since.setdefault(agent_id, now)
            if now - since < grace:
                continue
            again = await self.queue.agent(agent_id)  # it may have changed while we asked
            if again.interface != interface or again.state not in WATCHED:
                continue
            await self.queue.pause(agent_id, OFFLINE)
            self.down_since.pop(agent_id, None)
            log.warning("[HL-QUE-090] agent %s paused: its browser phone %s has been "
                        "unavailable for %.0f s", agent_id, interface, now - since)  # fmt: skip
            paused.append(agent_id)
            if self.on_pause is not None:
                await self.on_pause(again)
        for gone in set(self.down_since) - seen:
            del self.down_since[gone]
        return paused

    async def run(self) -> None:
        while not self._closing:
            try:
                await self.round()
                self._failing = False
            except (AMIError, OSError, TimeoutError, RedisError) as exc:
                if not self._failing:  # once per outage, not every round
                    log.warning("[HL-QUE-091] browser phones not watched: %s", exc)
                self._failing = True
            await asyncio.sleep(self.probe)

    def start(self) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.get_running_loop().create_task(self.run(), name="phone-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._closing = True
        await stop_task(task)
