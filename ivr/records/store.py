"""The database store used by the call flow.

:class:`CallRecordStore` is at once

- a :class:`ivr.engine.callstore.CallStore` (``await save(record)``): each record is one attempt
  of a call (``record.attempt``), kept in ``call_attempts``; the call's ``call_records`` row is
  the merge of all its attempts (:mod:`ivr.records.attempts`), whatever order they arrive in;
  idempotent by ``(uniqueid, attempt)``;
- the closer of lost calls (``await lost(call)``): a call whose server died gets a synthetic
  ``server-lost`` attempt from the snapshot Redis kept; a call that came back after its
  server died gets the attempt that server never recorded, from the same snapshot
  (``await earlier_attempt(uniqueid, attempt, snapshot)``);
- the write path of ticket numbers reserved in Redis (:mod:`ivr.records.ticketno`):
  :meth:`CallRecordStore.note_reservation` hands one over without waiting for the database;
- a :class:`queueing.events.QueueEventSink` (``await queue_event(event)``): one ``queue_log``
  row per event, idempotent by a key made from the event;
- a :class:`ivr.engine.parts.TicketLookup` (``await status(number, caller)``).

When the database cannot be reached, writes go to the local :class:`~ivr.records.journal.Journal`
and the store stays *degraded* until the journal has been replayed: while entries wait there,
new writes are appended behind them, so the database receives everything in the order it
happened. A background task (:meth:`CallRecordStore.start`) retries the replay every
``retry_seconds``. Idempotent writes make a replay that is interrupted and repeated harmless:
nothing is lost and nothing is written twice.

Database calls run in worker threads (``asyncio.to_thread``) with the synchronous engine, so
the event loop never blocks on the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from ivr.db.database import Database
from ivr.db.tables import (
    TicketRow,
)
from ivr.engine.callstore import take_journal
from ivr.engine.record import CallRecord
from ivr.records.attempts import lost_entries, snapshot_entry
from ivr.records.entries import (
    BATCH,
    CALL,
    RESERVE,
    SURVEY,
    call_entry,
    is_unavailable,
    queue_entry,
    write_entries,
)
from ivr.records.journal import Journal
from ivr.records.reserve import reserve_ticket
from ivr.tickets.lifecycle import STATUS_WORDS, State
from queueing.events import QueueEvent
from queueing.stopping import stop_task

log = logging.getLogger(__name__)


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a failed group's exception as seen (its callers may all have gone)."""
    if not future.cancelled():
        future.exception()


