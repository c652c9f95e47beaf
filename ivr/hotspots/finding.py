"""The hot issues of a window read from the database: the tickets accepted in the
``window_hours`` that end at ``end`` (merged duplicates left out), grouped
(:func:`.grouping.group_tickets`), with what the wallboard, the daily report and
``hotline hotspots`` show of them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select

from ivr.config.catalogue import Catalogue
from ivr.config.hotspot_rules import HotspotRules
from ivr.db.database import Database
from ivr.db.tables import TicketRow
from ivr.hotspots.address import district_names
from ivr.hotspots.grouping import HotGroup, HotTicket, group_tickets
from ivr.tickets.lifecycle import State

#: the tickets a group lists on the wallboard (the report lists them all)
BOARD_TICKETS = 20
#: the flagged groups the wallboard shows
BOARD_GROUPS = 10


@dataclass
class HotReport:
    start: dt.datetime  # UTC
    end: dt.datetime  # UTC
    rules: HotspotRules
    scanned: int = 0  # tickets in the window
    groups: list[HotGroup] = field(default_factory=list)  # flagged first
    category_names: dict[str, str] = field(default_factory=dict)  # path: 水、电、气/供热

    @property
    def flagged(self) -> list[HotGroup]:
        return [g for g in self.groups if g.flagged]

    def category_name(self, path: str) -> str:
        return self.category_names.get(path, path)

    def board(self, zone: dt.tzinfo) -> dict[str, Any]:
        """What the wallboard shows (JSON): the flagged groups, the largest first."""

        def at(when: dt.datetime) -> str:
            return when.astimezone(zone).isoformat(timespec="seconds")

        return {
            "start": at(self.start),
            "end": at(self.end),
            "window_hours": self.rules.window_hours,
            "min_tickets": self.rules.min_tickets,
            "scanned": self.scanned,
            "groups": [
                {
                    "words": g.words,
                    "place": g.place,
                    "category": self.category_name(g.category_top),
                    "count": g.count,
                    "first_at": at(g.tickets[0].accepted_at),
                    "last_at": at(g.tickets[-1].accepted_at),
                    "tickets": [t.number for t in g.tickets[-BOARD_TICKETS:]],
                }
                for g in self.flagged[:BOARD_GROUPS]
            ],
        }


def window_tickets(db: Database, start: dt.datetime, end: dt.datetime) -> list[HotTicket]:
    """The tickets accepted in [start, end), merged ones left out; the local-day column
    narrows the read to the days the window touches (``ix_tickets_report``)."""
    t = TicketRow
    days = [start.date() - dt.timedelta(days=1) + dt.timedelta(days=n)
            for n in range((end.date() - start.date()).days + 3)]  # fmt: skip
    with db.session() as s:
        rows = s.execute(
            select(t.number, t.accepted_at, t.category, t.category_top, t.content, t.address,
                   t.state)
            .where(t.accepted_day.in_(days),
                   and_(t.accepted_at >= start, t.accepted_at < end),
                   t.state != State.MERGED.value)
            .order_by(t.accepted_at, t.id)
        ).all()  # fmt: skip
    out = []
    for number, accepted, category, top, content, address, state in rows:
        accepted = accepted if accepted.tzinfo else accepted.replace(tzinfo=dt.UTC)
        out.append(HotTicket(number, accepted, category, top, content or "", address or "", state))
    return out


def find_hotspots(
    db: Database,
    catalogue: Catalogue,
    end: dt.datetime | None = None,
    rules: HotspotRules | None = None,
) -> HotReport:
    """The hot issues of the window ending at ``end`` (now if not given), by the rules of
    the catalogue's ``hotspots`` section unless ``rules`` are given."""
    rules = rules or catalogue.model.hotspots
    end = (end or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    start = end - dt.timedelta(hours=rules.window_hours)
    tickets = window_tickets(db, start, end)
    districts = district_names(d.name for d in catalogue.departments.values()
                               if d.kind == "district")  # fmt: skip
    names = {path: c.full_name for path, c in catalogue.categories.items()}
    return HotReport(start, end, rules, len(tickets), group_tickets(tickets, rules, districts),
                     names)  # fmt: skip


def day_end(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """The end of a local day (the next day's midnight in ``zone``), in UTC: the window of a
    daily report and of ``hotline hotspots --day``."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
