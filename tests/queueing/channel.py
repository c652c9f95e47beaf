"""A channel for waiter tests: waits take (virtual) time, dials answer as told."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ivr.config.audio import PIECES_DIR, prompt_of
from ivr.engine.channel import DialResult, RecordResult
from ivr.errors import AGIHangup


@dataclass
class WaitingChannel:
    """``dial_results`` are used in turn (``ANSWER`` answers after 2 s and talks 30 s).
    ``hangup`` makes the caller hang up when it returns True (checked at each command).
    Every ``wait_digit`` advances the virtual time ``t`` by its timeout and yields to the loop
    for ``real_wait`` seconds, so that other tasks (agents, the hub) run meanwhile."""

    dial_results: list[str] = field(default_factory=lambda: ["ANSWER"])
    hangup: Callable[[WaitingChannel], bool] = lambda ch: False
    on_dial: Callable[[str], Awaitable[Any]] | None = None
    real_wait: float = 0.005
    press: dict[str, str] = field(default_factory=dict)  # prompt -> key pressed while it plays
    keys: list[str] = field(default_factory=list)  # keys of the next wait_digit calls, in turn
    recorded: list[str] = field(default_factory=list)
    t: float = 0.0
    played: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    dialled: list[str] = field(default_factory=list)
    music: list[bool] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    waits: int = 0
    hung_up: bool = False

    def clock(self) -> float:
        return self.t

    def _step(self) -> None:
        if self.hung_up or self.hangup(self):
            self.hung_up = True
            raise AGIHangup("caller hung up")

    async def answer(self) -> None:
        self._step()

    async def play(self, prompt: str, escape_digits: str = "") -> str:
        # a prompt built in pieces plays as one (its first piece), as in tests/fakes.py
        if f"/{PIECES_DIR}/" in prompt and not prompt.rsplit("/", 1)[-1].startswith("01"):
            return ""
        self._step()
        name = prompt_of(prompt) if "digits/" not in prompt else prompt
        self.played.append(name)
        self.t += 1.0
        key = self.press.get(name, "")
        return key if key and key in escape_digits else ""

    async def wait_digit(self, timeout: float) -> str:
        self._step()
        self.waits += 1
        await asyncio.sleep(self.real_wait)
        self.t += timeout
        return self.keys.pop(0) if self.keys else ""

    async def record(
        self, path: str, fmt: str, escape_digits: str, max_seconds: float, silence_seconds: float
    ) -> RecordResult:
        self._step()
        self.recorded.append(f"{path}.{fmt}")
        return RecordResult(f"{path}.{fmt}", "silence")

    async def set_variable(self, name: str, value: str) -> None:
        self._step()
        self.variables[name] = value

    async def music_on_hold(self, on: bool, moh_class: str = "default") -> None:
        self._step()
        self.music.append(on)

    async def start_recording(self, path: str) -> None:
        self._step()
        self.recordings.append(path)

    async def dial(self, dialstring: str, timeout: float, options: str = "") -> DialResult:
        self._step()
        self.dialled.append(dialstring)
        if self.on_dial is not None:
            await self.on_dial(dialstring)
        status = self.dial_results.pop(0) if self.dial_results else "NOANSWER"
        if status == "ANSWER":
            self.t += 32
            return DialResult("ANSWER", 30.0)
        self.t += timeout
        return DialResult(status)
