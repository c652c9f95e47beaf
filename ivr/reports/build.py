"""Building a report: the counts aggregated in SQL over the period's indexed day columns
(no Python loop over tickets), gathered into a :class:`~ivr.reports.figures.Report`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, func, select, text, type_coerce
from sqlalchemy.orm import Session

from ivr.config.catalogue import Catalogue
from ivr.db.database import Database
from ivr.db.tables import (
    CallbackTaskRow,
    CallRow,
    QueueLogRow,
    SupervisionRow,
    TicketRow,
)
from ivr.quality import OperatorQuality, operator_quality
from ivr.reports.channels import (
    channel_counts,
    line_calls_without_ticket,
    source_figures,
    topic_calls,
)
from ivr.reports.detail import TicketLine, day_tickets
from ivr.reports.figures import (
    ANSWER_TARGET_SECONDS,
    CENTRE_ZONE,
    FLAGGED_SQL,
    TASK_KINDS,
    Period,
    QueueFigures,
    Report,
    T,
    TaskFigures,
)
from ivr.reports.hot_section import hot_issues
from ivr.tickets.display import state_name
from ivr.tickets.lifecycle import DONE, OPEN, SATISFACTION, State


def _in(col: Any, period: Period) -> Any:
    return and_(col >= period.start, col < period.end)


def _ticket_counts(s: Session, period: Period) -> list[Any]:
    """One pass over ``ix_tickets_report``, in index order: (day, department, top category,
    type, state) -> count. Every count of the report's ticket sections adds these up."""
    t = TicketRow
    # the day without the Date type's per-row parsing on SQLite (tens of thousands of rows)
    day = type_coerce(t.accepted_day, String)
    return list(
        s.execute(
            select(day, t.department, t.category_top, t.type, t.state, func.count())
            .where(_in(t.accepted_day, period), t.state != State.MERGED.value)
            .group_by(t.accepted_day, t.department, t.category_top, t.type, t.state)
        ).all()
    )


def _ticket_flags(s: Session, period: Period) -> dict[str, Any]:
    """Overdue / supervised / satisfaction: small partial indexes, then the 督办 records."""
    t, sv = TicketRow, SupervisionRow
    out: dict[str, Any] = {}
    flagged = and_(_in(t.accepted_day, period), text(FLAGGED_SQL))
    out["flags"] = s.execute(  # in the partial index's order: no sort
        select(t.accepted_day, t.state, t.overdue, t.was_overdue, t.supervised, func.count())
        .where(flagged)
        .group_by(t.accepted_day, t.state, t.overdue, t.was_overdue, t.supervised)
    ).all()
    # merged tickets never carry a satisfaction (callbacks happen after 办结, redo clears it)
    out["satisfaction"] = s.execute(
        select(t.accepted_day, t.satisfaction, func.count())
        .where(_in(t.accepted_day, period), t.satisfaction.is_not(None))
        .group_by(t.accepted_day, t.satisfaction)
    ).all()
    # supervised tickets come from the partial index, their reasons from the unique
    # (ticket_id, reason) index of supervisions
    supervised = and_(flagged, t.supervised, t.state != State.MERGED.value)
    out["reasons"] = s.execute(
        select(sv.reason, func.count(func.distinct(sv.ticket_id)))
        .select_from(t)
        .join(sv, sv.ticket_id == t.id)
        .where(supervised)
        .group_by(sv.reason)
    ).all()
    out["listed"] = s.execute(
        select(t.number, t.department, t.category, t.state, t.deadline)
        .where(supervised, t.state.notin_([x.value for x in DONE]))
        .order_by(t.accepted_at)
        .limit(50)
    ).all()
    return out


