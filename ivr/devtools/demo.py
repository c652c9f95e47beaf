"""``hotline seed-demo``: a month of realistic generated traffic.

The profile is seed 004 (Siping, 9-29 Feb 2020): at ``scale=1`` the generated month gives
*exactly* the report's figures - the items forwarded by upper-level platforms (17 + 1 + 16, 14
of the 16 finished, each with its source, external id and received time), 8570 calls, 6610
accepted, 6572 finished, 2408 calls about the epidemic, the 疫情 counts by type, the eleven
categories, and the per-department table (件数 / 办结). Tickets and abandoned calls fall on
every day of the month, as real traffic does. Other scales
multiply every figure (rounded). Everything else (times, callers, waits, satisfaction,
overdue tickets, repeated requests) is drawn from a seeded random generator, so a run is
reproducible. Rows are written in bulk (a few statements), not one by one.

The figures are Siping's, so the catalogue must have seed 004's departments, categories and
types: the shipped demo catalogue ``config/demo-siping`` (:data:`DEMO_CONFIG_DIR`, the
default of ``hotline seed-demo``) has them; any other catalogue (the Hohhot line config in
``config/``) is refused before anything is written. The profile and that check are
:mod:`ivr.devtools.seed004`; the calls are drawn in :mod:`ivr.devtools.demo_calls`, the
tickets in :mod:`ivr.devtools.demo_tickets`, from one generator in a fixed order.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, func, insert, select

from ivr.config.catalogue import Catalogue
from ivr.db.database import Database
from ivr.db.tables import (
    CallbackTaskRow,
    CallRow,
    QueueLogRow,
    TicketCallRow,
    TicketEventRow,
    TicketRow,
)
from ivr.devtools.demo_calls import draw_callers, draw_calls, missed_tasks, ticket_calls
from ivr.devtools.demo_channels import draw_forwarded
from ivr.devtools.demo_tickets import (
    count_numbers,
    draw_tickets,
    event_rows,
    link_rows,
    plan_tickets,
    visit_tasks,
)
from ivr.devtools.seed004 import check_demo_catalogue
from ivr.reports import Period
from ivr.tickets.deadlines import Deadlines
from ivr.tickets.errors import BadTicketInput
from ivr.tickets.supervision import sweep


@dataclass
class DemoResult:
    calls: int
    tickets: int
    finished: int
    queue_events: int
    forwarded: int = 0  # items forwarded by upper-level platforms (not in ``tickets``)


def seed_demo(
    db: Database,
    catalogue: Catalogue,
    deadlines: Deadlines,
    period: Period,
    *,
    scale: float = 1.0,
    seed: int = 12345,
    timezone: str = "Asia/Shanghai",
) -> DemoResult:
    """Fill ``period`` (a month) with generated traffic. Refuses a period that has data and a
    catalogue without seed 004's units (:func:`check_demo_catalogue`)."""
    check_demo_catalogue(catalogue)
    tz = ZoneInfo(timezone)
    rng = random.Random(seed)
    with db.session() as s:
        existing = s.scalar(
            select(func.count()).where(
                TicketRow.accepted_day >= period.start, TicketRow.accepted_day < period.end
            )
        )
    if existing:
        raise BadTicketInput(
            f"the database already has {existing} tickets in {period.label}: "
            "seed-demo fills an empty period only (use a fresh database)"
        )
    first = 9 if (period.start.year, period.start.month) == (2020, 2) else 1
    days = [d for d in _days(period) if d.day >= first]

    # One generator, drawn in this order: the tickets' plan, the callers, the calls, the
    # tickets' rows (a run is reproducible only as long as the order stays).
    plan = plan_tickets(rng, catalogue, scale)
    callers = draw_callers(rng, plan.tops)
    call_rows, queue_rows = draw_calls(rng, days, tz, callers, plan.tops, scale)
    answered = ticket_calls(call_rows, len(plan.tops))
    tickets = draw_tickets(rng, catalogue, deadlines, period, tz, plan, answered)
    draw_forwarded(rng, catalogue, deadlines, days, tz, scale, tickets)
    now = dt.datetime.combine(period.end, dt.time(0), tz).astimezone(dt.UTC)

    with db.session() as s:
        # Core inserts (executemany in batches), not ORM bulk: much faster.
        s.execute(insert(_table(CallRow)), call_rows)
        s.execute(insert(_table(QueueLogRow)), queue_rows)
        s.execute(insert(_table(TicketRow)), tickets.rows)
        by_number = {
            number: tid
            for tid, number in s.execute(
                select(TicketRow.id, TicketRow.number).where(
                    TicketRow.accepted_day >= period.start, TicketRow.accepted_day < period.end
                )
            )
        }
        ids = [by_number[r["number"]] for r in tickets.rows]
        s.execute(insert(_table(TicketCallRow)), link_rows(ids, tickets))
        s.execute(insert(_table(TicketEventRow)), event_rows(ids, tickets))
        tasks = visit_tasks(ids, tickets) + missed_tasks(call_rows)
        if tasks:
            s.execute(insert(_table(CallbackTaskRow)), tasks)
        count_numbers(s, tickets)
        s.flush()
        sweep(s, now, catalogue.due_soon_hours, deadlines.local_day)
    phone = [r for r in tickets.rows if r["source"] == "phone"]
    return DemoResult(
        calls=len(call_rows),
        tickets=len(phone),
        finished=sum(plan.finished),
        queue_events=len(queue_rows),
        forwarded=len(tickets.rows) - len(phone),
    )


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _days(period: Period) -> list[dt.date]:
    out = []
    day = period.start
    while day < period.end:
        out.append(day)
        day += dt.timedelta(days=1)
    return out
