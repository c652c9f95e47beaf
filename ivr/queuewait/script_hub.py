"""The process-AGI script's side of the queue: its hub (offers, leases and the epoch watch as
on a server; the reaper only while no server runs one) and its survey sink (the score goes on
the call record). Wired by :func:`ivr.compose.run_process_call`."""

from __future__ import annotations

import logging

from queueing import keys
from queueing.hub import QueueHub
from queueing.queue import RedisQueue, TickResult

log = logging.getLogger(__name__)


def server_gap_ms(queue: RedisQueue) -> int:
    """How long no reaper may have run before every server counts as away: the gap after
    which :meth:`RedisQueue.tick` forgives the operators the heartbeats they could not send
    (the same formula)."""
    return max(5000, 3 * int(queue.settings.tick_seconds * 1000))


class ScriptHub(QueueHub):
    """The process script's hub: offers, leases and the epoch watch as on a server, and the
    reaper (wrap-ups, leases, heartbeats) only while no server runs one.

    A tick reaps only when the last reaper (any process's) ran more than
    :func:`server_gap_ms` ago. While a server runs, its reaper does the work; while none
    runs, the scripts holding calls reap about every ``max(5 s, 3 ticks)``, and each of
    their reaper runs comes after such a gap, so the operators' heartbeat deadlines (their
    desks talk to the servers, which are away) are pushed on, never judged: nobody is logged
    out for heartbeats only the servers could receive. A wrap-up ends at most that long after
    it is due. Lost calls are never taken (no ``on_lost``: the servers close those)."""

    def __init__(self, queue: RedisQueue) -> None:
        super().__init__(queue, reaper=False)
        self.reaped = 0  # ticks that reaped

    async def no_server_reaps(self) -> bool:
        """No reaper ran for longer than :func:`server_gap_ms` (one GET)."""
        raw = await self.queue.client.get(keys.reaper_at(self.queue.centre))
        if raw is None:
            return True  # no reaper ever ran
        try:
            last = int(raw)
        except ValueError:
            return True  # unreadable: a reaper run sets it anew
        return self.queue.now_ms() - last > server_gap_ms(self.queue)

    async def tick_now(self, *, mirror: bool | None = None) -> TickResult:
        self.reaper = await self.no_server_reaps()
        result = await super().tick_now(mirror=mirror)
        if self.reaper:
            self.reaped += 1
        return result


class RecordedSurvey:
    """The survey sink of the process script (:class:`ivr.queuewait.waiter.SurveySink`): the
    waiter puts the score on the call record (a ``survey`` event), and the import of
    ``var/calls.jsonl`` by the servers sets the call's ``survey_score`` from it."""

    async def survey(self, uniqueid: str, score: int) -> None:
        log.info("call %s: survey %d (on its call record)", uniqueid, score)
