"""Process AGI: run the menu engine for one call through pyst2's ``AGI`` class.

For Asterisk deployments that start ``agi_scripts/hotline.agi`` as a process per call, and as
the dialplan's second line of defence when no FastAGI server answers. pyst2 signals a gone
caller in several ways, and all of them end the call cleanly here (a call an earlier attempt
served is never queued again: the engine reads the channel's state first, as on a server):

- ``ValueError`` when Asterisk sends a ``HANGUP`` line or closes stdin (EOF): pyst2 parses
  the reply code with ``int('')``;
- ``AGISIGHUPHangup`` after Asterisk's SIGHUP, ``AGIResultHangup``, ``AGISIGPIPEHangup``;
- ``AGIUnknownError`` for a ``511`` reply (command on a dead channel);
- ``AGIAppError`` for ``result=-1`` (``WAIT FOR DIGIT``, ``STREAM FILE``, ``RECORD FILE``
  ... when the caller hangs up during the command): the channel is asked whether the caller
  is still there (``CHANNEL STATUS``), and a gone caller ends the call as a hangup, so that a
  caller who hangs up while waiting is recorded as ``abandoned`` and leaves the queue at once.

It is the same hotline as a server: the survey after an answered call (the score goes on the
call record as a ``survey`` event, which sets the call's ``survey_score`` when the record is
imported), and the reaper (:class:`ScriptHub`) ends wrap-ups while no server runs one.

pyst2 installs a SIGHUP handler, so this runs in the main thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from asterisk import agi as pyst2

from ivr.agi.channel import call_info_from_env
from ivr.engine.channel import DialResult, RecordResult
from ivr.errors import AGIHangup
from queueing import keys
from queueing.hub import QueueHub
from queueing.queue import RedisQueue, TickResult

log = logging.getLogger(__name__)
T = TypeVar("T")


def _gone(exc: BaseException) -> bool:
    if isinstance(exc, ValueError | pyst2.AGIHangup):
        return True
    return isinstance(exc, pyst2.AGIUnknownError) and bool(exc.args) and exc.args[0] == 511


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


class Pyst2Channel:
    """The :class:`ivr.engine.channel.Channel` interface over a pyst2 ``AGI`` object.

    pyst2 is blocking: each command runs in a worker thread, one at a time, so that the event
    loop stays free for the queue hub (offers, lease renewal) while the caller listens."""

    def __init__(
        self,
        agi: Any,
        paths: Callable[[str], str] | None = None,
        recordings: Callable[[str], str] | None = None,
    ) -> None:
        self.agi = agi
        # as in ivr.agi.channel.AGIChannel: a prompt's and a recording's path as Asterisk
        # sees it (this script runs on Asterisk's host)
        self.paths: Callable[[str], str] = paths or (lambda path: path)
        self.recordings: Callable[[str], str] = recordings or self.paths

    async def _run(self, fn: Callable[..., T], *args: Any, failed: bool = True) -> T:
        """Run a pyst2 call in a worker thread. A gone caller raises :class:`AGIHangup`; so
        does a failed command (``result=-1``, pyst2's ``AGIAppError``) once the channel says
        the caller is gone, unless ``failed`` is False (the caller handles ``-1`` itself)."""
        try:
            return await asyncio.to_thread(fn, *args)
        except Exception as exc:
            if _gone(exc) or (
                failed and isinstance(exc, pyst2.AGIAppError) and not await self.caller_present()
            ):
                raise AGIHangup(f"caller gone ({type(exc).__name__}: {exc})") from exc
            raise

    async def _execute(
        self, command: str, *args: Any, failed: bool = True
    ) -> dict[str, tuple[str, str]]:
        """``AGI.execute``, skipping the ``100 result=0 Trying...`` line some commands send."""
        try:
            result: dict[str, tuple[str, str]] = await self._run(
                self.agi.execute, command, *args, failed=failed
            )
        except pyst2.AGIUnknownError as exc:
            if exc.args and exc.args[0] == 100:
                follow: dict[str, tuple[str, str]] = await self._run(
                    self.agi.get_result, failed=failed
                )
                return follow
            raise
        return result

    async def answer(self) -> None:
        await self._execute("ANSWER")

    async def play(self, prompt: str, escape_digits: str = "") -> str:
        try:
            result = await self._execute(
                "STREAM FILE", f'"{self.paths(prompt)}"', f'"{escape_digits}"', 0
            )
        except pyst2.AGIAppError:
            # result=-1 with the caller still there: the file could not be played
            log.warning("HL-AGI-010 could not play %s", prompt)
            return ""
        code = result["result"][0]
        return chr(int(code)) if code not in ("0", "") else ""

    async def wait_digit(self, timeout: float) -> str:
        digit: str = await self._run(self.agi.wait_for_digit, int(timeout * 1000))
        return digit

    async def record(
        self, path: str, fmt: str, escape_digits: str, max_seconds: float, silence_seconds: float
    ) -> RecordResult:
        where = self.recordings(path)
        Path(where).parent.mkdir(parents=True, exist_ok=True)
        args: list[Any] = [f'"{where}"', fmt, f'"{escape_digits}"', int(max_seconds * 1000)]
        if silence_seconds:
            args += ["0", "beep", f"s={int(silence_seconds)}"]
        result = await self._execute("RECORD FILE", *args)
        code, data = result["result"]
        ended_by = data or "timeout"
        digit = chr(int(code)) if ended_by == "dtmf" and code.isdigit() else ""
        return RecordResult(f"{path}.{fmt}", ended_by, digit)

    async def set_variable(self, name: str, value: str) -> None:
        await self._run(self.agi.set_variable, name, value)

    async def evaluate(self, expression: str) -> str:
        """``GET FULL VARIABLE`` (runs on a hung-up channel too)."""
        value: str = await self._run(self.agi.get_full_variable, expression)
        return value or ""

    async def caller_present(self) -> bool:
        try:
            status: int = await self._run(self.agi.channel_status, failed=False)
        except (AGIHangup, pyst2.AGIAppError):
            return False  # 511 (dead channel), SIGHUP, or -1 (no such channel)
        return status > 0

    async def music_on_hold(self, on: bool, moh_class: str = "default") -> None:
        if on:
            await self._execute("SET MUSIC", "on", moh_class)
        else:
            await self._execute("SET MUSIC", "off")

    async def start_recording(self, path: str) -> None:
        await self._execute("EXEC", "MixMonitor", f'"{self.recordings(path)},b"')

    async def dial(self, dialstring: str, timeout: float, options: str = "") -> DialResult:
        data = f"{dialstring},{max(0, round(timeout))}" + (f",{options}" if options else "")
        with contextlib.suppress(pyst2.AGIAppError):
            # Dial returns -1 (pyst2 raises) after a bridged call and when the caller hangs
            # up; DIALSTATUS tells which, and GET VARIABLE still works on a dead channel.
            await self._execute("EXEC", "Dial", f'"{data}"', failed=False)
        status: str = await self._run(self.agi.get_variable, "DIALSTATUS") or "CANCEL"
        seconds = 0.0
        if status == "ANSWER":
            with contextlib.suppress(ValueError):
                seconds = float(await self._run(self.agi.get_variable, "ANSWEREDTIME") or 0)
        return DialResult(status, seconds)


def main() -> int:
    """Run one call. Exits 0 when the call ended the way calls end (including hangups)."""
    from ivr.engine.store import JournalStore
    from ivr.runtime import ConfigHolder
    from ivr.settings import Settings

    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="hotline.agi %(levelname)s %(message)s"
    )
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    debug = sys.stderr if os.environ.get("HOTLINE_AGI_DEBUG") else open(os.devnull, "w")  # noqa: SIM115
    try:
        agi = pyst2.AGI(stdin=stdin, stdout=sys.stdout, stderr=debug)
    except ValueError:
        return 0  # EOF before the header ended: nobody to serve
    if "agi_uniqueid" not in agi.env:
        log.warning("HL-AGI-011 the AGI header ended early (no agi_uniqueid); nothing to serve")
        return 0
    settings = Settings.from_env()
    holder = ConfigHolder(settings.config_dir, settings.recordings_dir)
    info = call_info_from_env(agi.env)

    async def run() -> None:
        from ivr.db.database import Database, database_url
        from ivr.engine.menu import MenuEngine
        from ivr.queuewait.waiter import RedisQueueWaiter
        from ivr.records.store import TicketNumbers
        from ivr.service import LiveCalls

        bundle = holder.current
        queue = RedisQueue.from_url(settings.redis_url, bundle.queue.settings)
        # The caller waits in the Redis queue as with a FastAGI server (music, position,
        # callback offer, the operator's Dial, the survey), held by this process. The
        # reaper runs here only while no server runs one; no event pump (events wait in
        # Redis for the servers) and no closing of lost calls (the servers do that).
        hub = ScriptHub(queue)
        tracker = LiveCalls(queue, hub)  # the live-call registry, as on a server
        waiter = RedisQueueWaiter(
            hub,
            options=bundle.queue,
            prompt=bundle.prompt_path,
            pieces=bundle.prompt_pieces,
            record_calls=True,
            tickets=TicketNumbers(Database(database_url(settings.var_dir)), bundle.hours.timezone),
            tracker=tracker,
            survey=RecordedSurvey(),
        )
        await hub.start()
        try:
            engine = MenuEngine(
                bundle,
                queue,
                JournalStore(settings.journal),
                waiter=waiter,
                server=queue.server,
                tracker=tracker,
            )
            await engine.run(
                Pyst2Channel(agi, settings.for_asterisk, settings.recording_for_asterisk), info
            )
        finally:
            await hub.stop()
            await queue.close()

    asyncio.run(run())
    return 0
