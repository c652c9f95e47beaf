"""Quality per operator over a period of the calls' local days: how many checks, the mean
total (and the form's mean most points), how many passed the pass mark, and the mean points of
each item, aggregated in SQL. One definition for the web and the reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from ivr.db.quality_tables import QualityCheckRow, QualityScoreRow
from ivr.db.tables import UserRow


@dataclass(frozen=True)
class ItemMean:
    item: str
    name: str
    mean: float
    max: int


@dataclass(frozen=True)
class OperatorQuality:
    agent: str
    name: str  # the display name of the operator's account ("" without one)
    checks: int
    mean_total: float
    mean_max_total: float
    passed: int  # checks at or above the pass mark
    failed: int  # checks below it (checks on a form without a pass mark are neither)
    items: tuple[ItemMean, ...]


def operator_quality(s: Session, start: dt.date, end: dt.date) -> list[OperatorQuality]:
    """Per operator, the checks of calls on local days ``start`` .. ``end`` (exclusive), the
    most checked first."""
    q, sc = QualityCheckRow, QualityScoreRow
    within = and_(q.call_day >= start, q.call_day < end)
    heads = s.execute(
        select(
            q.agent,
            func.count(),
            func.avg(q.total),
            func.avg(q.max_total),
            func.sum(case((q.passed.is_(True), 1), else_=0)),
            func.sum(case((q.passed.is_(False), 1), else_=0)),
        )
        .where(within)
        .group_by(q.agent)
    ).all()
    if not heads:
        return []
    items: dict[str, list[tuple[int, ItemMean]]] = {}
    for agent, item, name, position, mean, most in s.execute(
        select(
            q.agent,
            sc.item,
            func.max(sc.name),
            func.min(sc.position),
            func.avg(sc.points),
            func.max(sc.max_points),
        )
        .join(sc, sc.check_id == q.id)
        .where(within)
        .group_by(q.agent, sc.item)
    ).all():
        entry = ItemMean(str(item), str(name), float(mean), int(most))
        items.setdefault(str(agent), []).append((int(position), entry))
    agents = [str(h[0]) for h in heads]
    names = dict(
        s.execute(
            select(UserRow.agent_id, func.max(UserRow.display_name))
            .where(UserRow.agent_id.in_(agents))
            .group_by(UserRow.agent_id)
        ).all()
    )
    out = [
        OperatorQuality(
            agent=str(agent),
            name=str(names.get(agent) or ""),
            checks=int(n),
            mean_total=float(total),
            mean_max_total=float(most),
            passed=int(passed or 0),
            failed=int(failed or 0),
            items=tuple(e for _, e in sorted(items.get(str(agent), []), key=lambda p: p[0])),
        )
        for agent, n, total, most, passed, failed in heads
    ]
    return sorted(out, key=lambda o: (-o.checks, o.agent))
