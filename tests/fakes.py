"""A fake channel for driving the menu engine in tests.

``keys`` is what the caller does, as in the simulator (:mod:`ivr.agi.simulator`): each time
the menu waits for the caller (a prompt that keys interrupt, or a digit wait) the next key is
pressed; ``.`` stays silent through that wait. When the keys run out the caller stays silent.
``hangup_after`` hangs up at that command.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr.config.audio import PIECES_DIR, prompt_of
from ivr.engine.channel import DialResult, RecordResult
from ivr.errors import AGIHangup


@dataclass
class FakeChannel:
    keys: str = ""
    hangup_after: int | None = None
    dial_status: dict[str, str] = field(default_factory=dict)  # dialstring -> DIALSTATUS
    played: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    dialled: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    commands: int = 0
    answered: bool = False
    music: str = ""
    recordings: list[str] = field(default_factory=list)

    def _step(self) -> None:
        self.commands += 1
        if self.hangup_after is not None and self.commands > self.hangup_after:
            raise AGIHangup("caller hung up")

    def _next_key(self) -> str:
        key, self.keys = self.keys[:1], self.keys[1:]
        return "" if key == "." else key

    async def answer(self) -> None:
        self._step()
        self.answered = True

    async def play(self, prompt: str, escape_digits: str = "") -> str:
        """A prompt built in pieces (``hotline prompts build``) plays as one: its first piece
        is the prompt (named, and where a key is pressed), the others pass silently."""
        if f"/{PIECES_DIR}/" in prompt and not prompt.rsplit("/", 1)[-1].startswith("01"):
            return ""
        self._step()
        self.played.append(prompt_of(prompt))
        return self._next_key() if escape_digits else ""

    async def wait_digit(self, timeout: float) -> str:
        self._step()
        return self._next_key()

    async def record(
        self, path: str, fmt: str, escape_digits: str, max_seconds: float, silence_seconds: float
    ) -> RecordResult:
        self._step()
        self.recorded.append(path)
        return RecordResult(f"{path}.{fmt}", "silence")

    async def set_variable(self, name: str, value: str) -> None:
        self._step()
        self.variables[name] = value

    async def music_on_hold(self, on: bool, moh_class: str = "default") -> None:
        self._step()
        self.music = moh_class if on else ""

    async def start_recording(self, path: str) -> None:
        self._step()
        self.recordings.append(path)

    async def dial(self, dialstring: str, timeout: float, options: str = "") -> DialResult:
        self._step()
        self.dialled.append(dialstring)
        return DialResult(self.dial_status.get(dialstring, "ANSWER"))
