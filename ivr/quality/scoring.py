"""Scoring a recorded call on the form: the points checked against the form (every item, each
0..max), one check per call and reviewer (a re-score replaces the reviewer's earlier one),
every save audited (``quality.score``, before and after) in its own transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ivr.accounts import Principal
from ivr.accounts.audit import write_audit
from ivr.config.quality import QualityForm
from ivr.db.database import Database
from ivr.db.quality_tables import QualityCheckRow, QualityScoreRow
from ivr.db.tables import CallRow
from ivr.quality.errors import CallNotFound, ScoreInvalid

MAX_COMMENT = 1000
ANSWERED = "answered"  # call_records.outcome of a call an operator took
AUDIT_ACTION = "quality.score"


@dataclass(frozen=True)
class ItemScore:
    item: str
    name: str
    points: int
    max: int


@dataclass(frozen=True)
class Check:
    """One reviewer's score of one call."""

    uniqueid: str
    agent: str
    call_day: dt.date
    reviewer: str
    scored_at: dt.datetime
    total: int
    max_total: int
    passed: bool | None
    comment: str
    scores: tuple[ItemScore, ...]

    def audited(self) -> dict[str, object]:
        """What the audit log keeps of a check."""
        return {
            "agent": self.agent,
            "total": self.total,
            "max_total": self.max_total,
            "passed": self.passed,
            "comment": self.comment,
            "scores": {s.item: s.points for s in self.scores},
        }


def validate_scores(form: QualityForm, scores: Mapping[str, object], comment: str) -> None:
    """Raise :class:`ScoreInvalid` unless ``scores`` gives every item of ``form`` whole
    points from 0 to its max, and nothing else."""
    unknown = sorted(set(scores) - {i.code for i in form.items})
    if unknown:
        raise ScoreInvalid(f"no item {', '.join(unknown)} on the form: score only its items")
    for item in form.items:
        if item.code not in scores:
            raise ScoreInvalid(f"{item.name} ({item.code}) is not scored: score every item")
        points = scores[item.code]
        if isinstance(points, bool) or not isinstance(points, int):
            raise ScoreInvalid(f"{item.name} ({item.code}): give whole points, not {points!r}")
        if not 0 <= points <= item.max:
            raise ScoreInvalid(f"{item.name} ({item.code}): {points} is not within 0..{item.max}")
    if len(comment) > MAX_COMMENT:
        raise ScoreInvalid(f"the comment is {len(comment)} characters; at most {MAX_COMMENT}")
    if any(ord(c) < 32 and c not in "\n\t" for c in comment):
        raise ScoreInvalid("the comment holds a control character")


def check_of(row: QualityCheckRow, scores: list[QualityScoreRow]) -> Check:
    return Check(
        uniqueid=row.call_uniqueid,
        agent=row.agent,
        call_day=row.call_day,
        reviewer=row.reviewer,
        scored_at=row.scored_at,
        total=row.total,
        max_total=row.max_total,
        passed=row.passed,
        comment=row.comment,
        scores=tuple(
            ItemScore(s.item, s.name, s.points, s.max_points)
            for s in sorted(scores, key=lambda s: s.position)
        ),
    )


def read_checks(s: Session, uniqueids: list[str]) -> dict[str, list[Check]]:
    """The checks of each call of ``uniqueids`` (newest first), in two queries."""
    if not uniqueids:
        return {}
    rows = s.scalars(
        select(QualityCheckRow)
        .where(QualityCheckRow.call_uniqueid.in_(uniqueids))
        .order_by(QualityCheckRow.scored_at.desc(), QualityCheckRow.id.desc())
    ).all()
    items: dict[int, list[QualityScoreRow]] = {}
    if rows:
        for score in s.scalars(
            select(QualityScoreRow).where(QualityScoreRow.check_id.in_([r.id for r in rows]))
        ):
            items.setdefault(score.check_id, []).append(score)
    out: dict[str, list[Check]] = {}
    for row in rows:
        out.setdefault(row.call_uniqueid, []).append(check_of(row, items.get(row.id, [])))
    return out


def scorable_call(s: Session, uniqueid: str) -> CallRow:
    call = s.scalars(select(CallRow).where(CallRow.uniqueid == uniqueid)).first()
    if call is None or call.outcome != ANSWERED or not call.agent or not call.recording:
        raise CallNotFound(
            f"no answered call with a recording by uniqueid {uniqueid[:64]!r}: nothing to score"
        )
    return call


class Scoring:
    """Saves and reads the checks, in the database of ``db`` (synchronous: the web runs it in
    a thread)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def checks(self, uniqueid: str) -> list[Check]:
        with self.db.session() as s:
            return read_checks(s, [uniqueid]).get(uniqueid, [])

    def score(
        self,
        form: QualityForm,
        uniqueid: str,
        scores: Mapping[str, object],
        comment: str,
        actor: Principal | str,
        address: str = "",
        now: dt.datetime | None = None,
    ) -> Check:
        """Save ``actor``'s score of the call (replacing its earlier one); returns it."""
        validate_scores(form, scores, comment)
        reviewer = actor if isinstance(actor, str) else actor.username
        when = now or dt.datetime.now(dt.UTC)
        try:
            return self._save(form, uniqueid, scores, comment, actor, reviewer, address, when)
        except IntegrityError:  # the same reviewer's first score twice at once: now a re-score
            return self._save(form, uniqueid, scores, comment, actor, reviewer, address, when)

    def _save(
        self,
        form: QualityForm,
        uniqueid: str,
        scores: Mapping[str, object],
        comment: str,
        actor: Principal | str,
        reviewer: str,
        address: str,
        now: dt.datetime,
    ) -> Check:
        points = {code: int(str(v)) for code, v in scores.items()}
        total = sum(points.values())
        with self.db.session() as s:
            call = scorable_call(s, uniqueid)
            row = s.scalars(
                select(QualityCheckRow).where(
                    QualityCheckRow.call_uniqueid == uniqueid, QualityCheckRow.reviewer == reviewer
                )
            ).first()
            before = None
            if row is None:
                row = QualityCheckRow(call_uniqueid=uniqueid, reviewer=reviewer)
                s.add(row)
            else:
                old = s.scalars(select(QualityScoreRow).where(QualityScoreRow.check_id == row.id))
                before = check_of(row, list(old)).audited()
                s.execute(delete(QualityScoreRow).where(QualityScoreRow.check_id == row.id))
            assert call.agent is not None
            row.agent, row.call_day, row.scored_at = call.agent, call.day, now
            row.total, row.max_total, row.comment = total, form.max_total, comment
            row.passed = None if form.pass_mark is None else total >= form.pass_mark
            s.flush()
            items = [
                QualityScoreRow(
                    check_id=row.id,
                    item=i.code,
                    position=n,
                    name=i.name,
                    points=points[i.code],
                    max_points=i.max,
                )
                for n, i in enumerate(form.items)
            ]
            s.add_all(items)
            check = check_of(row, items)
            after = {**check.audited(), "rescored": before is not None}
            write_audit(s, actor, AUDIT_ACTION, uniqueid, before, after, address, now)
            return check