def _queue(s: Session, period: Period) -> QueueFigures:
    """Queue figures from ``queue_log``: ranges of ``ix_queue_log_event_day`` per event."""
    q = QueueLogRow
    counts = dict(
        s.execute(
            select(q.event, func.count())
            .where(
                q.event.in_(["ENTERQUEUE", "ABANDON", "EXITWITHTIMEOUT", "EXITWITHKEY", "PBXLOST"]),
                _in(q.day, period),
            )
            .group_by(q.event)
        ).all()
    )
    answered, in_target, wait = s.execute(
        select(
            func.count(),
            func.sum(case((q.wait <= ANSWER_TARGET_SECONDS, 1), else_=0)),
            func.avg(q.wait),
        ).where(q.event == "CONNECT", _in(q.day, period))
    ).one()
    self_service = int(counts.get("EXITWITHKEY", 0))
    return QueueFigures(
        offered=int(counts.get("ENTERQUEUE", 0)) - self_service,
        self_service=self_service,
        answered=int(answered or 0),
        answered_in_target=int(in_target or 0),
        average_wait=float(wait) if wait is not None else None,
        abandoned=int(counts.get("ABANDON", 0)),
        timed_out=int(counts.get("EXITWITHTIMEOUT", 0)),
        pbx_lost=int(counts.get("PBXLOST", 0)),
    )


def _tasks(s: Session, period: Period) -> list[TaskFigures]:
    """Tasks left by the period's calls (by the call's local day), per kind: all, done."""
    t, c = CallbackTaskRow, CallRow
    counts: dict[str, list[int]] = {}
    for kind, state, n in s.execute(
        select(t.kind, t.state, func.count())
        .select_from(t)
        .join(c, c.uniqueid == t.call_uniqueid)
        .where(_in(c.day, period), t.kind.in_([k for k, _ in TASK_KINDS]))
        .group_by(t.kind, t.state)
    ).all():
        pair = counts.setdefault(str(kind), [0, 0])
        pair[0] += int(n)
        if state == "done":
            pair[1] += int(n)
    return [TaskFigures(kind, name, *counts.get(kind, [0, 0])) for kind, name in TASK_KINDS]


def _calls_by_day(s: Session, period: Period) -> dict[dt.date, int]:
    return {
        d: int(n)
        for d, n in s.execute(
            select(CallRow.day, func.count()).where(_in(CallRow.day, period)).group_by(CallRow.day)
        ).all()
    }


def _quality(s: Session, period: Period) -> list[OperatorQuality]:
    return operator_quality(s, period.start, period.end)


def _day_tickets(s: Session, period: Period) -> list[TicketLine]:
    return day_tickets(s, period.start, period.end) if period.kind == "day" else []


