"""The tasks a call leaves for the operators (``callback_tasks``), from its record.

Every promise made to a caller ends up on the list the operators work from (``hotline
callbacks list``):

- **留言** (``message``): every voice message, from the menu's message node or from the queue
  (an overflow, a callback that could not be registered, a caller with no number to call
  back), with its recording (relative to the recordings root) and the caller's number. One
  task per recording: ``ref`` is the call's uniqueid (:func:`message_ref` for another file);
- **漏接回拨** (``missed``) of a **promised callback**: the caller asked to be called back (or
  an overflow registered it). The dialler calls back at the caller's place; when it reaches
  the citizen (CONNECT of that call) the task is done by itself; when it gives up after its
  attempts (ABANDON ``callback``) the task stays open for a person, with a note saying so.
  A second request of the same number merged into the pending callback adds no task;
- **漏接回拨** of a caller who left the queue unanswered: :mod:`ivr.records.callrows` and
  :mod:`ivr.records.store` (unchanged).

The tasks are written where call records are filed (:func:`ivr.records.callrows.write_calls`),
so the server, the process-AGI journal import and a journal replay all make them; ``(kind,
ref)`` is unique, so a record imported again adds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from ivr.db.tables import CallbackTaskRow, QueueLogRow

MESSAGE = "message"
MISSED = "missed"
NOTE_PROMISED = "已登记回电：系统按排队顺序自动回拨"
NOTE_GAVE_UP = "已登记回电：自动回拨未接通，请人工回拨"
NOTE_MESSAGE = "语音留言：请听录音后处理"
CHUNK = 1000


def task_row(
    kind: str,
    ref: str,
    uniqueid: str,
    caller: str,
    created_at: dt.datetime,
    *,
    recording: str | None = None,
    note: str = "",
    state: str = "open",
    done_at: dt.datetime | None = None,
    result: str = "",
) -> dict[str, Any]:
    """A ``callback_tasks`` row (every row of one insert has the same keys)."""
    return {
        "kind": kind,
        "ref": ref,
        "ticket_id": None,
        "call_uniqueid": uniqueid,
        "caller": caller,
        "created_at": created_at,
        "state": state,
        "attempts": 1 if state == "done" else 0,
        "done_at": done_at,
        "result": result,
        "recording": recording,
        "note": note,
    }


def message_ref(uniqueid: str, path: str) -> str:
    """The task of one recording: the call's uniqueid for its usual file
    (``messages/DAY/UID.wav``), ``UID/<hash of the path>`` for any other, so that the same
    file always has the same task, in whatever order a call's attempts are filed."""
    if PurePosixPath(path).stem == uniqueid:
        return uniqueid
    return f"{uniqueid}/{hashlib.sha1(path.encode()).hexdigest()[:10]}"


def message_tasks(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A 留言 task for each voice message of a call (whatever number it came from: the
    message may say how to reach the caller)."""
    uid = row["uniqueid"]
    when = row["ended_at"] or row["started_at"]
    paths = dict.fromkeys(str(p) for p in row.get("messages") or [] if p)
    return [
        task_row(
            MESSAGE,
            message_ref(uid, path),
            uid,
            row["caller"],
            when,
            recording=path[:255],
            note=NOTE_MESSAGE,
        )
        for path in paths
    ]


def promised_callback(row: dict[str, Any]) -> bool:
    """The call ended with a callback registered for it (not merged into an earlier one)."""
    if row.get("outcome") != "callback":
        return False
    return not any(
        e.get("kind") == "callback" and "merged into" in str(e.get("detail", ""))
        for e in row.get("events") or []
    )


def callback_task(
    row: dict[str, Any], connect: tuple[dt.datetime, str, float | None] | None
) -> dict[str, Any]:
    """The 漏接回拨 task of a promised callback; done already when the dialler's call was
    answered (its CONNECT arrived before the record)."""
    uid = row["uniqueid"]
    when = row["ended_at"] or row["started_at"]
    if connect is None:
        return task_row(MISSED, uid, uid, row["caller"], when, note=NOTE_PROMISED)
    at, agent, _ = connect
    return task_row(
        MISSED,
        uid,
        uid,
        row["caller"],
        when,
        note=NOTE_PROMISED,
        state="done",
        done_at=at,
        result=f"回电已接通（坐席 {agent}）",
    )


def _open_promised() -> Any:
    """The open promised-callback tasks of the calls ``ids`` (the usual answer: none): built
    once, on the table (no ORM step)."""
    t = CallbackTaskRow.__table__.c
    return select(t.ref).where(
        t.kind == MISSED,
        t.ref.in_(bindparam("ids", expanding=True)),
        t.state == "open",
        t.note.in_([NOTE_PROMISED, NOTE_GAVE_UP]),
    )


_OPEN_PROMISED = _open_promised()


def close_called_back(session: Session, uniqueids: Sequence[str]) -> None:
    """Promised callbacks of these calls that the dialler got through (a CONNECT in the
    queue log): their open tasks are done."""
    q, t = QueueLogRow, CallbackTaskRow
    promised = [NOTE_PROMISED, NOTE_GAVE_UP]
    for i in range(0, len(uniqueids), CHUNK):
        part = list(uniqueids[i : i + CHUNK])
        open_ = list(session.scalars(_OPEN_PROMISED, {"ids": part}))
        if not open_:
            continue  # the usual case: answered calls, no callback promised
        connects: dict[str, tuple[dt.datetime, str]] = {}
        for callid, at, agent in session.execute(
            select(q.callid, q.at, q.agent).where(q.callid.in_(open_), q.event == "CONNECT")
        ):
            if callid not in connects or at < connects[callid][0]:
                connects[callid] = (at, agent)
        for uid, (at, agent) in connects.items():
            session.execute(
                update(t)
                .where(
                    t.kind == MISSED,
                    t.ref == uid,
                    t.state == "open",
                    t.note.in_(promised),
                )
                .values(
                    state="done",
                    done_at=at,
                    attempts=t.attempts + 1,
                    result=f"回电已接通（坐席 {agent}）",
                )
                .execution_options(synchronize_session=False)
            )


def callbacks_gave_up(session: Session, uniqueids: Sequence[str]) -> None:
    """The dialler gave up on these promised callbacks (ABANDON ``callback``): their tasks
    stay open for a person, saying so."""
    t = CallbackTaskRow
    for i in range(0, len(uniqueids), CHUNK):
        session.execute(
            update(t)
            .where(
                t.kind == MISSED,
                t.ref.in_(list(uniqueids[i : i + CHUNK])),
                t.state == "open",
                t.note == NOTE_PROMISED,
            )
            .values(note=NOTE_GAVE_UP)
            .execution_options(synchronize_session=False)
        )
