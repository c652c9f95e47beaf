"""The demo's tickets (:mod:`ivr.devtools.demo`): which tickets the month has (seed 004's
categories and types, their departments and which are finished), one ``tickets`` row per
answered call with its audit trail (accept, dispatch, sign, handle, finish, 回访, archive), and
what goes with the rows (the link to the call, the events, the 回访 tasks, the day counters of
the ticket numbers). Drawn from the demo's seeded random generator, in a fixed order, so that
a run is reproducible."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ivr.config.catalogue import Catalogue
from ivr.db.tables import TicketCounterRow
from ivr.devtools.demo_words import address, content
from ivr.devtools.seed004 import (
    ACCEPTED,
    CATEGORIES,
    DEPARTMENTS,
    EPIDEMIC,
    FINISHED,
    OTHER_TYPES,
    scaled,
)
from ivr.reports import Period
from ivr.tickets.deadlines import Deadlines
from ivr.tickets.numbering import format_number

SATISFACTION_WEIGHTS = {5: 55, 4: 30, 3: 10, 2: 4, 1: 1}

#: one audit event: (at, action, from state, to state, actor)
Event = tuple[dt.datetime, str, str | None, str, str]


@dataclass
class TicketPlan:
    """The month's tickets before their calls: each one's (top category, type), department
    (None: answered on the phone) and whether it is finished."""

    tops: list[tuple[str, str]]
    dept_of: list[str | None]
    finished: list[bool]


@dataclass
class DemoTickets:
    """The ``tickets`` rows, each one's audit trail, and the last number given each day."""

    rows: list[dict[str, Any]]
    events: list[list[Event]]
    seq: dict[dt.date, int]


def plan_tickets(rng: random.Random, catalogue: Catalogue, scale: float) -> TicketPlan:
    """Seed 004's tickets at ``scale``: the 疫情 types and the categories' counts, each
    department's 件数 and 办结, the rest unfinished up to the profile's figure."""
    tops: list[tuple[str, str]] = []
    for type_, n in EPIDEMIC.items():
        tops += [("epidemic", type_)] * scaled(n, scale)
    types, weights = zip(*OTHER_TYPES.items(), strict=True)
    for top, n in CATEGORIES.items():
        tops += [(top, rng.choices(types, weights)[0]) for _ in range(scaled(n, scale))]
    rng.shuffle(tops)
    count = len(tops)
    unfinished_total = scaled(ACCEPTED - FINISHED, scale)

    dept_of: list[str | None] = [None] * count
    finished = [True] * count
    pool = list(range(count))
    rng.shuffle(pool)
    taken: set[int] = set()
    dept_unfinished = 0
    for code, (n, f) in DEPARTMENTS.items():
        n, f = scaled(n, scale), scaled(f, scale)
        fits = [
            i for i in pool if i not in taken and catalogue.default_department(tops[i][0]) == code
        ]
        others = [
            i
            for i in pool
            if i not in taken and tops[i][0] in ("rural_other", "epidemic", "enforcement")
        ]
        chosen = (fits + others)[:n]
        for k, i in enumerate(chosen):
            taken.add(i)
            dept_of[i] = code
            if k >= f:
                finished[i] = False
                dept_unfinished += 1
    free = [i for i in pool if i not in taken]
    for i in free[: max(0, unfinished_total - dept_unfinished)]:
        finished[i] = False
    return TicketPlan(tops, dept_of, finished)


