"""The channels of a report: the items that came in by a channel other than the phone (its
first section, as seed 004 opens with the items forwarded from upper-level platforms), and the
calls per special topic (专项, e.g. 疫情: "关于疫情方面电话2408个").

The call figures of a report (受理, by type, category and department) are those of the phone
channel (``source = 'phone'``), as seed 004 counts them; :func:`channel_counts` gives the
other channels' tickets in the same grouping, which :func:`ivr.reports.build_report` takes
off the all-channel pass over ``ix_tickets_report``.

A call counts under a special topic when the ticket made from it is in that topic (the topic's
phone tickets: one call each), or, when no ticket was made from it, when it was queued on the
skill named as the topic's code (a line set up for the topic, e.g. an ``epidemic`` skill in
``queue.yaml``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, and_, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from ivr.config.catalogue import Catalogue
from ivr.db.tables import CallRow, TicketRow
from ivr.reports.figures import Period, SourceFigures
from ivr.tickets.lifecycle import DONE, State

PHONE = "phone"


def channel_counts(s: Session, period: Period) -> list[Any]:
    """(day, department, top category, type, state, source, count) of the period's tickets
    that did not come by phone (merged ones left out, as everywhere)."""
    t = TicketRow
    day = type_coerce(t.accepted_day, String)
    return list(
        s.execute(
            select(day, t.department, t.category_top, t.type, t.state, t.source, func.count())
            .where(
                # two ranges of ``ix_tickets_source_day``: only the other channels' rows
                or_(t.source < PHONE, t.source > PHONE),
                and_(t.accepted_day >= period.start, t.accepted_day < period.end),
                t.state != State.MERGED.value,
            )
            .group_by(t.accepted_day, t.department, t.category_top, t.type, t.state, t.source)
            # SQLite without statistics would take ix_tickets_report and read every row
            .with_hint(t, "INDEXED BY ix_tickets_source_day", "sqlite")
        ).all()
    )


def line_calls_without_ticket(s: Session, period: Period, topics: list[str]) -> list[Any]:
    """(skill, count) of the period's calls queued on a topic's line (``skill`` the topic's
    code) that made no ticket: ranges of ``ix_call_records_skill_day``, then the unique
    ``tickets.call_uniqueid`` per call of those lines only."""
    if not topics:
        return []
    c, t = CallRow, TicketRow
    made = select(t.id).where(t.call_uniqueid == c.uniqueid).exists()
    return list(
        s.execute(
            select(c.skill, func.count())
            .where(
                c.skill.in_(topics),
                and_(c.day >= period.start, c.day < period.end),
                ~made,
            )
            .group_by(c.skill)
        ).all()
    )


def topic_calls(
    special: list[tuple[str, str, int, Any]], without_ticket: list[Any]
) -> dict[str, int]:
    """Calls per special topic: its phone tickets (each from one call) and the calls on its
    line that made none (every special top level, 0 when none)."""
    out = {code: int(total) for code, _, total, _ in special}
    for skill, n in without_ticket:
        if skill in out:
            out[skill] += int(n)
    return out


def source_figures(catalogue: Catalogue, rows: list[Any]) -> list[SourceFigures]:
    """Items and finished per source, in the catalogue's order (unknown codes after), each
    under its ``group`` (its own name when it has none); only sources with items."""
    done = {x.value for x in DONE}
    items: dict[str, list[int]] = {}
    for _day, _dept, _top, _type, state, source, n in rows:
        pair = items.setdefault(str(source), [0, 0])
        pair[0] += int(n)
        pair[1] += int(n) if state in done else 0
    order = [code for code in catalogue.sources if code in items]
    order += sorted(code for code in items if code not in catalogue.sources)
    out = []
    for code in order:
        src = catalogue.sources.get(code)
        name = catalogue.source_name(code)
        group = src.group if src is not None and src.group else name
        out.append(SourceFigures(group, code, name, *items[code]))
    return out


def source_groups(sources: list[SourceFigures]) -> list[tuple[str, list[SourceFigures]]]:
    """The sources by group, groups in the order of their first source."""
    groups: dict[str, list[SourceFigures]] = {}
    for src in sources:
        groups.setdefault(src.group, []).append(src)
    return list(groups.items())
