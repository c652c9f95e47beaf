"""The small channel interface the menu engine runs against.

Drivers implement it: the asyncio FastAGI server (:mod:`ivr.agi.channel`), the pyst2
process-AGI script (``agi_scripts/hotline.agi``) and the tests' fake channel. Every method
raises :class:`ivr.errors.AGIHangup` when the caller has gone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class CallInfo:
    """What the transport knows about a call when it arrives (the AGI header)."""

    uniqueid: str
    caller: str
    caller_name: str = ""
    dnid: str = ""
    extension: str = ""
    channel: str = ""
    context: str = ""
    arguments: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DialResult:
    """The outcome of a dial: Asterisk's ``DIALSTATUS`` (ANSWER, BUSY, NOANSWER, ...)."""

    status: str
    answered_seconds: float = 0.0

    @property
    def answered(self) -> bool:
        return self.status == "ANSWER"


@dataclass(frozen=True)
class RecordResult:
    """The outcome of a recording: the file written and how it ended."""

    path: str
    ended_by: str  # "dtmf", "timeout", "silence" or "hangup"
    digit: str = ""


class Channel(Protocol):
    """What the menu engine can do with a call. ``prompt`` is a sound file without extension."""

    async def answer(self) -> None: ...

    async def play(self, prompt: str, escape_digits: str = "") -> str:
        """Play a prompt; return the digit that interrupted it, or "" if none did."""
        ...

    async def wait_digit(self, timeout: float) -> str:
        """Wait for one DTMF digit; return "" on timeout."""
        ...

    async def record(
        self, path: str, fmt: str, escape_digits: str, max_seconds: float, silence_seconds: float
    ) -> RecordResult:
        """Record the caller into ``path.fmt`` until a digit, the limit or silence."""
        ...

    async def set_variable(self, name: str, value: str) -> None: ...

    async def music_on_hold(self, on: bool, moh_class: str = "default") -> None:
        """Start or stop music on hold; it plays under ``wait_digit`` until stopped."""
        ...

    async def dial(self, dialstring: str, timeout: float, options: str = "") -> DialResult: ...

    async def start_recording(self, path: str) -> None:
        """Record the conversation (both sides, once bridged) into ``path``, which includes
        the extension; the recording ends with the call."""
        ...


async def wait_paced(
    channel: Channel,
    seconds: float,
    acts_on: str = "",
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """``wait_digit`` for a loop that waits again at once (the caller waiting in the queue):
    a wait that returns sooner than ``seconds`` (a key the loop ignores, or a broken channel
    answering at once) is followed by a sleep for the rest of its interval, so that no channel
    can make the loop spin. A key in ``acts_on`` returns at once: the loop acts on it.
    ``clock`` is the loop's (the rest is measured, and slept, in its seconds)."""
    started = clock()
    digit = await channel.wait_digit(seconds)
    if digit and digit in acts_on:
        return digit
    rest = seconds - (clock() - started)
    if rest > 0:
        await asyncio.sleep(rest)
    return digit