def build_report(
    db: Database,
    catalogue: Catalogue,
    period: Period,
    now: dt.datetime | None = None,
    tz: dt.tzinfo | None = None,
) -> Report:
    """The report of ``period``, its times to be shown in ``tz`` (the centre's zone,
    ``hours.yaml`` ``timezone``; Beijing time if not given). The groups of queries are
    independent and run side by side on their own connections (each a consistent snapshot
    of its own sections)."""
    report = Report(period, now or dt.datetime.now(dt.UTC), tz=tz or ZoneInfo(CENTRE_ZONE))

    def run(query: Callable[[Session, Period], T]) -> T:
        with db.session() as session:
            return query(session, period)

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="report") as pool:
        f_counts = pool.submit(run, _ticket_counts)
        f_flags = pool.submit(run, _ticket_flags)
        f_queue = pool.submit(run, _queue)
        f_calls = pool.submit(run, _calls_by_day)
        f_tasks = pool.submit(run, _tasks)
        f_list = pool.submit(run, _day_tickets)
        f_quality = pool.submit(run, _quality)
        f_channels = pool.submit(run, channel_counts)
        topics = [c.path for c in catalogue.top_levels() if c.special]
        f_lines = pool.submit(run, lambda s, p: line_calls_without_ticket(s, p, topics))
        f_hot = pool.submit(hot_issues, db, catalogue, period, report.tz)
        counts, flags = f_counts.result(), f_flags.result()
        report.queue, calls_by_day = f_queue.result(), f_calls.result()
        report.tasks, listed = f_tasks.result(), f_list.result()
        report.quality, report.hotspots = f_quality.result(), f_hot.result()
        channels, lines = f_channels.result(), f_lines.result()
    report.sources = source_figures(catalogue, channels)
    report.receiver = f"{catalogue.source_name('phone')}办公室"
    # the call figures are the phone channel's: the other channels' tickets taken off
    counts = counts + [(*row[:5], -int(row[6])) for row in channels]
    report.tickets = [
        replace(
            line,
            type=catalogue.type_name(line.type),
            category=catalogue.category_name(line.category),
            department=catalogue.department_name(line.department) if line.department else None,
            state=state_name(line.state),
        )
        for line in listed
    ]

    # -- add up the grouped counts (a few thousand rows, not tickets) ---------------------
    done = {x.value for x in DONE}
    open_ = {x.value for x in OPEN}
    special_tops = {c.top for c in catalogue.top_levels() if c.special}
    types: dict[str, int] = {}
    tops: dict[str, int] = {}
    special: dict[str, dict[str, int]] = {}
    depts: dict[str, list[int]] = {}
    direct = [0, 0]
    tickets_by_day: dict[dt.date, int] = {}
    dates: dict[Any, dt.date] = {}
    for raw_day, dept, top, type_, state, n in counts:
        day = dates.get(raw_day)
        if day is None:
            day = dates[raw_day] = (
                raw_day if isinstance(raw_day, dt.date) else dt.date.fromisoformat(raw_day)
            )
        n = int(n)
        finished = n if state in done else 0
        report.accepted += n
        report.finished += finished
        tickets_by_day[day] = tickets_by_day.get(day, 0) + n
        types[type_] = types.get(type_, 0) + n
        if top in special_tops:
            special.setdefault(top, {})[type_] = special.get(top, {}).get(type_, 0) + n
        else:
            tops[top] = tops.get(top, 0) + n
        pair = direct if dept is None else depts.setdefault(str(dept), [0, 0])
        pair[0] += n
        pair[1] += finished
    order = list(catalogue.types)
    report.by_type = [(code, catalogue.type_name(code), types.get(code, 0)) for code in order]
    for info in catalogue.top_levels():
        if info.special:
            by_type = special.get(info.path, {})
            report.special.append(
                (
                    info.path,
                    info.name,
                    sum(by_type.values()),
                    [(c, catalogue.type_name(c), by_type[c]) for c in order if by_type.get(c)],
                )
            )
    report.other_accepted = sum(tops.values())
    known = [c.path for c in catalogue.top_levels() if not c.special]
    extra = sorted(k for k in tops if k not in known and tops[k])
    for code in known + extra:
        n = tops.get(code, 0)
        share = n / report.other_accepted if report.other_accepted else 0.0
        report.by_category.append((code, catalogue.category_name(code), n, share))
    report.direct = (direct[0], direct[1])
    report.departments = sorted(
        ((d, catalogue.department_name(d), n, f) for d, (n, f) in depts.items() if n),
        key=lambda r: (-r[2], -r[3], r[0]),
    )

    for _day, state, overdue, was_overdue, supervised, n in flags["flags"]:
        if state == State.MERGED.value:
            continue
        if overdue and state in open_:
            report.overdue_open += int(n)
        if was_overdue and state in done:
            report.finished_late += int(n)
        if supervised:
            report.supervised += int(n)
    report.supervised_by_reason = {str(r): int(n) for r, n in flags["reasons"]}
    report.supervised_list = [
        (str(num), catalogue.department_name(d), catalogue.category_name(c), state_name(st), due)
        for num, d, c, st, due in flags["listed"]
    ]
    levels: dict[int, int] = {}
    for _day, level, n in flags["satisfaction"]:
        levels[int(level)] = levels.get(int(level), 0) + int(n)
    report.satisfaction = [(lv, SATISFACTION[lv], levels.get(lv, 0)) for lv in (5, 4, 3, 2, 1)]

    report.topic_calls = topic_calls(report.special, lines)
    report.calls = sum(calls_by_day.values())
    day = period.start
    while day < period.end:
        report.daily.append((day, calls_by_day.get(day, 0), tickets_by_day.get(day, 0)))
        day += dt.timedelta(days=1)
    busy = [d for d, c, t in report.daily if c or t]
    report.covered = (busy[0], busy[-1]) if busy else None
    return report
