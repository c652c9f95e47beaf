"""Errors with a stable id and a message a person can act on.

Every error the hotline raises on purpose derives from :class:`HotlineError` (declared in
:mod:`queueing.errors`, the ground floor both packages share, and re-exported here). Its ``code`` is
stable across releases (``HL-CFG-001`` ...), so that logs, alerts and the docs can refer to it;
its message says what happened and what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass

# The base class is declared in the lowest package (queueing imports nothing from ivr) and
# re-exported here: ivr's errors and the queue's are one family.
from queueing.errors import HotlineError

__all__ = [
    "AGICommandError",
    "AGIHangup",
    "AGIProtocolError",
    "AGITimeout",
    "ConfigError",
    "HotlineError",
    "PBXLost",
    "Problem",
]


@dataclass(frozen=True, order=True)
class Problem:
    """One problem found in an admin file, reported as ``file:line:column: message``."""

    file: str
    line: int
    column: int
    message: str
    code: str = "HL-CFG-000"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message} [{self.code}]"


class ConfigError(HotlineError):
    """The admin config is invalid. ``problems`` lists every problem found, in file order."""

    code = "HL-CFG-000"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(
            f"config refused, {len(self.problems)} problem(s); the running config stays in place:"
            f"\n{lines}"
        )


class AGIProtocolError(HotlineError):
    """The Asterisk peer sent something that is not AGI."""

    code = "HL-AGI-001"


class AGIHangup(HotlineError):
    """The caller hung up, or the AGI connection ended (EOF, HANGUP line, 511 reply)."""

    code = "HL-AGI-002"


class PBXLost(AGIHangup):
    """The Asterisk box went away: the AGI connection ended (EOF, reset) without the
    ``HANGUP`` line a living Asterisk always sends before it lets go of a FastAGI session
    (res_agi's run_agi, unless the dialplan set ``AGISIGHUP=no``). ``box`` names the box (its
    address) when it is known. An :class:`AGIHangup`, so that everything that ends a call on
    a hangup ends it on this too; the call record says ``pbx-lost``, not ``abandoned``."""

    code = "HL-AGI-005"

    def __init__(self, message: str, box: str = "") -> None:
        super().__init__(message)
        self.box = box


class AGICommandError(HotlineError):
    """Asterisk refused a command (510 invalid, or 520 usage)."""

    code = "HL-AGI-003"


class AGITimeout(HotlineError):
    """The Asterisk peer went silent for longer than the session allows."""

    code = "HL-AGI-004"
