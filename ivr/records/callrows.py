"""Writing call records: every attempt into ``call_attempts``, their merge into
``call_records`` (:mod:`ivr.records.attempts`), and the missed-call tasks that follow the
merged outcome.

A batch of records (any number of calls and attempts) is one transaction with a bounded
number of statements, whatever its size (the id lists are cut into chunks of
:data:`CHUNK`): on PostgreSQL one statement takes a transaction-scoped advisory lock per call
(two servers writing attempts of one call wait for each other instead of merging without
each other's attempt; SQLite serializes writers anyway), one upsert writes the attempts, one
query lists the call's attempts (a second one reads the attempts this batch does not carry,
only for calls that have some), one reads what the queue logged, one upsert writes the merged
rows, then at most one insert and one delete for the tasks (:mod:`ivr.records.tasks`: voice
messages, promised callbacks, missed calls).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ivr.db.sqlutil import insert_ignore
from ivr.db.tables import CallAttemptRow, CallbackTaskRow, CallRow, QueueLogRow, TicketRow
from ivr.records.attempts import ANSWERED, LOST, PBX_LOST, Attempt, attempt_number, merge
from ivr.records.tasks import (
    MISSED,
    callback_task,
    close_called_back,
    message_tasks,
    promised_callback,
    task_row,
)

ANONYMOUS = ("", "anonymous", "unknown", "0")
#: Outcomes that call for a missed-call callback (漏接回拨): the caller hung up waiting, or its
#: Asterisk box went away under it (not its doing, and nobody served it). A ``server-lost``
#: caller who was waiting is one too (below); any call that left the queue unanswered too.
MISSED_OUTCOMES = ("abandoned", PBX_LOST)
CHUNK = 1000
# call_records columns the merge does not own: kept when the merge has no value for them
# (filled from queue_log, or from CallRecordStore.survey)
KEEP = ("agent", "queue_wait", "survey_score")

_STATEMENTS: dict[tuple[str, str], Any] = {}


def _parse_time(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def call_row(data: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    """A ``call_records`` row from a call's merged record (:func:`attempts.merge`; a single
    :meth:`CallRecord.to_dict` works too)."""
    started = _parse_time(data["started_at"])
    assert started is not None
    ended = _parse_time(data.get("ended_at"))
    events = data.get("events") or []
    survey = None
    for e in events:
        if e.get("kind") == "survey" and str(e.get("detail", "")).strip()[:1] in "12345":
            survey = int(str(e["detail"]).strip()[0])
    cause = data.get("hangup_cause")
    if cause is None:
        hangup = next((e for e in reversed(events) if e.get("kind") == "hangup"), None)
        cause = (hangup or {}).get("detail", "")
    return {
        "uniqueid": data["uniqueid"],
        "caller": data.get("caller") or "",
        "caller_name": data.get("caller_name") or "",
        "dialled": data.get("dialled") or "",
        "channel": data.get("channel") or "",
        "config_version": data.get("config_version") or "",
        "line_number": data.get("line_number"),
        "line_name": data.get("line_name"),
        "line_mode": data.get("line_mode"),
        "department": data.get("department"),
        "accessible": bool(data.get("accessible")),
        "started_at": started,
        "ended_at": ended,
        "day": started.astimezone(tz).date(),
        "duration": (ended - started).total_seconds() if ended else None,
        "outcome": data.get("outcome") or "",
        "outcome_detail": data.get("outcome_detail") or "",
        "hangup_cause": str(cause)[:80],
        "hangup_node": data.get("hangup_node"),
        "hangup_by": data.get("hangup_by"),
        "attempts": int(data.get("attempts") or 1),
        "skill": data.get("skill"),
        "priority": data.get("priority"),
        "queue_position": data.get("queue_position"),
        "queue_wait": data.get("queue_wait"),
        "agent": data.get("agent"),
        "recording": data.get("recording"),
        "survey_score": survey,
        "path": list(data.get("path") or []),
        "digits": (data.get("digits") or "")[:200],
        "messages": list(data.get("messages") or []),
        "events": events,
    }


def _insert(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"database {dialect} is not supported")  # pragma: no cover


def _statement(dialect: str, name: str) -> Any:
    """The two upserts, built once per dialect."""
    stmt = _STATEMENTS.get((dialect, name))
    if stmt is not None:
        return stmt
    if name == "attempts":
        table: Table = CallAttemptRow.__table__  # type: ignore[assignment]
        ins = _insert(dialect, table)
        # a real attempt replaces anything; a synthetic one only a synthetic one
        stmt = ins.on_conflict_do_update(
            index_elements=["uniqueid", "attempt"],
            set_={c: ins.excluded[c] for c in ("data", "synthetic", "written_at")},
            where=table.c.synthetic | ~ins.excluded.synthetic,
        )
    else:
        table = CallRow.__table__  # type: ignore[assignment]
        ins = _insert(dialect, table)
        updates = {
            c.name: ins.excluded[c.name] for c in table.columns if c.name not in ("id", "uniqueid")
        }
        for name_ in KEEP:
            updates[name_] = func.coalesce(ins.excluded[name_], table.c[name_])
        stmt = ins.on_conflict_do_update(index_elements=["uniqueid"], set_=updates)
    _STATEMENTS[(dialect, name)] = stmt
    return stmt


def _lock(session: Session, ids: Sequence[str]) -> None:
    """PostgreSQL: one transaction at a time merges a call (in uniqueid order: no deadlock)."""
    session.execute(
        text(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(u, 20251))) FROM "
            "(SELECT u FROM unnest(CAST(:ids AS text[])) WITH ORDINALITY AS t(u, n) "
            "ORDER BY n) AS s"
        ),
        {"ids": list(ids)},
    )


def _listed() -> Any:
    """The attempts stored of the calls ``ids``: built once, on the table (no ORM step)."""
    a = CallAttemptRow.__table__.c
    return select(a.uniqueid, a.attempt, a.synthetic).where(
        a.uniqueid.in_(bindparam("ids", expanding=True))
    )


_LISTED = _listed()


def _scored() -> Any:
    """The survey score of the calls ``ids`` onto their tickets that have none: built once,
    on the tables (no ORM step)."""
    tickets: Table = TicketRow.__table__  # type: ignore[assignment]
    k, c = tickets.c, CallRow.__table__.c
    score = select(c.survey_score).where(c.uniqueid == k.call_uniqueid).scalar_subquery()
    return (
        update(tickets)
        .where(k.call_uniqueid.in_(bindparam("ids", expanding=True)), k.survey_score.is_(None))
        .values(survey_score=score)
    )


_SCORED = _scored()


def _queued() -> Any:
    """What the queue logged of the calls ``ids`` that their rows take (the CONNECTs, how
    they left unanswered): built once, on the table (no ORM step)."""
    q = QueueLogRow.__table__.c
    return select(q.callid, q.event, q.at, q.agent, q.wait).where(
        q.callid.in_(bindparam("ids", expanding=True)),
        q.event.in_(["CONNECT", "ABANDON", "EXITWITHTIMEOUT", "PBXLOST"]),
    )


_QUEUED = _queued()


def _attempts(
    session: Session, batch: dict[tuple[str, int], tuple[dict[str, Any], bool]], ids: list[str]
) -> dict[str, list[Attempt]]:
    """Every attempt of the calls, as now stored: the batch's own from memory, the others
    read back (only for the calls that have others)."""
    a = CallAttemptRow
    stored: list[tuple[str, int, bool]] = []
    for part in _chunks(ids):
        stored += [(u, n, s) for u, n, s in session.execute(_LISTED, {"ids": list(part)})]
    calls: dict[str, list[Attempt]] = {uid: [] for uid in ids}
    others = set()
    for uid, number, synthetic in stored:
        mine = batch.get((uid, number))
        if mine is not None and (not mine[1] or synthetic):
            calls[uid].append(Attempt(number, mine[0], synthetic))
        else:
            others.add(uid)
    if others:
        for uid in others:
            calls[uid] = []
        for part in _chunks(sorted(others)):
            for uid, number, synthetic, data in session.execute(
                select(a.uniqueid, a.attempt, a.synthetic, a.data).where(a.uniqueid.in_(part))
            ):
                calls[uid].append(Attempt(number, data, synthetic))
    return calls


def write_calls(
    session: Session, entries: Sequence[tuple[dict[str, Any], bool]], tz: ZoneInfo
) -> None:
    """Attempts ``(CallRecord.to_dict(), synthetic)`` of any calls, in one transaction."""
    batch: dict[tuple[str, int], tuple[dict[str, Any], bool]] = {}
    for data, synthetic in entries:
        key = (str(data["uniqueid"]), attempt_number(data))
        if synthetic and key in batch and not batch[key][1]:
            continue  # never replaces a real record
        batch[key] = (data, synthetic)
    ids = sorted({uid for uid, _ in batch})
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        _lock(session, ids)
    now = dt.datetime.now(dt.UTC)
    session.execute(
        _statement(dialect, "attempts"),
        [
            {"uniqueid": uid, "attempt": n, "data": d, "synthetic": s, "written_at": now}
            for (uid, n), (d, s) in batch.items()
        ],
    )
    calls = _attempts(session, batch, ids)
    # A call whose only attempts are snapshots of broken sessions (written by the server that
    # took the call over, while it still serves it) gets no call_records row yet: the row is
    # the call's record, written once a session ends it or a server closes it as lost.
    rows, known = [], set()
    for uid in ids:
        if _has_end(calls[uid]):
            merged = merge(calls[uid])
            rows.append(call_row(merged, tz))
            if _knows_its_queue(merged):
                known.add(uid)
    if rows:
        _with_queue(session, rows, known)


def _knows_its_queue(merged: dict[str, Any]) -> bool:
    """Whether the call's record holds all that queue_log would tell its row: it never
    queued, or its one attempt was answered by an operator and kept the agent and wait
    (:attr:`CallRecord.queue_exit`). A promised callback, an unanswered caller or several
    attempts read what the queue logged instead."""
    if int(merged.get("attempts") or 1) != 1:
        return False
    if merged.get("skill") is None and merged.get("queue_exit") is None:
        return True
    return (
        merged.get("queue_exit") == "connect"
        and merged.get("outcome") == ANSWERED
        and merged.get("agent") is not None
        and merged.get("queue_wait") is not None
    )


def _has_end(attempts: Sequence[Attempt]) -> bool:
    """A real attempt (a session that wrote its own record), or the marker with which a
    server closed a lost call."""
    return any(
        not a.synthetic or any(e.get("kind") == "lost" for e in a.data.get("events") or [])
        for a in attempts
    )


def _with_queue(session: Session, rows: list[dict[str, Any]], known: set[str]) -> None:
    """The merged rows, with what the queue already logged about them (the agent and wait
    of the first CONNECT; not read for the ``known`` calls, whose records hold it), and the
    missed-call tasks (漏接回拨) that follow the merged outcome: one for a caller who left
    the queue (or hung up, or was lost while waiting) unanswered; none for an answered call
    (an open one an earlier attempt left is removed)."""
    ids = [r["uniqueid"] for r in rows if r["uniqueid"] not in known]
    connects: dict[str, tuple[dt.datetime, str, float | None]] = {}
    left: set[str] = set()
    for part in _chunks(ids):
        for callid, event, at, agent, wait in session.execute(_QUEUED, {"ids": list(part)}):
            if event != "CONNECT":
                left.add(callid)
            elif callid not in connects or at < connects[callid][0]:
                connects[callid] = (at, agent, wait)
    tasks: list[dict[str, Any]] = []
    served, called_back = [], []
    for row in rows:
        uid = row["uniqueid"]
        tasks += message_tasks(row)  # every voice message, answered call or not
        if uid in connects:
            _, agent, wait = connects[uid]
            row["agent"] = agent
            row["queue_wait"] = wait if wait is not None else row["queue_wait"]
        if promised_callback(row):
            if row["caller"] not in ANONYMOUS:
                tasks.append(callback_task(row, connects.get(uid)))
                if uid in connects:
                    called_back.append(uid)
            continue
        if row["outcome"] == ANSWERED or uid in connects:
            if row["attempts"] > 1:
                served.append(uid)
            continue
        lost_waiting = row["outcome"] == LOST and row["skill"] is not None
        missed = row["outcome"] in MISSED_OUTCOMES or uid in left or lost_waiting
        if missed and row["caller"] not in ANONYMOUS:
            when = row["ended_at"] or row["started_at"]
            tasks.append(task_row(MISSED, uid, uid, row["caller"], when))
    dialect = session.get_bind().dialect.name
    session.execute(_statement(dialect, "calls"), rows)
    insert_ignore(session, CallbackTaskRow.__table__, tasks, ["kind", "ref"], count=False)  # type: ignore[arg-type]
    if called_back:  # a task an earlier import left open: done now
        close_called_back(session, called_back)
    t = CallbackTaskRow
    for part in _chunks(served):
        session.execute(delete(t).where(t.kind == "missed", t.state == "open", t.ref.in_(part)))
    # a survey in a record that arrives after its ticket was accepted (the process script's
    # journal, a replay) reaches the ticket too; a score already on the ticket stands
    scored = [r["uniqueid"] for r in rows if r["survey_score"] is not None]
    for part in _chunks(scored):
        session.execute(_SCORED, {"ids": list(part)})
