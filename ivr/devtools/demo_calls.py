"""The demo's calls (:mod:`ivr.devtools.demo`): the callers, one ``calls`` row per call with
its queue_log events (enter, connect and complete, or abandon), and the call-backs of the
abandoned calls. Drawn from the demo's seeded random generator, in a fixed order, so that a run
is reproducible."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any
from zoneinfo import ZoneInfo

from ivr.devtools.seed004 import CALLS, scaled
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
    scale: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``calls`` rows, in time order, and their ``queue_log`` rows. The first
    ``len(callers)`` calls are answered and become the tickets; the rest are answered,
    abandoned in the queue or hung up in the menu."""
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
    return call_rows, queue_rows


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
