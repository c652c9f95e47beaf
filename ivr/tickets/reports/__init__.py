"""Daily, weekly and monthly reports with the sections of seed 004 (Siping, Feb 2020).

:func:`build_report` aggregates in SQL (``GROUP BY`` on indexed day columns, no Python loop
over tickets); the renderers in :mod:`ivr.tickets.reports.render` write Markdown, HTML with
matplotlib PNG charts, and CSV.

Counting rules (as the seed counts):

- *calls received* (接到电话): call records started in the period;
- *accepted* (受理): tickets accepted in the period, duplicates merged away not counted;
- *finished* (办结): of those, the ones finished (办结, 回访 or 归档) when the report is made;
  *in progress* the rest; finish rate = finished / accepted;
- *by category*: top-level categories with their share of the accepted tickets outside the
  special topics (专项, e.g. 疫情), which are counted by type on their own, as the seed does;
- *departments*: tickets dispatched to each department (件数) and finished (办结);
- queue figures from ``queue_log``: offered (ENTERQUEUE), answered (CONNECT), answered within
  15 s, average wait of answered calls, abandoned (ABANDON) and timed out (EXITWITHTIMEOUT).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, select

from ivr.tickets.catalogue import Catalogue
from ivr.tickets.db import Database
from ivr.tickets.errors import BadTicketInput
from ivr.tickets.lifecycle import DONE, OPEN, State
from ivr.tickets.models import CallRow, QueueLogRow, SupervisionRow, TicketRow
from ivr.tickets.service import SATISFACTION

ANSWER_TARGET_SECONDS = 15


@dataclass(frozen=True)
class Period:
    kind: str  # day | week | month
    label: str  # 2020-02-09 | 2020-W07 | 2020-02
    start: dt.date
    end: dt.date  # exclusive

    @property
    def title(self) -> str:
        if self.kind == "month":
            return f"{self.start.year}年{self.start.month}月份"
        if self.kind == "week":
            last = self.end - dt.timedelta(days=1)
            return f"{self.start:%Y年%m月%d日}至{last:%m月%d日}（{self.label}）"
        return f"{self.start:%Y年%m月%d日}"


def parse_period(
    *, day: str | None = None, week: str | None = None, month: str | None = None
) -> Period:
    """``--day 2020-02-09``, ``--week 2020-W07`` (ISO week) or ``--month 2020-02``."""
    try:
        if day:
            d = dt.date.fromisoformat(day)
            return Period("day", d.isoformat(), d, d + dt.timedelta(days=1))
        if week:
            m = re.fullmatch(r"(\d{4})-?W(\d{1,2})", week.strip(), re.IGNORECASE)
            if m is None:
                raise ValueError(week)
            start = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
            return Period("week", f"{m[1]}-W{int(m[2]):02d}", start, start + dt.timedelta(days=7))
        if month:
            m = re.fullmatch(r"(\d{4})-(\d{1,2})", month.strip())
            if m is None:
                raise ValueError(month)
            start = dt.date(int(m[1]), int(m[2]), 1)
            end = dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
            return Period("month", f"{start:%Y-%m}", start, end)
    except ValueError:
        pass
    else:
        raise BadTicketInput("give one of --day YYYY-MM-DD, --week YYYY-Www, --month YYYY-MM")
    raise BadTicketInput(
        f"cannot read the period {day or week or month!r}: "
        "write --day 2020-02-09, --week 2020-W07 or --month 2020-02"
    )


@dataclass
class QueueFigures:
    offered: int = 0
    answered: int = 0
    answered_in_target: int = 0
    average_wait: float | None = None
    abandoned: int = 0
    timed_out: int = 0

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.offered if self.offered else None

    @property
    def in_target_rate(self) -> float | None:
        return self.answered_in_target / self.answered if self.answered else None


@dataclass
class Report:
    period: Period
    generated_at: dt.datetime
    calls: int = 0
    accepted: int = 0
    finished: int = 0
    by_type: list[tuple[str, str, int]] = field(default_factory=list)
    special: list[tuple[str, str, int, list[tuple[str, str, int]]]] = field(default_factory=list)
    other_accepted: int = 0
    by_category: list[tuple[str, str, int, float]] = field(default_factory=list)
    departments: list[tuple[str, str, int, int]] = field(default_factory=list)
    overdue_open: int = 0
    finished_late: int = 0
    supervised: int = 0
    supervised_by_reason: dict[str, int] = field(default_factory=dict)
    supervised_list: list[tuple[str, str, str, str]] = field(default_factory=list)
    satisfaction: list[tuple[int, str, int]] = field(default_factory=list)
    queue: QueueFigures = field(default_factory=QueueFigures)
    daily: list[tuple[dt.date, int, int]] = field(default_factory=list)

    @property
    def in_progress(self) -> int:
        return self.accepted - self.finished

    @property
    def finish_rate(self) -> float | None:
        return self.finished / self.accepted if self.accepted else None

    @property
    def visited(self) -> int:
        return sum(n for _, _, n in self.satisfaction)

    @property
    def satisfaction_rate(self) -> float | None:
        """Share of 非常满意, 满意 and 基本满意 among the callbacks that gave a level."""
        good = sum(n for level, _, n in self.satisfaction if level >= 3)
        return good / self.visited if self.visited else None


def _in(col: Any, period: Period) -> Any:
    return and_(col >= period.start, col < period.end)


def build_report(
    db: Database, catalogue: Catalogue, period: Period, now: dt.datetime | None = None
) -> Report:
    report = Report(period, now or dt.datetime.now(dt.UTC))
    t = TicketRow
    done = [s.value for s in DONE]
    counted = and_(_in(t.accepted_day, period), t.state != State.MERGED.value)
    is_done = case((t.state.in_(done), 1), else_=0)
    special_tops = {c.top for c in catalogue.top_levels() if c.special}
    with db.session() as s:
        report.calls = int(s.scalar(select(func.count()).where(_in(CallRow.day, period))) or 0)
        row = s.execute(
            select(func.count(), func.coalesce(func.sum(is_done), 0)).where(counted)
        ).one()
        report.accepted, report.finished = int(row[0]), int(row[1])

        by_top_type = s.execute(
            select(t.category_top, t.type, func.count())
            .where(counted)
            .group_by(t.category_top, t.type)
        ).all()
        types: dict[str, int] = {}
        tops: dict[str, int] = {}
        special: dict[str, dict[str, int]] = {}
        for top, type_, n in by_top_type:
            types[type_] = types.get(type_, 0) + n
            if top in special_tops:
                special.setdefault(top, {})[type_] = special.get(top, {}).get(type_, 0) + n
            else:
                tops[top] = tops.get(top, 0) + n
        order = list(catalogue.types)
        report.by_type = [(code, catalogue.type_name(code), types.get(code, 0)) for code in order]
        for info in catalogue.top_levels():
            if info.special:
                counts = special.get(info.path, {})
                report.special.append(
                    (
                        info.path,
                        info.name,
                        sum(counts.values()),
                        [(c, catalogue.type_name(c), counts[c]) for c in order if counts.get(c)],
                    )
                )
        report.other_accepted = sum(tops.values())
        known = [c.path for c in catalogue.top_levels() if not c.special]
        extra = sorted(k for k in tops if k not in known)
        for code in known + extra:
            n = tops.get(code, 0)
            share = n / report.other_accepted if report.other_accepted else 0.0
            report.by_category.append((code, catalogue.category_name(code), n, share))

        dept_rows = s.execute(
            select(t.department, func.count(), func.sum(is_done))
            .where(counted, t.department.is_not(None))
            .group_by(t.department)
        ).all()
        report.departments = sorted(
            ((str(d), catalogue.department_name(d), int(n), int(f or 0)) for d, n, f in dept_rows),
            key=lambda r: (-r[2], -r[3], r[0]),
        )

        report.overdue_open = int(
            s.scalar(
                select(func.count()).where(counted, t.state.in_([x.value for x in OPEN]), t.overdue)
            )
            or 0
        )
        report.finished_late = int(
            s.scalar(select(func.count()).where(counted, t.state.in_(done), t.was_overdue)) or 0
        )
        sv = SupervisionRow
        report.supervised_by_reason = {
            str(reason): int(n)
            for reason, n in s.execute(
                select(sv.reason, func.count(func.distinct(sv.ticket_id)))
                .join(t, t.id == sv.ticket_id)
                .where(counted)
                .group_by(sv.reason)
            ).all()
        }
        report.supervised = int(s.scalar(select(func.count()).where(counted, t.supervised)) or 0)
        listed = s.execute(
            select(t.number, t.department, t.category, t.state)
            .where(counted, t.supervised, t.state.notin_(done))
            .order_by(t.accepted_at)
            .limit(50)
        ).all()
        report.supervised_list = [
            (str(num), catalogue.department_name(d), catalogue.category_name(c), str(st))
            for num, d, c, st in listed
        ]
        levels = dict(
            (int(level or 0), int(n))
            for level, n in s.execute(
                select(t.satisfaction, func.count())
                .where(counted, t.satisfaction.is_not(None))
                .group_by(t.satisfaction)
            ).all()
        )
        report.satisfaction = [(lv, SATISFACTION[lv], levels.get(lv, 0)) for lv in (5, 4, 3, 2, 1)]

        q = QueueLogRow
        qrow = s.execute(
            select(
                func.sum(case((q.event == "ENTERQUEUE", 1), else_=0)),
                func.sum(case((q.event == "CONNECT", 1), else_=0)),
                func.sum(
                    case((and_(q.event == "CONNECT", q.wait <= ANSWER_TARGET_SECONDS), 1), else_=0)
                ),
                func.avg(case((q.event == "CONNECT", q.wait), else_=None)),
                func.sum(case((q.event == "ABANDON", 1), else_=0)),
                func.sum(case((q.event == "EXITWITHTIMEOUT", 1), else_=0)),
            ).where(_in(q.day, period))
        ).one()
        report.queue = QueueFigures(
            offered=int(qrow[0] or 0),
            answered=int(qrow[1] or 0),
            answered_in_target=int(qrow[2] or 0),
            average_wait=float(qrow[3]) if qrow[3] is not None else None,
            abandoned=int(qrow[4] or 0),
            timed_out=int(qrow[5] or 0),
        )

        calls_by_day = dict(
            (d, int(n))
            for d, n in s.execute(
                select(CallRow.day, func.count())
                .where(_in(CallRow.day, period))
                .group_by(CallRow.day)
            ).all()
        )
        tickets_by_day = dict(
            (d, int(n))
            for d, n in s.execute(
                select(t.accepted_day, func.count()).where(counted).group_by(t.accepted_day)
            ).all()
        )
        day = period.start
        while day < period.end:
            report.daily.append((day, calls_by_day.get(day, 0), tickets_by_day.get(day, 0)))
            day += dt.timedelta(days=1)
    return report


__all__ = ["Period", "QueueFigures", "Report", "build_report", "parse_period"]
