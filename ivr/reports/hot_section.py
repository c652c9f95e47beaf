"""The daily report's hot issues (热点诉求, seed 002): the groups of similar tickets at one
place flagged in the 24 hours that end with the report's day (:mod:`ivr.hotspots`, by the
catalogue's ``hotspots`` rules), each with its tickets. A day report only; a week or a
month has its days' reports."""

from __future__ import annotations

import datetime as dt

from ivr.config.catalogue import Catalogue
from ivr.db.database import Database
from ivr.hotspots import HotReport, day_end, find_hotspots
from ivr.reports.figures import Cell, Period, Table
from ivr.tickets.display import in_zone

HEADER = ["热点", "关键词", "地点", "件数", "工单号", "受理时间", "分类", "地址", "内容"]
#: the characters of a ticket's content a row shows
CONTENT_CHARS = 60


def hot_issues(
    db: Database, catalogue: Catalogue, period: Period, tz: dt.tzinfo
) -> HotReport | None:
    """The hot issues of a day report's day (None for a week or a month)."""
    if period.kind != "day":
        return None
    return find_hotspots(db, catalogue, day_end(period.start, tz))


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "｜").split())


def hot_tables(found: HotReport | None, tz: dt.tzinfo) -> list[Table]:
    """One row per ticket of each flagged group, the groups largest first; no table for a
    week or a month."""
    if found is None:
        return []
    rows: list[list[Cell]] = []
    for n, g in enumerate(found.flagged, 1):
        words, place = " ".join(g.words), g.place or "（无地址）"
        for t in g.tickets:
            name, when = found.category_name(t.category), in_zone(tz, t.accepted_at)
            content = _cell(t.content)
            if len(content) > CONTENT_CHARS:
                content = content[:CONTENT_CHARS] + "…"
            rows.append([n, words, place, g.count, t.number, when, name,
                         _cell(t.address) or "-", content])  # fmt: skip
    rules = found.rules
    title = (f"热点诉求（{rules.window_hours:g}小时内同一地点相似诉求达{rules.min_tickets}件："
             f"{len(found.flagged)}类，{len(rows)}件）")  # fmt: skip
    return [Table("hotspots", title, HEADER, rows)]
