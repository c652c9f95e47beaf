"""The narrative sections of a report (seed 004's 一、反映比较突出的几个问题, 二、群众的意见和建议,
三、解决比较好的几个问题), drafted by the system for a supervisor to edit before publishing
(:mod:`ivr.reports.publications`):

- *突出问题*: the categories that grew most against the previous period of the same length
  (more tickets than then, the largest growth first), each with its latest request;
- *意见和建议*: the suggestions (type ``suggestion``) of the period, then the places with
  repeated requests (the same address and top category twice or more);
- *解决较好的问题*: the tickets of the period a department finished fastest whose caller was
  satisfied (满意 or 非常满意 at the callback).

Every channel's tickets count (merged ones left out). Each section is plain text, one item a
line, as the supervisor edits it; :func:`narrative_markdown` and :func:`narrative_html` place it
in the report."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from ivr.config.catalogue import Catalogue
from ivr.db.database import Database
from ivr.db.tables import TicketRow
from ivr.reports.figures import CENTRE_ZONE, Period, parse_period
from ivr.tickets.lifecycle import SATISFACTION, State

TOP = 5  # items per drafted section
GOOD = 4  # 满意 and better
EXCERPT = 80  # characters of a request's content quoted


@dataclass(frozen=True)
class Narrative:
    problems: str  # 突出问题
    suggestions: str  # 意见和建议
    solved: str  # 解决较好的问题


def headings(period: Period) -> tuple[str, str, str]:
    t = period.title
    return (
        f"一、{t}反映比较突出的几个问题",
        f"二、{t}群众的意见和建议",
        f"三、{t}解决比较好的几个问题",
    )


def previous(period: Period) -> Period:
    """The period of the same kind just before."""
    if period.kind == "month":
        last = period.start - dt.timedelta(days=1)
        return parse_period(month=f"{last:%Y-%m}")
    if period.kind == "week":
        year, week, _ = (period.start - dt.timedelta(days=7)).isocalendar()
        return parse_period(week=f"{year}-W{week:02d}")
    return parse_period(day=(period.start - dt.timedelta(days=1)).isoformat())


def _in(period: Period) -> ColumnElement[bool]:
    t = TicketRow
    return and_(
        t.accepted_day >= period.start, t.accepted_day < period.end, t.state != State.MERGED.value
    )


def _excerpt(text: str) -> str:
    text = " ".join(text.split()).rstrip("。")
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def _problems(s: Session, catalogue: Catalogue, period: Period) -> list[str]:
    t = TicketRow

    def counts(p: Period) -> dict[str, int]:
        rows = s.execute(select(t.category, func.count()).where(_in(p)).group_by(t.category))
        return {str(c): int(n) for c, n in rows}

    now, before = counts(period), counts(previous(period))
    grown = sorted(
        ((n - before.get(c, 0), n, c) for c, n in now.items() if n > before.get(c, 0)),
        key=lambda g: (-g[0], -g[1], g[2]),
    )[:TOP]
    lines = []
    for k, (growth, n, code) in enumerate(grown, 1):
        name = catalogue.categories[code].full_name if code in catalogue.categories else code
        latest = s.scalar(
            select(t.content)
            .where(_in(period), t.category == code, t.content != "")
            .order_by(t.accepted_at.desc())
            .limit(1)
        )
        line = f"（{k}）{name}问题{n}件，比上期{before.get(code, 0)}件增加{growth}件"
        lines.append(line + (f"。如：{_excerpt(latest)}。" if latest else "。"))
    return lines


def _suggestions(s: Session, catalogue: Catalogue, period: Period) -> list[str]:
    t = TicketRow
    lines = []
    found = s.execute(
        select(t.number, t.content)
        .where(_in(period), t.type == "suggestion", t.content != "")
        .order_by(t.accepted_at.desc())
        .limit(TOP)
    ).all()
    for k, (number, content) in enumerate(found, 1):
        lines.append(f"（{k}）{_excerpt(content)}。（{number}）")
    places = s.execute(
        select(t.address, t.category_top, func.count())
        .where(_in(period), t.address != "")
        .group_by(t.address, t.category_top)
        .having(func.count() >= 2)
        .order_by(func.count().desc(), t.address)
        .limit(TOP)
    ).all()
    if places:
        lines.append("多次反映的地点：")
        for k, (address, top, n) in enumerate(places, 1):
            lines.append(f"（{k}）{address}：{catalogue.category_name(top)}问题反映{n}次。")
    return lines


def _solved(s: Session, catalogue: Catalogue, period: Period, tz: dt.tzinfo) -> list[str]:
    t = TicketRow
    found = s.execute(
        select(
            t.number,
            t.accepted_at,
            t.finished_at,
            t.department,
            t.category,
            t.content,
            t.reply,
            t.satisfaction,
        ).where(
            _in(period),
            t.satisfaction >= GOOD,
            t.department.is_not(None),
            t.finished_at.is_not(None),
        )
    ).all()
    fastest = sorted(found, key=lambda r: (r.finished_at - r.accepted_at, r.number))[:TOP]
    lines = []
    for k, r in enumerate(fastest, 1):
        hours = (r.finished_at - r.accepted_at).total_seconds() / 3600
        name = catalogue.categories[r.category].name if r.category in catalogue.categories else ""
        line = f"（{k}）{catalogue.department_name(r.department)}解决{name}问题（{r.number}）。"
        local = r.accepted_at.astimezone(tz)
        line += f"{local.month}月{local.day}日"
        line += f"，{_excerpt(r.content)}。" if r.content else "。"
        line += f"办理结果：{_excerpt(r.reply)}。" if r.reply else ""
        line += f"受理至办结{hours:.1f}小时，回访{SATISFACTION[int(r.satisfaction)]}。"
        lines.append(line)
    return lines


def draft(
    db: Database, catalogue: Catalogue, period: Period, tz: dt.tzinfo | None = None
) -> Narrative:
    """The system's draft of the three sections (an empty section says so); days in ``tz``
    (the centre's zone, Beijing time if not given)."""
    with db.session() as s:
        problems = _problems(s, catalogue, period)
        suggestions = _suggestions(s, catalogue, period)
        solved = _solved(s, catalogue, period, tz or ZoneInfo(CENTRE_ZONE))
    return Narrative(
        "\n".join(problems) or "本期没有比上期明显增多的问题。",
        "\n".join(suggestions) or "本期没有建议类诉求，也没有同一地点的重复诉求。",
        "\n".join(solved) or "本期没有回访满意的转办工单。",
    )


def narrative_markdown(period: Period, narrative: Narrative) -> list[str]:
    lines = []
    for title, text in zip(headings(period), _texts(narrative), strict=True):
        lines += [f"## {title}", ""]
        lines += [line + "  " for line in text.splitlines() if line.strip()]
        lines.append("")
    return lines


def narrative_html(period: Period, narrative: Narrative) -> list[str]:
    e = html.escape
    parts = []
    for title, text in zip(headings(period), _texts(narrative), strict=True):
        parts.append(f"<h2>{e(title)}</h2>")
        parts += [f"<p>{e(line)}</p>" for line in text.splitlines() if line.strip()]
    return parts


def _texts(n: Narrative) -> tuple[str, str, str]:
    return n.problems, n.suggestions, n.solved
