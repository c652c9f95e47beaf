"""The database side of a running hotline server: the call-record store, the periodic ticket
sweep (overdue flags, automatic supervision) and the import of the call records the
process-AGI scripts leave in a journal file. Built by :mod:`ivr.compose`."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from ivr.db.errors import DatabaseUnavailable
from ivr.records.store import CallRecordStore
from ivr.tickets.service import TicketService
from queueing.stopping import stop_task

log = logging.getLogger(__name__)


class RecordKeeper:
    """The database side of a running hotline: the ticket store (call records, queue events,
    ticket lookups, with a journal while the database is away) and the periodic sweep that
    flags overdue tickets and starts supervision."""

    def __init__(
        self,
        store: CallRecordStore,
        sweeper: TicketService | None,
        process_journal: Path | None = None,
    ) -> None:
        self.store = store
        self.sweeper = sweeper
        # where process AGI scripts (one process per call) leave their call records
        self.process_journal = process_journal
        self._task: asyncio.Task[None] | None = None
        self._import_task: asyncio.Task[None] | None = None

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
                log.exception("[HL-SRV-004] could not import %s; trying again", path)
            await asyncio.sleep(every)

    async def _sweep_loop(self, every: float) -> None:
        assert self.sweeper is not None
        while True:
            try:
                await asyncio.to_thread(self.sweeper.sweep)
            except DatabaseUnavailable as exc:  # an outage: one line, no traceback
                log.warning("[HL-SRV-003] ticket sweep put off, %s; trying again in %.0f s",
                            exc, every)  # fmt: skip
            except Exception:
                log.exception("[HL-SRV-003] ticket sweep failed; trying again in %.0f s", every)
            await asyncio.sleep(every)

    async def close(self) -> None:
        for task in (self._task, self._import_task):
            await stop_task(task)
        await self.store.close()
