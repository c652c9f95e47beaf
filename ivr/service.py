"""The hotline service: what runs for each FastAGI session.

It takes the config current when the call arrives (so a reload never changes a call in
progress), builds the call's channel over AGI and runs the menu engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from ivr.agi.channel import AGIChannel, call_info_from_env
from ivr.agi.server import AGISession
from ivr.config.bundle import ConfigBundle
from ivr.engine.menu import MenuEngine, QueueWaiter, TicketLookup
from ivr.engine.store import CallStore
from ivr.errors import ConfigError
from ivr.runtime import ConfigHolder
from ivr.settings import Settings
from ivr.tickets.catalogue import load_catalogue
from ivr.tickets.db import Database, database_url
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.service import TicketService
from ivr.tickets.store import TicketStore, is_unavailable
from queueing.queue import QueueGateway
from queueing.waiter import SurveySink

log = logging.getLogger(__name__)

#: FastAGI path of the operator-answered notice (the Dial U() gosub ``hotline-answered`` on the
#: operator's channel, args: the caller's uniqueid and the agent).
ANSWERED_SCRIPT = "answered"


class HotlineService:
    def __init__(
        self,
        holder: ConfigHolder,
        queue: QueueGateway,
        store: CallStore,
        tickets: TicketLookup | None = None,
        messages_dir: str = "recordings/messages",
        waiter: QueueWaiter | None = None,
        surveys: HeldSurveys | None = None,
        answered: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.holder = holder
        self.queue = queue
        self.store = store
        self.tickets = tickets
        self.messages_dir = messages_dir
        self.waiter = waiter  # keeps queued callers company (queueing.waiter); None: hand off
        self.surveys = surveys  # survey scores, written once the call record is saved
        self.answered = answered  # an operator answered a queued caller (CONNECT, live)
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
        if session.script == ANSWERED_SCRIPT:
            await self._answered(session)
            return
        engine = self.engine(self.holder.current)
        info = call_info_from_env(session.env)
        try:
            await engine.run(AGIChannel(session), info)
        finally:
            if self.surveys is not None:
                await self.surveys.flush(info.uniqueid)

    async def _answered(self, session: AGISession) -> None:
        """The operator's channel, answered: ``answered,<caller uniqueid>,<agent>``. The queue
        records CONNECT now (not when the call ends); HOTLINE_ANSWERED=1 tells the gosub that
        it is done (else it tries the next FastAGI host). Never holds the call up: any
        problem is logged and the bridge goes ahead."""
        if len(session.args) < 2 or self.answered is None:
            log.warning("HL-AGI-030 /answered without a queue or arguments: %s", session.args)
            return
        uid, agent = session.args[0], session.args[1]
        try:
            await self.answered(uid, agent)
        except Exception as exc:
            log.warning("HL-AGI-031 operator %s answered %s, not recorded now: %s", agent, uid,
                        exc)  # fmt: skip
        await AGIChannel(session).set_variable("HOTLINE_ANSWERED", "1")


class HeldSurveys:
    """A :class:`queueing.waiter.SurveySink` that holds a call's survey score until its call
    record is saved (the survey is taken inside the call, the record written at its end), then
    hands it to the real sink (the ticket store), which sets it on the call and its ticket."""

    def __init__(self, sink: SurveySink) -> None:
        self.sink = sink
        self._held: dict[str, int] = {}

    async def survey(self, uniqueid: str, score: int) -> None:
        self._held[uniqueid] = score

    async def flush(self, uniqueid: str) -> None:
        score = self._held.pop(uniqueid, None)
        if score is not None:
            try:
                await self.sink.survey(uniqueid, score)
            except Exception:
                log.exception("HL-QUE-025 survey of %s could not be stored", uniqueid)


class Records:
    """The database side of a running hotline: the ticket store (call records, queue events,
    ticket lookups, with a journal while the database is away) and the periodic sweep that
    flags overdue tickets and starts supervision."""

    def __init__(
        self,
        store: TicketStore,
        sweeper: TicketService | None,
        process_journal: Path | None = None,
    ) -> None:
        self.store = store
        self.sweeper = sweeper
        # where process AGI scripts (one process per call) leave their call records
        self.process_journal = process_journal
        self._task: asyncio.Task[None] | None = None
        self._import_task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, settings: Settings, config_dir: Path, timezone: str) -> Records:
        db = Database(database_url(settings.var_dir))
        try:
            revision = await asyncio.to_thread(db.upgrade)
            log.info("database %s at revision %s", db.safe_url, revision)
        except DBAPIError as exc:
            if not is_unavailable(exc):
                raise
            # Calls are still served: their records wait in the journal for the database.
            log.error("HL-SRV-001 database %s unreachable at start: %s", db.safe_url, exc.orig)
        store = TicketStore(db, settings.var_dir / "tickets-journal.jsonl", timezone=timezone)
        await store.start()
        sweeper: TicketService | None = None
        try:
            catalogue = load_catalogue(config_dir)
            sweeper = TicketService(db, catalogue, Deadlines(calendar_from_config(config_dir)))
        except ConfigError as exc:
            log.error("HL-SRV-002 ticket catalogue refused, no sweep: %s", exc)
        return cls(store, sweeper, settings.journal)

    def start_sweeping(self, every: float = 60.0, import_every: float = 2.0) -> None:
        if self.sweeper is not None and self._task is None:
            self._task = asyncio.create_task(self._sweep_loop(every), name="ticket-sweep")
        if self.process_journal is not None and self._import_task is None:
            self._import_task = asyncio.create_task(
                self._import_loop(self.process_journal, import_every), name="journal-import"
            )

    async def _import_loop(self, path: Path, every: float) -> None:
        while True:
            try:
                n = await self.store.import_journal(path)
                if n:
                    log.info("imported %d call record(s) of the process AGI script", n)
            except Exception:
                log.exception("HL-SRV-004 could not import %s; trying again", path)
            await asyncio.sleep(every)

    async def _sweep_loop(self, every: float) -> None:
        assert self.sweeper is not None
        while True:
            try:
                await asyncio.to_thread(self.sweeper.sweep)
            except Exception:
                log.exception("HL-SRV-003 ticket sweep failed; trying again in %.0f s", every)
            await asyncio.sleep(every)

    async def close(self) -> None:
        for task in (self._task, self._import_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.store.close()
