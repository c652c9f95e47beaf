"""The menu engine's :class:`~ivr.engine.channel.Channel` over a FastAGI session.

Reply meanings follow res_agi.c (Asterisk 22):

* ``STREAM FILE``: ``200 result=<ascii of the digit>|0|-1 endpos=<sample>``. A prompt that
  cannot be opened answers ``200 result=-1 endpos=0`` at once while the channel is fine (the
  call goes on; AGISTATUS ends FAILURE). A hangup during playback answers -1 with the position
  reached and is followed by a ``HANGUP`` line ~40 ms later. So -1 with endpos 0 is "nothing
  heard" (with a warning; a hangup surfaces on the next command), -1 past 0 is a hangup.
* ``WAIT FOR DIGIT <ms>``: ``200 result=<ascii>|0|-1`` (-1: hangup).
* ``RECORD FILE``: ``200 result=<ascii> (dtmf) endpos=N``, ``200 result=<r> (timeout) endpos=N``
  (the limit *or* silence: res_agi does not tell them apart), ``200 result=-1 (hangup)
  endpos=N`` (what was said is kept), ``(writefile)``/``(randomerror)``/``(waitfor)`` on errors.
* ``EXEC Dial``: ``200 result=0``, or -1 when the caller hung up, -2 when Dial is missing;
  the outcome is in ``DIALSTATUS`` and ``ANSWEREDTIME`` (both readable after a hangup).
* ``GET FULL VARIABLE <expr>``: ``200 result=1 (<expr substituted>)``, unset variables empty;
  one quoted argument (an unquoted blank splits it: 520). Runs on a hung-up channel, as do
  ``SET VARIABLE`` and ``GET VARIABLE``; ``CHANNEL STATUS`` does not (511).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ivr.agi.protocol import AGIReply, header_args
from ivr.agi.session import AGISession
from ivr.engine.channel import CallInfo, DialResult, RecordResult
from ivr.errors import AGICommandError, AGIHangup

__all__ = ["AGIChannel", "call_info_from_env"]

log = logging.getLogger(__name__)

#: Fields Asterisk sends as "unknown" when the party information is not valid.
_UNKNOWN = "unknown"
_MAPPED = frozenset(
    {
        "agi_uniqueid",
        "agi_callerid",
        "agi_calleridname",
        "agi_dnid",
        "agi_extension",
        "agi_channel",
        "agi_context",
    }
)


def _known(value: str) -> str:
    return "" if value == _UNKNOWN else value


def call_info_from_env(env: dict[str, str]) -> CallInfo:
    """What the AGI header tells about the call. ``unknown`` party fields become ""."""
    args = header_args(env)
    if args:
        extra = {k: v for k, v in env.items() if k not in _MAPPED and not k.startswith("agi_arg_")}
    else:
        extra = {k: v for k, v in env.items() if k not in _MAPPED}
    return CallInfo(
        uniqueid=env.get("agi_uniqueid", ""),
        caller=_known(env.get("agi_callerid", "")),
        caller_name=_known(env.get("agi_calleridname", "")),
        dnid=_known(env.get("agi_dnid", "")),
        extension=env.get("agi_extension", ""),
        channel=env.get("agi_channel", ""),
        context=env.get("agi_context", ""),
        arguments=tuple(args),
        extra=extra,
    )


def _digit(reply: AGIReply) -> int:
    r = reply.result_int
    if r is None:
        raise AGICommandError(f"unexpected AGI reply: {reply}")
    return r


class AGIChannel:
    """Implements :class:`ivr.engine.channel.Channel` with AGI commands on ``session``.

    ``margin`` is added to the time a command should take (a prompt's length is not known,
    so playback gets ``play_timeout``) before the session is declared stuck.
    """

    def __init__(
        self,
        session: AGISession,
        *,
        margin: float = 10.0,
        play_timeout: float = 900.0,
        paths: Callable[[str], str] | None = None,
        recordings: Callable[[str], str] | None = None,
    ) -> None:
        self.session = session
        self.margin = margin
        self.play_timeout = play_timeout
        # a prompt's path as this host sees it -> as Asterisk sees it (Settings.for_asterisk)
        self.paths: Callable[[str], str] = paths or (lambda path: path)
        # a recording's path as records keep it (relative to the recordings root) -> as
        # Asterisk sees it (Settings.recording_for_asterisk); the record keeps the former
        self.recordings: Callable[[str], str] = recordings or self.paths

    async def music_on_hold(self, on: bool, moh_class: str = "default") -> None:
        if on:
            await self.session.command("SET MUSIC", "on", moh_class)
        else:
            await self.session.command("SET MUSIC", "off")

    async def answer(self) -> None:
        reply = await self.session.command("ANSWER")
        if _digit(reply) < 0:
            raise AGIHangup("ANSWER failed: the channel is gone")

    async def play(self, prompt: str, escape_digits: str = "") -> str:
        reply = await self.session.command(
            "STREAM FILE", self.paths(prompt), escape_digits, timeout=self.play_timeout
        )
        r = _digit(reply)
        if r > 0:
            return chr(r)
        if r < 0:
            if self.session.hung_up or (reply.endpos or 0) > 0:
                raise AGIHangup(f"caller hung up during {prompt}")
            log.warning("prompt %r could not be played (missing file?): %s", prompt, reply)
        return ""

    async def wait_digit(self, timeout: float) -> str:
        ms = max(0, int(timeout * 1000))
        reply = await self.session.command("WAIT FOR DIGIT", str(ms), timeout=timeout + self.margin)
        r = _digit(reply)
        if r > 0:
            return chr(r)
        if r < 0:
            raise AGIHangup("caller hung up while waiting for a digit")
        return ""

    async def record(
        self, path: str, fmt: str, escape_digits: str, max_seconds: float, silence_seconds: float
    ) -> RecordResult:
        ms = int(max_seconds * 1000) if max_seconds > 0 else -1
        args = [self.recordings(path), fmt, escape_digits, str(ms)]
        if silence_seconds > 0:
            # res_agi takes whole seconds (atoi); an argument with "=" is not taken for BEEP,
            # so no beep is played: the prompts say "请现在留言", not "after the tone".
            args.append(f"s={max(1, round(silence_seconds))}")
        deadline = max_seconds + self.margin if max_seconds > 0 else None
        started = time.monotonic()
        reply = await self.session.command("RECORD FILE", *args, timeout=deadline)
        elapsed = time.monotonic() - started
        file = f"{path}.{fmt}"
        r = _digit(reply)
        tag = reply.data
        if tag == "dtmf" and r > 0:
            return RecordResult(file, "dtmf", chr(r))
        if tag == "timeout":
            if silence_seconds > 0 and (max_seconds <= 0 or elapsed < max_seconds - 0.5):
                return RecordResult(file, "silence")
            return RecordResult(file, "timeout")
        if tag in ("hangup", "waitfor"):
            return RecordResult(file, "hangup")
        if tag == "writefile":
            raise AGICommandError(f"Asterisk cannot write the recording {file}: {reply}")
        if r < 0:  # (randomerror): the beep/wait before recording failed, nothing recorded
            raise AGIHangup(f"recording {file} did not start: {reply}")
        raise AGICommandError(f"unexpected RECORD FILE reply: {reply}")

    async def set_variable(self, name: str, value: str) -> None:
        # res_agi runs SET VARIABLE on a hung-up channel too: HOTLINE_DONE after a hangup
        await self.session.command("SET VARIABLE", name, value, after_hangup=True)

    async def evaluate(self, expression: str) -> str:
        """``GET FULL VARIABLE``: ``expression`` with its ``${...}`` substituted."""
        reply = await self.session.command("GET FULL VARIABLE", expression, after_hangup=True)
        return reply.data or "" if reply.result == "1" else ""

    async def caller_present(self) -> bool:
        """Whether the caller's channel is still up (not hung up)."""
        if self.session.hung_up:
            return False
        try:
            reply = await self.session.command("CHANNEL STATUS")
        except AGIHangup:
            return False
        return (reply.result_int or 0) > 0

    async def get_variable(self, name: str, *, after_hangup: bool = False) -> str | None:
        """A channel variable's value, None when it is not set."""
        reply = await self.session.command("GET VARIABLE", name, after_hangup=after_hangup)
        return reply.data if reply.result == "1" else None

    async def start_recording(self, path: str) -> None:
        # MixMonitor, option b: record only while bridged to the operator.
        reply = await self.session.command("EXEC", "MixMonitor", f"{self.recordings(path)},b")
        if _digit(reply) == -2:
            raise AGICommandError(f"the MixMonitor application is not available: {reply}")

    async def dial(self, dialstring: str, timeout: float, options: str = "") -> DialResult:
        """Dial and report DIALSTATUS. A caller who hangs up during or after the bridged call
        still gets the outcome (``ANSWER`` ...); the next command then raises AGIHangup."""
        data = f"{dialstring},{max(0, round(timeout))}"
        if options:
            data += f",{options}"
        reply = await self.session.command("EXEC", "Dial", data)
        r = _digit(reply)
        if r == -2:
            raise AGICommandError(f"the Dial application is not available: {reply}")
        status = await self.get_variable("DIALSTATUS", after_hangup=True) or ""
        if not status:
            status = "CANCEL" if r < 0 else "CHANUNAVAIL"
        seconds = 0.0
        if status == "ANSWER":
            answered = await self.get_variable("ANSWEREDTIME", after_hangup=True) or ""
            try:
                seconds = float(answered)
            except ValueError:
                seconds = 0.0
        return DialResult(status, seconds)

    async def conference(self, room: str, bridge_profile: str, user_profile: str) -> None:
        """``ConfBridge(room,bridge,user)`` until the caller leaves the room (or is hung
        up): a transfer's three-party call (docs/transfers.md)."""
        reply = await self.session.command(
            "EXEC", "ConfBridge", f"{room},{bridge_profile},{user_profile}"
        )
        if _digit(reply) == -2:
            raise AGICommandError(f"the ConfBridge application is not available: {reply}")
