"""One call, several attempts: the merge that makes a call's ``call_records`` row.

Each AGI session of a call (one ``uniqueid``) is an *attempt*, numbered from 1 (a re-entry
after a server restart, a Redis restart or a graceful hand-back is the next number). Every
attempt is kept as it was recorded in ``call_attempts``; the ``call_records`` row is the merge
of all attempts of the call, recomputed whenever one arrives, whatever order they arrive in
(so a late write of an earlier attempt never overwrites a later one). A *synthetic* attempt is
one another server wrote for a call whose server died: to close a call that did not come back
(:func:`lost_entries`), or, when it did come back, the attempt the dead server never recorded,
from its last snapshot in the live-call registry (:func:`snapshot_entry`). A real record of
the same attempt number replaces it, never the reverse.

The merge rules, attempts taken in attempt order:

- ``events``, ``path``, ``digits`` and ``messages`` are concatenated; each event keeps its
  attempt number (``attempt``);
- ``started_at`` is the first attempt's, ``ended_at`` the last one's (the latest known when
  the last is still running);
- the outcome (and its detail): ``answered`` if any attempt was answered (the first answered
  one: its agent, queue wait and recording); else the last outcome that is not ``error``,
  ``in_progress``, ``handed-back`` or ``server-lost`` (nor ``queue`` in a synthetic attempt:
  that caller was still waiting when its server died); else ``server-lost`` if a synthetic
  attempt says so; else the last attempt's;
- ``skill``, ``priority`` and ``queue_position``: each from the last attempt that has one;
- the survey: from whichever attempt has it (the last one if several do; a score given
  through ``CallRecordStore.survey`` stays when no attempt carries one);
- the hang-up cause, hang-up node and who hung up (``hangup_by``): from the last attempt;
- the recording: the answered attempt's, else the last one recorded;
- caller, caller name, dialled number, channel, line, department, accessibility and config
  version: from the first attempt;
- ``attempts``: the number of attempts (synthetic ones included).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ivr.engine.record import PBX_LOST as PBX_LOST

ANSWERED = "answered"
#: A synthetic attempt closing a call whose hotline server died. Not to be confused with
#: ``pbx-lost`` (:data:`PBX_LOST`): the call's Asterisk box died; a real, final outcome.
LOST = "server-lost"
#: Outcomes that say how an attempt ended, not how the call did.
NOT_FINAL = frozenset({"error", "in_progress", "handed-back", LOST})
#: Outcomes of a call that is not yet over (a ``done`` lost call with one was answered).
UNSERVED = NOT_FINAL | {"queue"}

FIRST = (
    "uniqueid",
    "caller",
    "caller_name",
    "dialled",
    "channel",
    "config_version",
    "line_number",
    "line_name",
    "line_mode",
    "department",
    "accessible",
    "started_at",
)


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    data: dict[str, Any]  # CallRecord.to_dict() of the attempt
    synthetic: bool = False


def attempt_number(data: dict[str, Any]) -> int:
    """The attempt a record is (1 for records written before attempts were numbered)."""
    try:
        return max(1, int(data.get("attempt") or 1))
    except (TypeError, ValueError):
        return 1


def _path(data: dict[str, Any]) -> list[str]:
    path = data.get("path")
    if path is None:
        path = [e["node"] for e in data.get("events") or [] if e.get("kind") == "enter"]
    return [str(p) for p in path if p is not None]


def _digits(data: dict[str, Any]) -> str:
    digits = data.get("digits")
    if digits is None:
        digits = "".join(e.get("detail", "") for e in data.get("events") or []
                         if e.get("kind") == "digit")  # fmt: skip
    return str(digits)


def _last(attempts: Sequence[Attempt], key: str) -> Any:
    return next((a.data[key] for a in reversed(attempts) if a.data.get(key) is not None), None)


def merge(attempts: Sequence[Attempt]) -> dict[str, Any]:
    """The call as one record (``CallRecord.to_dict`` shape, plus ``attempts``, ``agent``
    and ``hangup_cause``) from its attempts, in any order."""
    ordered = sorted(attempts, key=lambda a: a.number)
    if not ordered:
        raise ValueError("a call has at least one attempt")
    first, last = ordered[0].data, ordered[-1].data
    if len(ordered) == 1:
        merged = dict(first)
        merged["events"] = [{**e, "attempt": ordered[0].number} for e in first.get("events") or []]
    else:
        merged = {key: first.get(key) for key in FIRST}
        merged["events"] = [
            {**e, "attempt": a.number} for a in ordered for e in a.data.get("events") or []
        ]
        merged["path"] = [node for a in ordered for node in _path(a.data)]
        merged["digits"] = "".join(_digits(a.data) for a in ordered)
        merged["messages"] = [m for a in ordered for m in a.data.get("messages") or []]
        merged["ended_at"] = last.get("ended_at") or _latest(ordered)
        for key in ("skill", "priority", "queue_position"):
            merged[key] = _last(ordered, key)
        for key in ("hangup_node", "hangup_by", "server"):
            merged[key] = last.get(key)
    source = _outcome_source(ordered)
    merged["outcome"] = source.data.get("outcome") or ""
    merged["outcome_detail"] = source.data.get("outcome_detail") or ""
    answered = merged["outcome"] == ANSWERED
    merged["recording"] = (source.data.get("recording") if answered else None) or _last(
        ordered, "recording"
    )
    merged["agent"] = (
        (source.data.get("agent") or merged["outcome_detail"] or None) if answered else None
    )
    merged["queue_wait"] = source.data.get("queue_wait") if answered else None
    hangup = next(
        (e for e in reversed(last.get("events") or []) if e.get("kind") == "hangup"), None
    )
    merged["hangup_cause"] = str((hangup or {}).get("detail") or "")
    merged["attempts"] = len(ordered)
    merged.pop("attempt", None)
    return merged


def _latest(ordered: Sequence[Attempt]) -> Any:
    ends = [a.data["ended_at"] for a in ordered if a.data.get("ended_at")]
    return max(ends, key=lambda s: dt.datetime.fromisoformat(str(s))) if ends else None


def _outcome_source(ordered: Sequence[Attempt]) -> Attempt:
    answered = [a for a in ordered if a.data.get("outcome") == ANSWERED]
    if answered:
        return answered[0]
    final = [
        a for a in ordered if a.data.get("outcome") not in (UNSERVED if a.synthetic else NOT_FINAL)
    ]
    if final:
        return final[-1]
    lost = [a for a in ordered if a.synthetic and a.data.get("outcome") == LOST]
    return lost[-1] if lost else ordered[-1]


# ------------------------------------------------------------------------- lost calls


def _snapshot(text: str) -> dict[str, Any]:
    """A snapshot of the live-call registry (``CallRecord.to_dict`` as JSON); {} if unusable."""
    try:
        snap = json.loads(text) if text else {}
    except ValueError:
        return {}
    return snap if isinstance(snap, dict) else {}


def _snapshot_entry(uniqueid: str, attempt: int, snap: dict[str, Any]) -> dict[str, Any] | None:
    if not snap.get("started_at"):
        return None
    data = {**snap, "uniqueid": uniqueid, "attempt": attempt}
    return {"kind": "call", "data": data, "synthetic": True}


def snapshot_entry(uniqueid: str, attempt: int, snapshot: str) -> dict[str, Any] | None:
    """The synthetic attempt ``attempt`` of a call from the snapshot its server last stored
    in the live-call registry (journal entry, kind ``call``), for an attempt whose server
    died before it wrote the record (a real record of it replaces this one, never the
    reverse); None when the snapshot says nothing usable."""
    return _snapshot_entry(uniqueid, attempt, _snapshot(snapshot))


def lost_entries(
    uniqueid: str, server: str, attempt: int, done: bool, snapshot: str, now: dt.datetime
) -> list[dict[str, Any]]:
    """The synthetic attempts that close a call whose server died (journal entries, kind
    ``call``): the snapshot the server last stored, as attempt ``attempt`` (unless that
    attempt's real record is already there), and attempt ``attempt + 1`` that ends the call
    now: ``server-lost``, or - when the call was ``done`` (an operator answered it) - the
    snapshot's outcome (``answered`` when the snapshot had not got that far)."""
    snap = _snapshot(snapshot)
    at = now.isoformat()
    entries: list[dict[str, Any]] = []
    earlier = _snapshot_entry(uniqueid, attempt, snap)
    if earlier is not None:
        entries.append(earlier)
    outcome, detail = LOST, f"server {server or '?'} stopped serving the call"
    if done:
        outcome = snap.get("outcome") or ANSWERED
        if outcome in UNSERVED:
            outcome = ANSWERED
        detail = (snap.get("outcome_detail") or "") if outcome == snap.get("outcome") else ""
    path = _path(snap)
    node = snap.get("hangup_node") or (path[-1] if path else None)
    marker = {key: snap.get(key) for key in FIRST}
    marker.update(
        uniqueid=uniqueid,
        caller=snap.get("caller") or "",
        caller_name=snap.get("caller_name") or "",
        dialled=snap.get("dialled") or "",
        channel=snap.get("channel") or "",
        config_version=snap.get("config_version") or "",
        accessible=bool(snap.get("accessible")),
        started_at=at,
        ended_at=at,
        events=[{"at": at, "offset": 0.0, "kind": "lost", "node": node, "detail": detail}],
        outcome=outcome,
        outcome_detail=detail,
        skill=None,
        priority=None,
        queue_position=None,
        hangup_node=node,
        messages=[],
        recording=None,
        attempt=attempt + 1,
        server=server,
        hangup_by=None,
        path=[],
        digits="",
    )
    entries.append({"kind": "call", "data": marker, "synthetic": True})
    return entries
