"""The supervisor's wallboard: what it shows, built from the queue's live snapshot (Redis,
every time) and figures from the database (refreshed every few seconds, off the event loop).

Definitions (the same as the reports'; :mod:`ivr.reports`):

- offered: callers who entered the queue (today: the queue's counters per skill, kept in
  Redis by its Lua operations; last 30 minutes: ``ENTERQUEUE`` rows of ``queue_log``, less
  the callers who then served themselves, ``EXITWITHKEY``);
- answered: put through to an operator (``CONNECT``); within the service level: after a wait
  of at most ``service_level_seconds`` (15 s, queue.yaml);
- service level over offered = answered within 15 s / offered; over answered = answered
  within 15 s / answered (both are shown, labelled; the national rule is over offered);
- answer rate = answered / offered; abandoned: hung up while waiting (``ABANDON``); PBX lost:
  the caller's Asterisk box went away while the caller waited (``PBXLOST``: offered, neither
  answered nor abandoned; docs/scale-out.md);
- callbacks pending: open callback tasks (回访, 漏接回拨, 留言); tickets overdue, due soon and
  supervised (督办): open tickets, at this moment;
- calls per hour: call records by the local hour they started, today beside yesterday;
- hot issues (热点诉求): the flagged groups of the last 24 hours as ``hotline serve`` last
  found them (Redis, every ``refresh_minutes``; :mod:`ivr.hotspots`, docs/hotspots.md).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select

from ivr.db.database import Database
from ivr.db.tables import CallbackTaskRow, CallRow, QueueLogRow, TicketRow
from ivr.hotspots.refresh import read_board
from ivr.tickets.lifecycle import OPEN
from queueing.queue import RedisQueue

log = logging.getLogger(__name__)

WINDOW = dt.timedelta(minutes=30)
_OPEN = [s.value for s in OPEN]
# the board's totals: its key, the queue counter's field
SUMMED = (("offered", "offered"), ("answered", "answered"), ("in_sl", "answered_in_sl"),
          ("abandoned", "abandoned"), ("pbx_lost", "pbx_lost"))  # fmt: skip


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def figures(
    offered: int, answered: int, in_sl: int, abandoned: int, pbx_lost: int = 0
) -> dict[str, Any]:
    return {
        "offered": offered,
        "answered": answered,
        "answered_in_service_level": in_sl,
        "abandoned": abandoned,
        "pbx_lost": pbx_lost,
        "service_level_over_offered": ratio(in_sl, offered),
        "service_level_over_answered": ratio(in_sl, answered),
        "answer_rate": ratio(answered, offered),
    }


class Wallboard:
    """Builds the board. ``db_every``: how old the database's figures may be (seconds)."""

    def __init__(
        self,
        queue: RedisQueue,
        db: Database,
        *,
        db_every: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.db = db
        self.db_every = db_every
        self.clock = clock
        self._stored: dict[str, Any] = {}
        self._stored_at = -1e18
        self._refresh: asyncio.Task[None] | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.queue.settings.timezone)

    async def board(self) -> dict[str, Any]:
        """The whole board now: the queue's part read now, the database's as last read."""
        snap = await self.queue.snapshot()
        now = self.clock()
        if now - self._stored_at >= self.db_every and (
            self._refresh is None or self._refresh.done()
        ):
            self._refresh = asyncio.create_task(self._read_database(now))
            if not self._stored:  # the first board waits for them
                await self._refresh
        skills: dict[str, Any] = {}
        total = dict.fromkeys((*(k for k, _ in SUMMED), "waiting"), 0)
        longest = 0.0
        for name, s in sorted(snap["skills"].items()):
            t = s["today"]
            skills[name] = {
                "waiting": s["waiting"],
                "longest_wait_seconds": s["longest_wait_ms"] / 1000,
                "agents": s["agents"],
                **figures(*(int(t.get(field, 0)) for _, field in SUMMED)),
            }
            for key, field in SUMMED:
                total[key] += t[field]
            total["waiting"] += s["waiting"]
            longest = max(longest, s["longest_wait_ms"] / 1000)
        agents = [
            {
                "id": a["id"],
                "name": a.get("name", ""),
                "state": a.get("state") or "offline",
                "reason": a.get("reason", ""),
                "seconds_in_state": max(0.0, now - (a.get("since") or 0) / 1000),
            }
            for a in sorted(snap["agents"], key=lambda a: str(a["id"]))
        ]
        by_state: dict[str, int] = {}
        for a in agents:
            by_state[a["state"]] = by_state.get(a["state"], 0) + 1
        return {
            "type": "board",
            "time": dt.datetime.fromtimestamp(now, self.zone).isoformat(timespec="seconds"),
            "service_level_seconds": self.queue.settings.service_level_seconds,
            "total": {
                "waiting": total["waiting"],
                "longest_wait_seconds": longest,
                **figures(*(total[key] for key, _ in SUMMED)),
            },
            "skills": skills,
            "agents": agents,
            "agents_by_state": by_state,
            "hotspots": await self._hotspots(),
            **self._stored,
        }

    async def _hotspots(self) -> dict[str, Any] | None:
        try:
            return await read_board(self.queue.client, self.queue.centre)
        except Exception as exc:  # a bad or unreadable key: the rest of the board goes on
            log.warning("[HL-WEB-015] wallboard: the hot issues not read: %s", exc)
            return None

    async def _read_database(self, now: float) -> None:
        try:
            self._stored = await asyncio.to_thread(self._database_figures, now)
            self._stored_at = now
        except Exception as exc:  # the queue's part goes on; the old figures stay, flagged
            log.warning("[HL-WEB-015] wallboard: the database's figures not read: %s", exc)
            self._stored = {**self._stored, "database_error": str(exc)[:200]}
            self._stored_at = now

    def _database_figures(self, now: float) -> dict[str, Any]:
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        local = at.astimezone(self.zone)
        today, yesterday = local.date(), local.date() - dt.timedelta(days=1)
        since = at - WINDOW
        q, t = QueueLogRow, TicketRow
        with self.db.session() as s:
            counts = dict(
                s.execute(
                    select(q.event, func.count())
                    .where(q.day.in_([today, yesterday]), q.at >= since,
                           q.event.in_(["ENTERQUEUE", "ABANDON", "EXITWITHKEY", "CONNECT"]))
                    .group_by(q.event)
                ).all()
            )  # fmt: skip
            in_sl = s.scalar(
                select(func.count()).where(
                    q.event == "CONNECT", q.day.in_([today, yesterday]), q.at >= since,
                    q.wait <= self.queue.settings.service_level_seconds,
                )
            )  # fmt: skip
            overdue, due_soon, supervised = s.execute(
                select(
                    func.sum(case((t.deadline < at, 1), else_=0)),
                    func.sum(case((t.due_soon.is_(True), 1), else_=0)),
                    func.sum(case((t.supervised.is_(True), 1), else_=0)),
                ).where(t.state.in_(_OPEN))
            ).one()
            pending = s.scalar(
                select(func.count())
                .select_from(CallbackTaskRow)
                .where(CallbackTaskRow.state == "open")
            )
            starts = s.execute(
                select(CallRow.day, CallRow.started_at).where(CallRow.day.in_([today, yesterday]))
            ).all()
        hourly = {"today": [0] * 24, "yesterday": [0] * 24}
        for day, started in starts:
            started = started if started.tzinfo else started.replace(tzinfo=dt.UTC)
            hour = started.astimezone(self.zone).hour
            hourly["today" if day == today else "yesterday"][hour] += 1
        offered = int(counts.get("ENTERQUEUE", 0)) - int(counts.get("EXITWITHKEY", 0))
        return {
            "last_30_minutes": figures(
                offered,
                int(counts.get("CONNECT", 0)),
                int(in_sl or 0),
                int(counts.get("ABANDON", 0)),
            ),
            "tickets": {
                "overdue": int(overdue or 0),
                "due_soon": int(due_soon or 0),
                "supervised": int(supervised or 0),
            },
            "callbacks_pending": int(pending or 0),
            "calls_per_hour": hourly,
        }