def draw_tickets(
    rng: random.Random,
    catalogue: Catalogue,
    deadlines: Deadlines,
    period: Period,
    tz: ZoneInfo,
    plan: TicketPlan,
    call_rows: list[dict[str, Any]],
) -> DemoTickets:
    """One ticket per planned ticket, accepted during its call (``call_rows``, in order), with
    its trail up to the end of ``period``: dispatched and signed when it has a department,
    finished (a few late), visited and archived."""
    ticket_rows: list[dict[str, Any]] = []
    events: list[list[Event]] = []
    seq: dict[dt.date, int] = {}
    end_utc = dt.datetime.combine(period.end, dt.time(0), tz).astimezone(dt.UTC)
    now = end_utc
    for i, (top, type_) in enumerate(plan.tops):
        call = call_rows[i]
        accepted = call["started_at"] + dt.timedelta(seconds=rng.uniform(30, 240))
        day = accepted.astimezone(tz).date()
        seq[day] = seq.get(day, 0) + 1
        children = [p for p in catalogue.categories if p.startswith(top + ".")]
        category = rng.choice(children) if children else top
        deadline = deadlines.due(accepted, catalogue.deadline_days(type_))
        actor = str(call["agent"])
        trail: list[Event] = [(accepted, "accept", None, "accepted", actor)]
        dept = plan.dept_of[i]
        row = blank_row(
            number=format_number(day, seq[day]),
            call_uniqueid=call["uniqueid"],
            accepted_at=accepted,
            accepted_day=day,
            accepted_by=actor,
            caller=call["caller"],
            type=type_,
            category=category,
            category_top=top,
            content=content(rng, category, type_, catalogue.category_name(category))
            + "（演示数据）",
            address=address(rng, top),
            department=dept,
            deadline=deadline,
        )
        t = accepted
        if dept is not None:
            for action, state in (("dispatch", "dispatched"), ("sign", "signed")):
                t += dt.timedelta(minutes=rng.uniform(5, 120))
                trail.append(
                    (t, action, trail[-1][3], state, actor if action == "dispatch" else dept)
                )
            row["state"] = "signed"
        if plan.finished[i]:
            late = rng.random() < 0.03
            span = (deadline - accepted) * (
                rng.uniform(1.05, 1.6) if late else rng.uniform(0.05, 0.9)
            )
            done_at = accepted + span if dept is not None else t + dt.timedelta(minutes=4)
            if dept is not None:
                trail.append((done_at - (done_at - t) / 2, "handle", "signed", "handling", dept))
                trail.append((done_at, "finish", "handling", "finished", dept))
            else:
                trail.append((done_at, "answer", "accepted", "finished", actor))
            reply = (
                f"经{catalogue.department_name(dept)}调查处理，已答复反映人（演示数据）"
                if dept is not None
                else "已直接解答（演示数据）"
            )
            row.update(state="finished", finished_at=done_at, reply=reply)
            row["was_overdue"] = done_at > deadline
            if rng.random() < 0.8 and done_at + dt.timedelta(days=1) < now:
                level = rng.choices(
                    list(SATISFACTION_WEIGHTS), list(SATISFACTION_WEIGHTS.values())
                )[0]
                at = done_at + dt.timedelta(hours=rng.uniform(2, 20))
                trail.append((at, "callback", "finished", "visited", "visit01"))
                row.update(state="visited", satisfaction=level, solved=level >= 3)
                if level >= 3 and rng.random() < 0.7:
                    trail.append(
                        (at + dt.timedelta(hours=1), "archive", "visited", "archived", "visit01")
                    )
                    row["state"] = "archived"
        ticket_rows.append(row)
        events.append(trail)
    return DemoTickets(ticket_rows, events, seq)


def blank_row(**values: Any) -> dict[str, Any]:
    """A ``tickets`` row as accepted (by phone unless ``source`` says), with ``values``."""
    row: dict[str, Any] = {
        "call_uniqueid": None,
        "source": "phone",
        "external_id": None,
        "received_at": None,
        "caller_name": "",
        "confidential": False,
        "dialled": "12345",
        "address": "",
        "urgency": 0,
        "department": None,
        "state": "accepted",
        "extension_requested": None,
        "finished_at": None,
        "reply": "",
        "satisfaction": None,
        "survey_score": None,
        "solved": None,
        "merged_into": None,
        "due_soon": False,
        "overdue": False,
        "was_overdue": False,
        "supervised": False,
        "reminders": 0,
        "returns": 0,
        "extensions": 0,
        "redos": 0,
        "version": 1,
    }
    row.update(values)
    return row


def link_rows(ids: list[int], tickets: DemoTickets) -> list[dict[str, Any]]:
    """The ``ticket_calls`` rows: each ticket (by its id) and its call."""
    return [
        {"ticket_id": tid, "call_uniqueid": r["call_uniqueid"]}
        for tid, r in zip(ids, tickets.rows, strict=True)
        if r["call_uniqueid"] is not None
    ]


def event_rows(ids: list[int], tickets: DemoTickets) -> list[dict[str, Any]]:
    """The ``ticket_events`` rows of every ticket's trail."""
    return [
        {
            "ticket_id": tid,
            "at": at,
            "actor": actor,
            "action": action,
            "from_state": before,
            "to_state": after,
            "note": "",
        }
        for tid, trail in zip(ids, tickets.events, strict=True)
        for at, action, before, after, actor in trail
    ]


def visit_tasks(ids: list[int], tickets: DemoTickets) -> list[dict[str, Any]]:
    """A 回访 task for each finished ticket: done when it was visited, else open."""
    return [
        {
            "kind": "visit",
            "ref": r["number"],
            "ticket_id": tid,
            "call_uniqueid": r["call_uniqueid"],
            "caller": r["caller"],
            "created_at": r["finished_at"],
            "state": "done" if r["satisfaction"] is not None else "open",
            "attempts": int(r["satisfaction"] is not None),
            "done_at": None,
            "result": "",
        }
        for tid, r in zip(ids, tickets.rows, strict=True)
        if r["finished_at"] is not None
    ]


def count_numbers(s: Session, tickets: DemoTickets) -> None:
    """Each day's ticket counter at least the last number the demo gave that day."""
    for day, last in tickets.seq.items():
        key = f"{day:%Y%m%d}"
        counter = s.get(TicketCounterRow, key)
        if counter is None:
            s.add(TicketCounterRow(day=key, last=last))
        else:
            counter.last = max(counter.last, last)
