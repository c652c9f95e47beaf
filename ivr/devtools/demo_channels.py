"""The demo's items forwarded by upper-level platforms (:mod:`ivr.devtools.demo`): seed 004's
first paragraph (:data:`ivr.devtools.seed004.FORWARDED`), each item a ticket of its source with
the platform's own id (``external_id``) and the time the platform received it
(``received_at``), registered at the centre a few hours later on one of the month's days,
dispatched to a department and, for most, finished. Drawn from the demo's generator after the
calls and the phone tickets."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from ivr.config.catalogue import Catalogue
from ivr.devtools.demo_tickets import DemoTickets, Event, blank_row
from ivr.devtools.demo_words import address, content
from ivr.devtools.seed004 import FORWARDED, scaled
from ivr.tickets.deadlines import Deadlines
from ivr.tickets.numbering import format_number

#: the districts an item without a category's department goes to (by its address)
DISTRICTS = ("tiexi", "tiedong", "lishu", "shuangliao", "yitong")
TOPS = ("housing", "utilities", "transport", "rural_other", "epidemic", "social_security")


def draw_forwarded(
    rng: random.Random,
    catalogue: Catalogue,
    deadlines: Deadlines,
    days: list[dt.date],
    tz: ZoneInfo,
    scale: float,
    tickets: DemoTickets,
) -> None:
    """Add the forwarded items to ``tickets`` (rows, trails, day counters)."""
    end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(0), tz)
    for source, (items, finished) in FORWARDED.items():
        n, f = scaled(items, scale), scaled(finished, scale)
        for k in range(n):
            day = rng.choice(days)
            accepted = dt.datetime.combine(day, dt.time(8), tz) + dt.timedelta(
                seconds=rng.randrange(9 * 3600)
            )
            received = accepted - dt.timedelta(hours=rng.uniform(2, 30))
            accepted = accepted.astimezone(dt.UTC)
            tickets.seq[day] = tickets.seq.get(day, 0) + 1
            top = rng.choice(TOPS)
            children = [p for p in catalogue.categories if p.startswith(top + ".")]
            category = rng.choice(children) if children else top
            dept = catalogue.default_department(category) or rng.choice(DISTRICTS)
            type_ = rng.choice(("consult", "help", "complaint", "suggestion"))
            deadline = deadlines.due(accepted, catalogue.deadline_days(type_))
            row = blank_row(
                number=format_number(day, tickets.seq[day]),
                source=source,
                external_id=f"{source.upper()}-{day:%Y%m%d}-{k + 1:04d}",
                received_at=received.astimezone(dt.UTC),
                accepted_at=accepted,
                accepted_day=day,
                accepted_by="import",
                caller=f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
                dialled="",
                type=type_,
                category=category,
                category_top=top,
                content=f"{content(rng, category, type_, catalogue.category_name(category))}"
                f"（演示数据，{catalogue.source_name(source)}转来）",
                address=address(rng, top),
                department=dept,
                deadline=deadline,
                state="signed",
            )
            sent = accepted + dt.timedelta(minutes=rng.uniform(10, 90))
            signed = sent + dt.timedelta(minutes=rng.uniform(10, 120))
            trail: list[Event] = [
                (accepted, "accept", None, "accepted", "import"),
                (sent, "dispatch", "accepted", "dispatched", "import"),
                (signed, "sign", "dispatched", "signed", dept),
            ]
            done_at = signed + (min(deadline, end) - signed) * rng.uniform(0.2, 0.9)
            if k < f:
                trail.append(
                    (signed + (done_at - signed) / 2, "handle", "signed", "handling", dept)
                )
                trail.append((done_at, "finish", "handling", "finished", dept))
                reply = f"经{catalogue.department_name(dept)}调查处理，已答复（演示数据）"
                row.update(state="finished", finished_at=done_at, reply=reply)
            tickets.rows.append(row)
            tickets.events.append(trail)
