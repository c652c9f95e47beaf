"""The hotline service: what runs for each FastAGI session.

It takes the config current when the call arrives (so a reload never changes a call in
progress), builds the call's channel over AGI and runs the menu engine.
"""

from __future__ import annotations

import logging

from ivr.agi.channel import AGIChannel, call_info_from_env
from ivr.agi.server import AGISession
from ivr.config.bundle import ConfigBundle
from ivr.engine.menu import MenuEngine, QueueWaiter, TicketLookup
from ivr.engine.store import CallStore
from ivr.runtime import ConfigHolder
from queueing.queue import QueueGateway

log = logging.getLogger(__name__)


class HotlineService:
    def __init__(
        self,
        holder: ConfigHolder,
        queue: QueueGateway,
        store: CallStore,
        tickets: TicketLookup | None = None,
        messages_dir: str = "recordings/messages",
        waiter: QueueWaiter | None = None,
    ) -> None:
        self.holder = holder
        self.queue = queue
        self.store = store
        self.tickets = tickets
        self.messages_dir = messages_dir
        self.waiter = waiter  # keeps queued callers company (queueing.waiter); None: hand off
        self._engine: MenuEngine | None = None

    def engine(self, bundle: ConfigBundle) -> MenuEngine:
        engine = self._engine
        if engine is None or engine.config is not bundle:
            engine = MenuEngine(
                bundle,
                self.queue,
                self.store,
                self.tickets,
                messages_dir=self.messages_dir,
                waiter=self.waiter,
            )
            self._engine = engine
        return engine

    async def handle(self, session: AGISession) -> None:
        engine = self.engine(self.holder.current)
        info = call_info_from_env(session.env)
        await engine.run(AGIChannel(session), info)
