"""The call record: everything that happened to one call, for the ticket store.

The engine appends an event for each node entered, each key pressed, each timeout and invalid
entry, each prompt played, the hand-off (queue, transfer, message) and the hangup point. Times
are wall-clock (UTC) plus seconds since the call started, so a record reads on its own.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field, fields
from typing import Any

_now = dt.datetime.now
_UTC = dt.UTC
_monotonic = time.monotonic


def utcnow() -> dt.datetime:
    return _now(_UTC)


#: China keeps one offset all year (no daylight saving): the day a recording is filed under.
BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")


def recording_name(kind: str, uniqueid: str) -> str:
    """Where a call's ``kind`` of recording goes (``calls``: the operator conversation,
    ``messages``: a voice message), relative to the recordings root and without its
    extension: ``calls/20261203/1764740000.12``. Records store this relative path, so that
    an Asterisk mounting the recordings elsewhere and a restored backup still find the file;
    the day folder is the Beijing date whatever the host's clock says."""
    return f"{kind}/{_now(BEIJING).strftime('%Y%m%d')}/{uniqueid}"


@dataclass(frozen=True, slots=True)
class CallEvent:
    at: dt.datetime
    offset: float  # seconds since the call started
    kind: str  # enter, prompt, digit, timeout, invalid, operator, emergency, queue, transfer,
    # dial, message, lookup, hours, variable, hangup, end, error
    node: str | None = None
    detail: str = ""


#: The outcome of a call whose Asterisk box went away under it (:class:`ivr.errors.PBXLost`):
#: not the caller's doing, unlike ``abandoned`` or ``hangup``; distinct from ``server-lost``
#: (the hotline server died, :mod:`ivr.records.attempts`).
PBX_LOST = "pbx-lost"


@dataclass
class CallRecord:
    uniqueid: str
    caller: str
    caller_name: str
    dialled: str  # the dialled number, normalized
    channel: str
    config_version: str
    line_number: str | None = None  # the legacy line, None for 12345 itself
    line_name: str | None = None
    line_mode: str | None = None
    department: str | None = None
    accessible: bool = False
    started_at: dt.datetime = field(default_factory=utcnow)
    ended_at: dt.datetime | None = None
    events: list[CallEvent] = field(default_factory=list)
    outcome: str = "in_progress"  # queue, transfer, emergency, hangup, error
    outcome_detail: str = ""
    skill: str | None = None
    priority: int | None = None
    queue_position: int | None = None
    hangup_node: str | None = None
    # voice messages and the operator conversation (MixMonitor), relative to the recordings
    # root (recording_name)
    messages: list[str] = field(default_factory=list)
    recording: str | None = None
    # Each AGI session of one call (uniqueid) is an attempt, numbered from 1 (a re-entry after
    # a server failure is the next one); the database merges a call's attempts in order.
    attempt: int = 1
    server: str = ""  # the hotline server that served this attempt
    hangup_by: str | None = None  # caller, agent, transfer, or None when not known
    # What the queue said, kept as it happens so that the call's row needs no read-back of
    # queue_log: the operator who answered, the whole seconds waited (as queue_log's CONNECT
    # has them), and how the caller left the queue (only "connect" is set today; None: not
    # connected, or not known, e.g. Redis was away at the CONNECT)
    agent: str | None = None
    queue_wait: float | None = None
    queue_exit: str | None = None
    _t0: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        # each event's time as ISO text, made once (the costly part of turning an event into
        # data): a record is turned into data five times a call (four registry snapshots and
        # the store), each time with all its events so far. Beside it the events it was made
        # for, to tell an edited list. Not fields: not compared, printed or in asdict.
        self._iso_for: list[CallEvent] = []
        self._iso: list[str] = []

    def add(self, kind: str, node: str | None = None, detail: str = "") -> None:
        offset = round(_monotonic() - self._t0, 3)
        self.events.append(CallEvent(_now(_UTC), offset, kind, node, detail))

    @property
    def path(self) -> list[str]:
        """The nodes entered, in order."""
        return [e.node for e in self.events if e.kind == "enter" and e.node is not None]

    @property
    def digits(self) -> str:
        return "".join(e.detail for e in self.events if e.kind == "digit")

    def finish(self, outcome: str, detail: str = "") -> None:
        self.outcome = outcome
        self.outcome_detail = detail
        self.ended_at = utcnow()
        self.add("end", None, f"{outcome} {detail}".strip())

    def to_dict(self) -> dict[str, Any]:
        """The record as plain data (JSON-ready: times as ISO text), with ``path`` and
        ``digits``. Built field by field: it runs on every call's path (live-call snapshots
        and the store), where ``dataclasses.asdict``'s deep copy cost several times more."""
        data: dict[str, Any] = {name: getattr(self, name) for name in _PLAIN}
        data["started_at"] = self.started_at.isoformat()
        data["ended_at"] = self.ended_at.isoformat() if self.ended_at else None
        data["events"] = [
            {"at": at, "offset": e.offset, "kind": e.kind, "node": e.node, "detail": e.detail}
            for e, at in zip(self.events, self._event_times(), strict=True)
        ]
        data["messages"] = list(self.messages)
        data["path"] = self.path
        data["digits"] = self.digits
        return data

    def _event_times(self) -> list[str]:
        """The events' times as ISO text, those made before reused (events are frozen; a
        list edited other than by appending is read again)."""
        made, iso, events = self._iso_for, self._iso, self.events
        if len(made) > len(events) or any(
            m is not e for m, e in zip(made, events[: len(made)], strict=True)
        ):
            made.clear()
            iso.clear()
        for e in events[len(made) :]:
            made.append(e)
            iso.append(e.at.isoformat())
        return iso


# the fields copied as they are (the others are converted by to_dict)
_PLAIN = tuple(
    f.name
    for f in fields(CallRecord)
    if f.name not in ("_t0", "started_at", "ended_at", "events", "messages")
)
