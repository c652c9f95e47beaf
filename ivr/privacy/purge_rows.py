"""One batch of the retention purge, in one short transaction: the expired rows of one kind
(at most ``batch`` of them, after the last id seen) and what hangs on them. The caller
(:mod:`ivr.privacy.purge`) pages through with the returned last id, so a large purge never
holds one long transaction and a row kept on purpose (its file could not be deleted) is not
read again in the same run.

- recordings: a call row's operator conversation (``recording``) and voice messages
  (``messages``, and the callback tasks' ``recording`` of that call): the files deleted, the
  paths cleared; the row stays.
- call records: the row, its attempts (``call_attempts``), its ``queue_log`` rows, its ticket
  reservation, the callback tasks of the call that belong to no ticket and its quality checks
  (``quality_checks`` with their ``quality_scores``: a score of a conversation nobody can
  hear again); its files too.
- tickets (closed only): the row, its history (``ticket_events``), its links to calls
  (``ticket_calls``), supervisions and callback tasks; a ticket merged into it keeps its own
  row, its ``merged_into`` cleared.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from ivr.db.outbox_tables import OutboxRow
from ivr.db.quality_tables import QualityCheckRow, QualityScoreRow
from ivr.db.tables import (
    CallAttemptRow,
    CallbackTaskRow,
    CallRow,
    QueueLogRow,
    SupervisionRow,
    TicketCallRow,
    TicketEventRow,
    TicketReservationRow,
    TicketRow,
)
from ivr.privacy.files import OutsideRecordings, recording_file
from ivr.tickets.lifecycle import DONE, State

log = logging.getLogger(__name__)

#: a ticket in one of these states is closed, and may be purged once old enough
CLOSED: tuple[str, ...] = tuple(sorted(s.value for s in (*DONE, State.MERGED)))

FILE_FAILED = "HL-PRV-011"


def _files(root: Path, paths: Iterable[str], counts: Counter[str], dry: bool) -> bool:
    """Delete each recording file (not in a dry run); True when every one is gone or was
    never there. A path outside ``root`` is never touched (counted as failed)."""
    whole = True
    for stored in paths:
        try:
            path = recording_file(root, stored)
        except OutsideRecordings as exc:
            log.error("[%s] %s", FILE_FAILED, exc.message)
            counts["recordings_failed"] += 1
            whole = False
            continue
        if path is None:
            counts["recordings_missing"] += 1
            continue
        if dry:
            counts["recordings"] += 1
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            counts["recordings_missing"] += 1
        except OSError as exc:
            log.error("[%s] recording %s not deleted: %s", FILE_FAILED, path, exc.strerror)
            counts["recordings_failed"] += 1
            whole = False
        else:
            counts["recordings"] += 1
    return whole


def _paths(row: Any) -> list[str]:
    return [p for p in [row.recording, *(row.messages or [])] if p]


def recordings_batch(
    s: Session, root: Path, before_day: dt.date, after_id: int, batch: int, dry: bool
) -> tuple[int | None, Counter[str]]:
    """The recordings of calls of a day before ``before_day``; (last id read, counts)."""
    counts: Counter[str] = Counter()
    has_files = or_(CallRow.recording.is_not(None), cast(CallRow.messages, String) != "[]")
    rows = s.execute(
        select(CallRow.id, CallRow.uniqueid, CallRow.recording, CallRow.messages)
        .where(CallRow.day < before_day, CallRow.id > after_id, has_files)
        .order_by(CallRow.id)
        .limit(batch)
    ).all()
    cleared: list[int] = []
    uids: list[str] = []
    for row in rows:
        if _files(root, _paths(row), counts, dry):
            cleared.append(row.id)
            uids.append(row.uniqueid)
    counts["recording_rows"] += len(cleared)
    if cleared and not dry:
        s.execute(
            update(CallRow).where(CallRow.id.in_(cleared)).values(recording=None, messages=[])
        )
        s.execute(
            update(CallbackTaskRow)
            .where(CallbackTaskRow.call_uniqueid.in_(uids), CallbackTaskRow.recording.is_not(None))
            .values(recording=None)
        )
    return (rows[-1].id if rows else None), counts


def _count_or_delete(s: Session, table: Any, where: Any, dry: bool) -> int:
    if dry:
        return int(s.scalar(select(func.count()).select_from(table).where(where)) or 0)
    return int(s.execute(delete(table).where(where)).rowcount or 0)  # type: ignore[attr-defined]


def calls_batch(
    s: Session, root: Path, before_day: dt.date, after_id: int, batch: int, dry: bool
) -> tuple[int | None, Counter[str]]:
    """Call rows of a day before ``before_day`` and what hangs on them."""
    counts: Counter[str] = Counter()
    rows = s.execute(
        select(CallRow.id, CallRow.uniqueid, CallRow.recording, CallRow.messages)
        .where(CallRow.day < before_day, CallRow.id > after_id)
        .order_by(CallRow.id)
        .limit(batch)
    ).all()
    # a dry run counted these files in its recordings step already
    seen: Counter[str] = Counter() if dry else counts
    ids = [r.id for r in rows if _files(root, _paths(r), seen, dry)]
    uids = [r.uniqueid for r in rows if r.id in set(ids)]
    if ids:
        counts["call_attempts"] += _count_or_delete(
            s, CallAttemptRow, CallAttemptRow.uniqueid.in_(uids), dry
        )
        counts["queue_log"] += _count_or_delete(s, QueueLogRow, QueueLogRow.callid.in_(uids), dry)
        counts["callback_tasks"] += _count_or_delete(
            s,
            CallbackTaskRow,
            CallbackTaskRow.call_uniqueid.in_(uids) & CallbackTaskRow.ticket_id.is_(None),
            dry,
        )
        _count_or_delete(s, TicketReservationRow, TicketReservationRow.call_uniqueid.in_(uids), dry)
        checks = select(QualityCheckRow.id).where(QualityCheckRow.call_uniqueid.in_(uids))
        _count_or_delete(s, QualityScoreRow, QualityScoreRow.check_id.in_(checks), dry)
        counts["quality_checks"] += _count_or_delete(
            s, QualityCheckRow, QualityCheckRow.call_uniqueid.in_(uids), dry
        )
        counts["call_records"] += _count_or_delete(s, CallRow, CallRow.id.in_(ids), dry)
    return (rows[-1].id if rows else None), counts


def tickets_batch(
    s: Session, before: dt.datetime, after_id: int, batch: int, dry: bool
) -> tuple[int | None, Counter[str]]:
    """Closed tickets finished (a merged one: accepted) before ``before``."""
    counts: Counter[str] = Counter()
    closed_at = func.coalesce(TicketRow.finished_at, TicketRow.accepted_at)
    ids: Sequence[int] = s.scalars(
        select(TicketRow.id)
        .where(TicketRow.state.in_(CLOSED), closed_at < before, TicketRow.id > after_id)
        .order_by(TicketRow.id)
        .limit(batch)
    ).all()
    if ids:
        counts["ticket_events"] += _count_or_delete(
            s, TicketEventRow, TicketEventRow.ticket_id.in_(ids), dry
        )
        _count_or_delete(s, TicketCallRow, TicketCallRow.ticket_id.in_(ids), dry)
        _count_or_delete(s, SupervisionRow, SupervisionRow.ticket_id.in_(ids), dry)
        numbers = select(TicketRow.number).where(TicketRow.id.in_(ids))
        _count_or_delete(s, OutboxRow, OutboxRow.ticket_number.in_(numbers), dry)  # SMS texts
        counts["callback_tasks"] += _count_or_delete(
            s, CallbackTaskRow, CallbackTaskRow.ticket_id.in_(ids), dry
        )
        if not dry:
            s.execute(
                update(TicketRow)
                .where(TicketRow.merged_into.in_(ids))
                .values(merged_into=None)
                .execution_options(synchronize_session=False)
            )
        counts["tickets"] += _count_or_delete(s, TicketRow, TicketRow.id.in_(ids), dry)
    return (ids[-1] if ids else None), counts
