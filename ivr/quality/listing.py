"""The recorded calls a supervisor may score: answered calls with a recording, newest first,
the ones nobody has checked yet before the others; by operator and by the call's local day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ivr.db.database import Database
from ivr.db.quality_tables import QualityCheckRow
from ivr.db.tables import CallRow
from ivr.quality.errors import FilterInvalid
from ivr.quality.scoring import ANSWERED, Check, read_checks

MAX_LIMIT = 200


@dataclass(frozen=True)
class RecordedCallFilter:
    """Which calls: an operator's (agent id), local days ``day_from`` .. ``day_to``
    (inclusive), ``unchecked`` only, at most ``limit``."""

    agent: str | None = None
    day_from: dt.date | None = None
    day_to: dt.date | None = None
    unchecked: bool = False
    limit: int = 50

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise FilterInvalid(f"limit: give a number from 1 to {MAX_LIMIT}")
        if self.agent is not None and not 0 < len(self.agent) <= 40:
            raise FilterInvalid("agent: an agent id of 1 to 40 characters")
        if self.day_from and self.day_to and self.day_to < self.day_from:
            raise FilterInvalid(f"the days end ({self.day_to}) before they start ({self.day_from})")


def parse_day(text: str | None, what: str) -> dt.date | None:
    """``YYYY-MM-DD`` (None or empty: no bound); :class:`FilterInvalid` otherwise."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise FilterInvalid(f"{what}: write the day as YYYY-MM-DD, not {text[:20]!r}") from None


@dataclass(frozen=True)
class CallToCheck:
    uniqueid: str
    started_at: dt.datetime
    day: dt.date
    agent: str
    duration: float | None
    line_name: str | None
    skill: str | None
    checks: tuple[Check, ...]


def _calls(s: Session, f: RecordedCallFilter) -> list[CallToCheck]:
    c, q = CallRow, QualityCheckRow
    checked = exists().where(q.call_uniqueid == c.uniqueid)
    query = select(c).where(
        c.outcome == ANSWERED, c.agent.is_not(None), c.recording.is_not(None), c.recording != ""
    )
    if f.agent:
        query = query.where(c.agent == f.agent)
    if f.day_from:
        query = query.where(c.day >= f.day_from)
    if f.day_to:
        query = query.where(c.day <= f.day_to)
    # unchecked only, or the ones nobody checked yet first
    query = query.where(~checked) if f.unchecked else query.order_by(checked)
    rows = s.scalars(query.order_by(c.started_at.desc(), c.id.desc()).limit(f.limit)).all()
    found = read_checks(s, [r.uniqueid for r in rows])
    return [
        CallToCheck(
            uniqueid=r.uniqueid,
            started_at=r.started_at,
            day=r.day,
            agent=r.agent or "",
            duration=r.duration,
            line_name=r.line_name,
            skill=r.skill,
            checks=tuple(found.get(r.uniqueid, [])),
        )
        for r in rows
    ]


def calls_to_check(db: Database, f: RecordedCallFilter) -> list[CallToCheck]:
    with db.session() as s:
        return _calls(s, f)