class LostCallInfo(Protocol):
    """A live call whose server died (``queueing.queue.LostCall``)."""

    @property
    def uniqueid(self) -> str: ...
    @property
    def server(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def done(self) -> bool: ...
    @property
    def snapshot(self) -> str: ...


#: Group commit under load: a transaction that follows another within this time first waits
#: this long, so that what the calls hand over meanwhile joins it (one thread hop and one
#: commit for several calls' entries, and larger reads for the event pump). An idle store
#: writes at once. 5 ms: who waits on it is the event pump, a finished call's session (its
#: record is stored before the registry forgets the call) and any code that awaits writes
#: one after another (the survey after the record, the hub closing lost calls, the pump's
#: recovery): each pays the linger again. 50 ms cut the server's CPU per call by about 15 %
#: in quick benchmark pairs (issue 13, session 14) but capped the ticket bench's 64 writers
#: at about 1,200 records/s and made those sequential writers wait 50 ms a write: not kept.
LINGER_SECONDS = 0.005


class CallRecordStore:
    """CallStore + QueueEventSink + TicketLookup over the database, with a journal."""

    def __init__(
        self,
        db: Database,
        journal: Path,
        *,
        timezone: str = "Asia/Shanghai",
        retry_seconds: float = 5.0,
        linger: float = LINGER_SECONDS,
    ) -> None:
        self.db = db
        self.linger = linger
        self._last_commit = -1.0  # time.monotonic() when the last transaction ended
        self.journal = Journal(journal)
        self.rejected = Journal(journal.with_name(journal.name + ".rejected"))
        self.tz = ZoneInfo(timezone)
        self.retry_seconds = retry_seconds
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pending: list[dict[str, Any]] = []
        self._pending_done: asyncio.Future[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self.degraded = not self.journal.empty()

    # -- the protocols -------------------------------------------------------------------

    async def save(self, record: CallRecord) -> None:
        await self._write([call_entry(record)])

    async def save_many(self, records: Sequence[CallRecord]) -> None:
        """Several call records in one transaction (bulk import, benchmarks)."""
        await self._write([call_entry(r) for r in records])

    async def lost(self, call: LostCallInfo) -> None:
        """Close a call whose server died: the snapshot it last stored becomes attempt
        ``call.attempt`` (unless its real record is there) and attempt ``call.attempt + 1``
        ends the call now, ``server-lost`` (or, when ``call.done``, the snapshot's outcome:
        answered). Both are synthetic: real records of those attempts replace them."""
        now = dt.datetime.now(dt.UTC)
        await self._write(
            lost_entries(call.uniqueid, call.server, call.attempt, call.done, call.snapshot, now)
        )

    async def earlier_attempt(self, uniqueid: str, attempt: int, snapshot: str) -> None:
        """A call re-entered after the server of its attempt ``attempt`` died before writing
        that attempt's record: the snapshot that server last stored in the live-call registry
        (``CallRecord.to_dict`` as JSON) becomes that attempt, synthetic (its real record,
        should it arrive late, replaces it; an existing real one stays). Nothing is written
        for an empty or unusable snapshot."""
        entry = snapshot_entry(uniqueid, attempt, snapshot)
        if entry is not None:
            await self._write([entry])

    def note_reservation(
        self, uniqueid: str, number: str, at: dt.datetime | None = None
    ) -> asyncio.Future[None]:
        """A ticket number reserved for a call outside the database (Redis): handed to the
        write path (database, else journal) without waiting. The future is done once it is
        in the database or the journal."""
        when = (at or dt.datetime.now(dt.UTC)).isoformat()
        entry = {"kind": RESERVE, "data": {"uniqueid": uniqueid, "number": number, "at": when}}
        return self._submit([entry])

    async def import_journal(self, path: Path) -> int:
        """Import the call records other processes (the process AGI script) appended to the
        JSON-lines journal ``path`` (:class:`ivr.engine.callstore.JournalStore`). Each file is
        removed once its records are in the database or in this store's own journal.
        Returns the number of records imported."""
        done = 0
        for part in await asyncio.to_thread(take_journal, path):
            entries = []
            for n, line in enumerate(part.read_text("utf-8", "replace").splitlines(), 1):
                try:
                    data = json.loads(line)
                    if not isinstance(data, dict) or "uniqueid" not in data:
                        raise ValueError("not a call record")
                except ValueError as exc:
                    if line.strip():
                        log.error("[HL-TKT-020] %s:%d skipped, not a call record: %s", part, n,
                                  exc)  # fmt: skip
                    continue
                entries.append({"kind": CALL, "data": data})
            if entries:
                await self._write(entries)
            part.unlink()
            done += len(entries)
        return done

    async def queue_event(self, event: QueueEvent) -> None:
        await self._write([queue_entry(event)])

    async def queue_events(self, events: Sequence[QueueEvent]) -> None:
        """What the pump read, in one hand-over: one group commit for all of them."""
        await self._write([queue_entry(e) for e in events])

    async def survey(self, uniqueid: str, score: int) -> None:
        """The keypad survey (1..5, 5 very satisfied) of a call, kept on its ticket too."""
        if not 1 <= score <= 5:
            raise ValueError(f"survey score is 1..5, not {score}")
        await self._write([{"kind": SURVEY, "data": {"uniqueid": uniqueid, "score": score}}])

    async def status(self, ticket_number: str, caller: str) -> str | None:
        """The lookup word of a ticket the caller owns; None when unknown (or DB away)."""
        try:
            return await asyncio.to_thread(self._status, ticket_number, caller)
        except DBAPIError as exc:
            log.warning("ticket lookup failed, database unavailable: %s", exc)
            return None

    async def reserve_ticket(self, uniqueid: str) -> str | None:
        return await reserve_ticket(self.db, self.tz, uniqueid)

    def _status(self, number: str, caller: str) -> str | None:
        with self.db.session() as session:
            ticket = session.scalar(select(TicketRow).where(TicketRow.number == number))
            if ticket is None or ticket.caller != caller:
                return None
            if ticket.merged_into is not None:
                target = session.get(TicketRow, ticket.merged_into)
                if target is not None:
                    ticket = target
            return STATUS_WORDS[State(ticket.state)]

    # -- writing -------------------------------------------------------------------------

    def _write_sync(self, entries: Sequence[dict[str, Any]]) -> None:
        with self.db.session() as session:
            write_entries(session, entries, self.tz)

    async def _write(self, entries: list[dict[str, Any]]) -> None:
        """Group commit: entries handed over while a transaction is in flight wait, and are
        then written together in the next one (in the order they came). A caller returns
        once its entries are in the database or in the journal."""
        await asyncio.shield(self._submit(entries))

    def _submit(self, entries: list[dict[str, Any]]) -> asyncio.Future[None]:
        self._pending.extend(entries)
        if self._pending_done is None:
            self._pending_done = asyncio.get_running_loop().create_future()
        done = self._pending_done
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="ticket-store-flush")
        return done

    async def _flush(self) -> None:
        while self._pending:
            if time.monotonic() - self._last_commit < self.linger:
                # busy: the last transaction has just ended, more entries are on their way
                await asyncio.sleep(self.linger)
            batch, done = self._pending, self._pending_done
            self._pending, self._pending_done = [], None
            assert done is not None
            try:
                await self._commit(batch)
                self._last_commit = time.monotonic()
            except BaseException as exc:
                done.set_exception(exc)
                done.add_done_callback(_retrieve)
                if isinstance(exc, asyncio.CancelledError):
                    raise
            else:
                done.set_result(None)

    async def _commit(self, entries: list[dict[str, Any]]) -> None:
        async with self._lock:
            if not self.degraded:
                try:
                    await asyncio.to_thread(self._write_batch, entries)
                    return
                except Exception as exc:
                    if not is_unavailable(exc):
                        raise
                    log.error(
                        "[HL-TKT-001] database %s unavailable (%s): writing to journal %s, "
                        "replayed when it is back",
                        self.db.safe_url,
                        getattr(exc, "orig", None) or exc,
                        self.journal.path,
                    )
                    self.degraded = True
            await asyncio.to_thread(self.journal.append, entries)
            self._wake.set()

    def _reject(self, entries: Sequence[dict[str, Any]], exc: BaseException) -> None:
        """Entries the database refuses (not an outage: a bad value, a bug) are kept aside
        in ``<journal>.rejected``, so they are neither lost nor block the replay."""
        log.error(
            "[HL-TKT-007] %d entries refused by the database (%s): kept in %s for inspection",
            len(entries),
            exc,
            self.rejected.path,
        )
        self.rejected.append(list(entries))

    def _write_batch(self, batch: list[dict[str, Any]]) -> None:
        try:
            self._write_sync(batch)
        except Exception as exc:
            if is_unavailable(exc):
                raise
            for entry in batch:  # find the bad ones, write the rest
                try:
                    self._write_sync([entry])
                except Exception as one:
                    if is_unavailable(one):
                        raise
                    self._reject([entry], one)

    # -- replay --------------------------------------------------------------------------

    def _replay_sync(self) -> int:
        count = 0
        batch: list[dict[str, Any]] = []
        for entry in self.journal.read():
            batch.append(entry)
            if len(batch) >= BATCH:
                self._write_batch(batch)
                count += len(batch)
                batch = []
        if batch:
            self._write_batch(batch)
            count += len(batch)
        self.journal.clear()
        return count

    async def replay(self) -> int:
        """Write the journal to the database, in order; returns the entries replayed.
        Raises the database error if it is still away (the journal is kept)."""
        async with self._lock:
            if self.journal.empty():
                self.degraded = False
                return 0
            count = await asyncio.to_thread(self._replay_sync)
            self.degraded = False
            log.warning("journal %s: %d entries replayed to the database", self.journal.path, count)
            return count

    async def _retry_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.retry_seconds)
            self._wake.clear()
            if not self.degraded:
                continue
            await asyncio.sleep(self.retry_seconds)  # let the database come back
            try:
                await self.replay()
            except DBAPIError as exc:
                if not is_unavailable(exc):
                    log.exception("journal replay failed on an entry: the journal is kept")
                log.info("database still unavailable, journal kept: %s", exc.orig or exc)

    async def start(self) -> None:
        """Replay what an earlier run left in the journal (if the database is up), then keep
        retrying in the background while degraded."""
        if not self.journal.empty():
            try:
                await self.replay()
            except DBAPIError as exc:
                if not is_unavailable(exc):
                    raise
                self.degraded = True
        if self._task is None:
            self._task = asyncio.create_task(self._retry_loop(), name="ticket-journal-replay")

    async def close(self) -> None:
        if self._flusher is not None:  # let what was handed over reach the database
            with contextlib.suppress(Exception):
                await self._flusher
        await stop_task(self._task)
        self._task = None
        await asyncio.to_thread(self.db.close)


__all__ = ["CallRecordStore", "write_entries"]
