"""The call-record store's entries (a call's attempt, a queue event, a survey score, a
reserved ticket number) as dicts, the same in a batch and in the journal, and how a batch of
them is written to the database in one transaction (:func:`write_entries`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, exists, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from ivr.db.sqlutil import insert_ignore
from ivr.db.tables import (
    CallbackTaskRow,
    CallRow,
    QueueLogRow,
    TicketReservationRow,
    TicketRow,
)
from ivr.engine.record import CallRecord
from ivr.records.attempts import ANSWERED
from ivr.records.callrows import ANONYMOUS, MISSED_OUTCOMES, write_calls
from ivr.records.tasks import callbacks_gave_up, close_called_back
from queueing.events import QueueEvent

log = logging.getLogger(__name__)

CALL = "call"
QUEUE = "queue"
SURVEY = "survey"
RESERVE = "reserve"
BATCH = 500
# The order in which a batch's kinds are written: a number reserved for a call, what the queue
# logged, the calls, then surveys (which update a call's row). Either of a call's row and its
# queue events fills the other when it arrives second, so the order between them is free;
# sorting makes each kind one group of statements, whatever the interleaving of live calls.
KIND_ORDER = {RESERVE: 0, QUEUE: 1, CALL: 2, SURVEY: 3}

# Where each queue_log event keeps the seconds waited (1-based dataN), as app_queue writes it.
WAIT_FIELD = {"CONNECT": 1, "ABANDON": 3, "EXITWITHTIMEOUT": 3, "EXITWITHKEY": 4, "PBXLOST": 3}


def is_unavailable(exc: BaseException) -> bool:
    """The database is away (connection refused or lost, locked, disk trouble)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _parse_time(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def call_entry(record: CallRecord) -> dict[str, Any]:
    return {"kind": CALL, "data": record.to_dict()}


def queue_entry(event: QueueEvent) -> dict[str, Any]:
    return {
        "kind": QUEUE,
        "data": {
            "at": event.at.isoformat(),
            "callid": event.callid,
            "queue": event.queue,
            "agent": event.agent,
            "event": event.event,
            "data": list(event.data),
        },
    }


def queue_row(data: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    at = _parse_time(data["at"])
    assert at is not None
    fields = [str(x) for x in data.get("data") or []][:5]
    fields += [""] * (5 - len(fields))
    key_text = "|".join(
        [at.isoformat(), data["callid"], data["queue"], data["agent"], data["event"], *fields]
    )
    index = WAIT_FIELD.get(data["event"])
    return {
        "key": hashlib.sha1(key_text.encode()).hexdigest(),
        "at": at,
        "day": at.astimezone(tz).date(),
        "callid": data["callid"],
        "queue": data["queue"],
        "agent": data["agent"],
        "event": data["event"],
        "data1": fields[0],
        "data2": fields[1],
        "data3": fields[2],
        "data4": fields[3],
        "data5": fields[4],
        "wait": _float(fields[index - 1]) if index else None,
    }


def _fill_statement() -> Any:
    """Agent and queue wait of answered calls (``ids``), from their first CONNECT: built
    once, on the tables (no ORM step), as are the queries of :mod:`ivr.records.callrows`."""
    calls: Table = CallRow.__table__  # type: ignore[assignment]
    c, q = calls.c, QueueLogRow.__table__.c
    connect = (q.callid == c.uniqueid) & (q.event == "CONNECT")
    return (
        update(calls)
        .where(
            c.uniqueid.in_(bindparam("ids", expanding=True)),
            c.agent.is_(None),
            exists().where(connect),
        )
        .values(
            agent=select(q.agent).where(connect).order_by(q.at).limit(1).scalar_subquery(),
            queue_wait=select(q.wait).where(connect).order_by(q.at).limit(1).scalar_subquery(),
        )
    )


_FILL = _fill_statement()


def _fill_from_queue(session: Session, uniqueids: Sequence[str]) -> None:
    """Agent and queue wait of answered calls, from their CONNECT event."""
    session.execute(_FILL, {"ids": list(uniqueids)})


def _missed_tasks(session: Session, uniqueids: Sequence[str]) -> None:
    """Missed-call callback tasks (漏接回拨) for calls that left the queue unanswered."""
    c, q = CallRow, QueueLogRow
    left = exists().where(
        q.callid == c.uniqueid, q.event.in_(["ABANDON", "EXITWITHTIMEOUT", "PBXLOST"])
    )
    answered = exists().where(q.callid == c.uniqueid, q.event == "CONNECT")
    rows = session.execute(
        select(c.uniqueid, c.caller, c.ended_at, c.started_at).where(
            c.uniqueid.in_(uniqueids),
            c.caller.notin_(ANONYMOUS),
            (c.outcome.in_(MISSED_OUTCOMES) | left),
            c.outcome != ANSWERED,
            ~answered,
        )
    ).all()
    insert_ignore(
        session,
        CallbackTaskRow.__table__,  # type: ignore[arg-type]
        [
            {
                "kind": "missed",
                "ref": uid,
                "ticket_id": None,
                "call_uniqueid": uid,
                "caller": caller,
                "created_at": ended or started,
                "state": "open",
                "attempts": 0,
                "result": "",
            }
            for uid, caller, ended, started in rows
        ],
        ["kind", "ref"],
    )


def _dialler_gave_up(row: dict[str, Any]) -> bool:
    """ABANDON|position|origposition|wait|callback: the dialler's last attempt failed."""
    return bool(row["event"] == "ABANDON" and row["data4"] == "callback")


def _survey_statements() -> tuple[Any, Any]:
    """The survey score ``score`` onto the call ``uid`` and onto its ticket: built once, on
    the tables (no ORM step)."""
    calls: Table = CallRow.__table__  # type: ignore[assignment]
    tickets: Table = TicketRow.__table__  # type: ignore[assignment]
    score: Any = bindparam("score")
    return (
        update(calls).where(calls.c.uniqueid == bindparam("uid")).values(survey_score=score),
        update(tickets)
        .where(tickets.c.call_uniqueid == bindparam("uid"))
        .values(survey_score=score),
    )


_SURVEY_CALL, _SURVEY_TICKET = _survey_statements()


def _apply_survey(session: Session, uniqueid: str, score: int) -> None:
    session.execute(_SURVEY_CALL, {"uid": uniqueid, "score": score})
    session.execute(_SURVEY_TICKET, {"uid": uniqueid, "score": score})


def write_entries(session: Session, entries: Sequence[dict[str, Any]], tz: ZoneInfo) -> None:
    """Write journal-format entries, idempotently: the entries of each kind as one batch,
    the kinds in :data:`KIND_ORDER` (within a kind, in the order given)."""
    entries = sorted(entries, key=lambda e: KIND_ORDER.get(str(e.get("kind")), len(KIND_ORDER)))
    i = 0
    while i < len(entries):
        kind = entries[i].get("kind")
        j = i
        while j < len(entries) and entries[j].get("kind") == kind:
            j += 1
        group = [e["data"] for e in entries[i:j]]
        if kind == CALL:
            write_calls(session, [(e["data"], bool(e.get("synthetic"))) for e in entries[i:j]], tz)
        elif kind == QUEUE:
            rows = [queue_row(d, tz) for d in group]
            insert_ignore(session, QueueLogRow.__table__, rows, ["key"])  # type: ignore[arg-type]
            calls = sorted({r["callid"] for r in rows if r["callid"] != "NONE"})
            if any(r["event"] == "CONNECT" for r in rows):
                _fill_from_queue(session, calls)
                close_called_back(session, calls)  # a promised callback got through
            if any(r["event"] in ("ABANDON", "EXITWITHTIMEOUT") for r in rows):
                _missed_tasks(session, calls)
                gave_up = [r["callid"] for r in rows if _dialler_gave_up(r)]
                if gave_up:
                    callbacks_gave_up(session, gave_up)
        elif kind == SURVEY:
            for d in group:
                _apply_survey(session, d["uniqueid"], int(d["score"]))
        elif kind == RESERVE:
            rows = [
                {
                    "call_uniqueid": d["uniqueid"],
                    "number": d["number"],
                    "reserved_at": _parse_time(d["at"]),
                }
                for d in group
            ]
            table = TicketReservationRow.__table__
            insert_ignore(session, table, rows, ["call_uniqueid"], count=False)  # type: ignore[arg-type]
        else:
            log.error("unknown journal entry kind %r: skipped", kind)
        i = j
