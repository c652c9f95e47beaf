"""The demo's calls (:mod:`ivr.devtools.demo`): the callers, one ``calls`` row per call with
its queue_log events (enter, connect and complete, or abandon), and the call-backs of the
abandoned calls. Drawn from the demo's seeded random generator, in a fixed order, so that a run
is reproducible."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any
from zoneinfo import ZoneInfo

from ivr.devtools.seed004 import CALLS, EPIDEMIC, EPIDEMIC_CALLS, scaled
from ivr.records.entries import queue_row

OPERATORS = [f"op{i:02d}" for i in range(1, 17)]


def draw_callers(rng: random.Random, tops: list[tuple[str, str]]) -> list[str]:
    """One caller per ticket: mostly distinct, a few who call again about the same thing."""
    count = len(tops)
    callers = [f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}" for _ in range(count)]
    repeaters = rng.sample(range(count), k=max(2, count // 500))
    for i in repeaters:
        j = rng.randrange(count)
        if tops[j][0] == tops[i][0]:
            callers[j] = callers[i]
    return callers


def draw_calls(
    rng: random.Random,
    days: list[dt.date],
    tz: ZoneInfo,
    callers: list[str],
    tops: list[tuple[str, str]],
    scale: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``calls`` rows, in time order, and their ``queue_log`` rows. ``len(callers)`` of
    them, drawn at random over the whole month, are answered and become the tickets (the
    i-th of them in time order the i-th ticket, see :func:`ticket_calls`); the others are
    answered without a ticket, abandoned in the queue or hung up in the menu, on every day
    too. The tickets about the epidemic (``tops``) came by the epidemic line (skill
    ``epidemic``), and so did seed 004's 258 calls about it that made no ticket."""
    count = len(callers)
    calls_total = max(scaled(CALLS, scale), count)
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
    ticketed = sorted(rng.sample(range(calls_total), count))
    index = {c: i for i, c in enumerate(ticketed)}
    epidemic_left = max(0, scaled(EPIDEMIC_CALLS - sum(EPIDEMIC.values()), scale))
    spare = max(1, calls_total - count)
    for c, local in enumerate(call_times):
        uid = f"{int(local.timestamp())}.{c}"
        i = index.get(c)
        skill = "general"
        if i is not None:
            caller = callers[i]
            outcome = "queue"
            skill = "epidemic" if tops[i][0] == "epidemic" else "general"
        else:
            caller = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
            outcome = rng.choices(["queue", "abandoned", "hangup"], [70, 20, 10])[0]
            # the epidemic line's share of the calls without a ticket, met exactly
            if outcome == "hangup" and epidemic_left >= spare:
                outcome = "abandoned"
            if outcome != "hangup" and epidemic_left and rng.random() * spare < epidemic_left:
                skill = "epidemic"
                epidemic_left -= 1
            spare -= 1
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
                "skill": None if outcome == "hangup" else skill,
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
        if i is not None:
            call_rows[-1]["_ticket"] = True
        if outcome == "hangup":
            continue
        enter = started + dt.timedelta(seconds=8)

        def q(
            at: dt.datetime,
            event: str,
            *data: str,
            agent: str = "NONE",
            uid: str = uid,
            skill: str = skill,
        ) -> None:
            queue_rows.append(
                queue_row(
                    {
                        "at": at.isoformat(),
                        "callid": uid,
                        "queue": skill,
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
    return call_rows, queue_rows


def ticket_calls(call_rows: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The calls that became the tickets, in time order (the ``count`` with a caller of the
    tickets: :func:`draw_calls` marks them ``_ticket``)."""
    out = [c for c in call_rows if c.pop("_ticket", False)]
    assert len(out) == count
    return out


def missed_tasks(call_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A call-back task, done half an hour later, for each abandoned call."""
    return [
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
