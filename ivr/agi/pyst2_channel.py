"""The :class:`ivr.engine.channel.Channel` interface over pyst2's ``AGI`` class (process AGI:
one process per call, started by Asterisk; see :mod:`ivr.process_agi` for how pyst2 signals a
gone caller). pyst2 installs a SIGHUP handler, so it runs in the main thread only.

A box that went away is told from a caller who hung up as on a FastAGI server: a living
Asterisk signals a process-AGI hangup with SIGHUP before it closes the script's pipes (res_agi's
``run_agi``, unless the dialplan set ``AGISIGHUP=no``); a killed or crashed one just leaves
them: end of file on stdin, or a broken pipe on stdout, with no SIGHUP and no ``HANGUP`` line.
That raises :class:`~ivr.errors.PBXLost` naming this host (:class:`WatchedInput` notes how
stdin ended)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

from asterisk import agi as pyst2

from ivr.engine.channel import DialResult, RecordResult
from ivr.errors import AGIHangup, PBXLost

log = logging.getLogger(__name__)
T = TypeVar("T")
#: how long a pipe that ended without a SIGHUP waits for one (Asterisk sends it first, but
#: the handler runs in the main thread while the worker thread reads the end of the pipe)
SIGHUP_GRACE = 0.3


class WatchedInput:
    """pyst2's stdin, noting how it ended: Asterisk's ``HANGUP`` line, or end of file."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.hangup_line = False
        self.ended = False

    def readline(self) -> str:
        line = self.stream.readline()
        if not line:
            self.ended = True
        elif line.strip() == "HANGUP":
            self.hangup_line = True
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _gone(exc: BaseException) -> bool:
    if isinstance(exc, ValueError | pyst2.AGIHangup):
        return True
    return isinstance(exc, pyst2.AGIUnknownError) and bool(exc.args) and exc.args[0] == 511


class Pyst2Channel:
    """The :class:`ivr.engine.channel.Channel` interface over a pyst2 ``AGI`` object.

    pyst2 is blocking: each command runs in a worker thread, one at a time, so that the event
    loop stays free for the queue hub (offers, lease renewal) while the caller listens."""

    def __init__(
        self,
        agi: Any,
        paths: Callable[[str], str] | None = None,
        recordings: Callable[[str], str] | None = None,
        *,
        lines: WatchedInput | None = None,
        box: str = "",
    ) -> None:
        self.agi = agi
        self.lines = lines  # None: the box's going away is not told from a hangup
        self.box = box
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
            if await self._box_gone(exc):
                raise PBXLost(
                    f"caller gone: Asterisk on {self.box or 'this host'} left the AGI pipe "
                    f"without a SIGHUP ({type(exc).__name__}): the box is gone",
                    self.box,
                ) from exc
            if _gone(exc) or (
                failed and isinstance(exc, pyst2.AGIAppError) and not await self.caller_present()
            ):
                raise AGIHangup(f"caller gone ({type(exc).__name__}: {exc})") from exc
            raise

    async def _box_gone(self, exc: Exception) -> bool:
        """Whether ``exc`` is the end of a pipe that Asterisk left without telling a hangup."""
        lines = self.lines
        if lines is None:
            return False
        ended = isinstance(exc, ValueError) and lines.ended
        if not (ended or isinstance(exc, pyst2.AGISIGPIPEHangup)) or lines.hangup_line:
            return False
        for _ in range(int(SIGHUP_GRACE / 0.02)):  # pyst2's handler sets the flag
            if self.agi._got_sighup:
                return False
            await asyncio.sleep(0.02)
        return not self.agi._got_sighup

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
            log.warning("[HL-AGI-010] could not play %s", prompt)
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

    async def conference(self, room: str, bridge_profile: str, user_profile: str) -> None:
        """``ConfBridge(room,bridge,user)`` until the caller leaves the room: a transfer's
        three-party call (docs/transfers.md)."""
        data = f"{room},{bridge_profile},{user_profile}"
        with contextlib.suppress(pyst2.AGIAppError):  # -1 when the caller hung up there
            await self._execute("EXEC", "ConfBridge", f'"{data}"', failed=False)
