"""``hotline seed-demo``: a month of realistic generated traffic.

The profile is seed 004 (Siping, 9-29 Feb 2020): at ``scale=1`` the generated month gives
*exactly* the report's figures - 8570 calls, 6610 accepted, 6572 finished, the 疫情 counts by
type, the eleven categories, and the per-department table (件数 / 办结). Other scales
multiply every figure (rounded). Everything else (times, callers, waits, satisfaction,
overdue tickets, repeated requests) is drawn from a seeded random generator, so a run is
reproducible. Rows are written in bulk (a few statements), not one by one.

The figures are Siping's, so the catalogue must have seed 004's departments, categories and
types: the shipped demo catalogue ``config/demo-siping`` (:data:`DEMO_CONFIG_DIR`, the
default of ``hotline seed-demo``) has them; any other catalogue (the Hohhot line config in
``config/``) is refused before anything is written. The profile and that check are
:mod:`ivr.devtools.seed004`.
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
from ivr.db.models import (
    CallbackTaskRow,
    CallRow,
    QueueLogRow,
    TicketCallRow,
    TicketCounterRow,
    TicketEventRow,
    TicketRow,
)
from ivr.devtools.seed004 import (
    ACCEPTED,
    CALLS,
    CATEGORIES,
    DEPARTMENTS,
    EPIDEMIC,
    FINISHED,
    OTHER_TYPES,
    check_demo_catalogue,
)
from ivr.records.entries import queue_row
from ivr.reports import Period
from ivr.tickets.deadlines import Deadlines
from ivr.tickets.errors import BadTicketInput
from ivr.tickets.numbering import format_number
from ivr.tickets.supervision import sweep

SATISFACTION_WEIGHTS = {5: 55, 4: 30, 3: 10, 2: 4, 1: 1}
OPERATORS = [f"op{i:02d}" for i in range(1, 17)]


@dataclass
class DemoResult:
    calls: int
    tickets: int
    finished: int
    queue_events: int


def _scaled(n: int, scale: float) -> int:
    return round(n * scale)


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

    # -- tickets: (top category, type), with departments and finished flags --------------
    tops: list[tuple[str, str]] = []
    for type_, n in EPIDEMIC.items():
        tops += [("epidemic", type_)] * _scaled(n, scale)
    types, weights = zip(*OTHER_TYPES.items(), strict=True)
    for top, n in CATEGORIES.items():
        tops += [(top, rng.choices(types, weights)[0]) for _ in range(_scaled(n, scale))]
    rng.shuffle(tops)
    count = len(tops)
    unfinished_total = _scaled(ACCEPTED - FINISHED, scale)

    dept_of: list[str | None] = [None] * count
    finished = [True] * count
    pool = list(range(count))
    rng.shuffle(pool)
    taken: set[int] = set()
    dept_unfinished = 0
    for code, (n, f) in DEPARTMENTS.items():
        n, f = _scaled(n, scale), _scaled(f, scale)
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

    # -- callers: mostly distinct, a few who call again about the same thing --------------
    callers = [f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}" for _ in range(count)]
    repeaters = rng.sample(range(count), k=max(2, count // 500))
    for i in repeaters:
        j = rng.randrange(count)
        if tops[j][0] == tops[i][0]:
            callers[j] = callers[i]

    calls_total = max(_scaled(CALLS, scale), count)
    call_rows: list[dict[str, Any]] = []
    queue_rows: list[dict[str, Any]] = []
    call_times: list[dt.datetime] = []
    for _ in range(calls_total):
        day = rng.choice(days)
        local = dt.datetime.combine(day, dt.time(7), tz) + dt.timedelta(
            seconds=rng.randrange(15 * 3600)
        )
        call_times.append(local)
    call_times.sort()
    for c, local in enumerate(call_times):
        uid = f"{int(local.timestamp())}.{c}"
        caller = callers[c] if c < count else f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        if c < count:
            outcome = "queue"
        else:
            outcome = rng.choices(["queue", "abandoned", "hangup"], [70, 20, 10])[0]
        started = local.astimezone(dt.UTC)
        wait = rng.expovariate(1 / 9.0)
        talk = rng.uniform(60, 420)
        ended = started + dt.timedelta(seconds=(wait + talk if outcome == "queue" else wait))
        call_rows.append(
            {
                "uniqueid": uid,
                "caller": caller,
                "caller_name": "",
                "dialled": "12345",
                "channel": f"PJSIP/trunk-{c:08x}",
                "config_version": "demo",
                "line_number": None,
                "line_name": None,
                "line_mode": None,
                "department": None,
                "accessible": False,
                "started_at": started,
                "ended_at": ended,
                "day": local.date(),
                "duration": (ended - started).total_seconds(),
                "outcome": outcome,
                "outcome_detail": "",
                "hangup_cause": "",
                "hangup_node": "main" if outcome == "hangup" else None,
                "skill": None if outcome == "hangup" else "general",
                "priority": 0,
                "queue_position": None,
                "queue_wait": round(wait, 1) if outcome == "queue" else None,
                "agent": rng.choice(OPERATORS) if outcome == "queue" else None,
                "recording": None,
                "survey_score": None,
                "path": ["main"],
                "digits": "",
                "messages": [],
                "events": [],
            }
        )
        if outcome == "hangup":
            continue
        enter = started + dt.timedelta(seconds=8)

        def q(at: dt.datetime, event: str, *data: str, agent: str = "NONE", uid: str = uid) -> None:
            queue_rows.append(
                queue_row(
                    {
                        "at": at.isoformat(),
                        "callid": uid,
                        "queue": "general",
                        "agent": agent,
                        "event": event,
                        "data": list(data),
                    },
                    tz,
                )
            )

        q(enter, "ENTERQUEUE", "", caller)
        left = enter + dt.timedelta(seconds=wait)
        if outcome == "queue":
            agent = str(call_rows[-1]["agent"])
            q(left, "CONNECT", str(round(wait)), uid + "-agent", "3", agent=agent)
            q(ended, "COMPLETECALLER", str(round(wait)), str(round(talk)), "1", agent=agent)
        else:
            q(left, "ABANDON", "1", "1", str(round(wait)))

    # -- ticket rows -------------------------------------------------------------------
    ticket_rows: list[dict[str, Any]] = []
    events: list[list[tuple[dt.datetime, str, str | None, str, str]]] = []
    seq: dict[dt.date, int] = {}
    end_utc = dt.datetime.combine(period.end, dt.time(0), tz).astimezone(dt.UTC)
    now = end_utc
    for i, (top, type_) in enumerate(tops):
        call = call_rows[i]
        accepted = call["started_at"] + dt.timedelta(seconds=rng.uniform(30, 240))
        day = accepted.astimezone(tz).date()
        seq[day] = seq.get(day, 0) + 1
        children = [p for p in catalogue.categories if p.startswith(top + ".")]
        category = rng.choice(children) if children else top
        deadline = deadlines.due(accepted, catalogue.deadline_days(type_))
        actor = str(call["agent"])
        trail: list[tuple[dt.datetime, str, str | None, str, str]] = [
            (accepted, "accept", None, "accepted", actor)
        ]
        dept = dept_of[i]
        row: dict[str, Any] = {
            "number": format_number(day, seq[day]),
            "call_uniqueid": call["uniqueid"],
            "source": "phone",
            "accepted_at": accepted,
            "accepted_day": day,
            "accepted_by": actor,
            "caller": call["caller"],
            "caller_name": "",
            "confidential": False,
            "dialled": "12345",
            "type": type_,
            "category": category,
            "category_top": top,
            "content": f"{catalogue.category_name(category)}（演示数据）",
            "address": "",
            "urgency": 0,
            "department": dept,
            "state": "accepted",
            "deadline": deadline,
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
        t = accepted
        if dept is not None:
            for action, state in (("dispatch", "dispatched"), ("sign", "signed")):
                t += dt.timedelta(minutes=rng.uniform(5, 120))
                trail.append(
                    (t, action, trail[-1][3], state, actor if action == "dispatch" else dept)
                )
            row["state"] = "signed"
        if finished[i]:
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
            row.update(state="finished", finished_at=done_at, reply="已答复（演示数据）")
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

    with db.session() as s:
        # Core inserts (executemany in batches), not ORM bulk: much faster.
        s.execute(insert(_table(CallRow)), call_rows)
        s.execute(insert(_table(QueueLogRow)), queue_rows)
        s.execute(insert(_table(TicketRow)), ticket_rows)
        by_number = {
            number: tid
            for tid, number in s.execute(
                select(TicketRow.id, TicketRow.number).where(
                    TicketRow.accepted_day >= period.start, TicketRow.accepted_day < period.end
                )
            )
        }
        ids = [by_number[r["number"]] for r in ticket_rows]
        s.execute(
            insert(_table(TicketCallRow)),
            [
                {"ticket_id": tid, "call_uniqueid": r["call_uniqueid"]}
                for tid, r in zip(ids, ticket_rows, strict=True)
            ],
        )
        s.execute(
            insert(_table(TicketEventRow)),
            [
                {
                    "ticket_id": tid,
                    "at": at,
                    "actor": actor,
                    "action": action,
                    "from_state": before,
                    "to_state": after,
                    "note": "",
                }
                for tid, trail in zip(ids, events, strict=True)
                for at, action, before, after, actor in trail
            ],
        )
        tasks = [
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
            for tid, r in zip(ids, ticket_rows, strict=True)
            if r["finished_at"] is not None
        ]
        tasks += [
            {
                "kind": "missed",
                "ref": c["uniqueid"],
                "ticket_id": None,
                "call_uniqueid": c["uniqueid"],
                "caller": c["caller"],
                "created_at": c["ended_at"],
                "state": "done",
                "attempts": 1,
                "done_at": c["ended_at"] + dt.timedelta(minutes=30),
                "result": "已回拨",
            }
            for c in call_rows
            if c["outcome"] == "abandoned"
        ]
        if tasks:
            s.execute(insert(_table(CallbackTaskRow)), tasks)
        for day, last in seq.items():
            key = f"{day:%Y%m%d}"
            counter = s.get(TicketCounterRow, key)
            if counter is None:
                s.add(TicketCounterRow(day=key, last=last))
            else:
                counter.last = max(counter.last, last)
        s.flush()
        sweep(s, now, catalogue.due_soon_hours, deadlines.local_day)
    return DemoResult(
        calls=len(call_rows),
        tickets=len(ticket_rows),
        finished=sum(finished),
        queue_events=len(queue_rows),
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
