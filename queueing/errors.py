"""The base of every error with a stable id, and the queue's own errors.

``queueing`` is the lowest package of the hotline (it imports nothing from ``ivr``), so the
base class lives here and :mod:`ivr.errors` re-exports it: every error raised on purpose,
in either package, is a :class:`HotlineError` and prints as one line ``[<code>] <message>``
(the CLI and the servers catch this one class). Every id is documented in docs/errors.md.

Must not import: anything of ``ivr`` (nor any other module of ``queueing``).
"""

from __future__ import annotations


class HotlineError(Exception):
    """Base class. ``code`` is a stable identifier such as ``HL-CFG-001``."""

    code: str = "HL-000"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class QueueError(HotlineError):
    """A queue operation was refused (HL-QUE-nnn): the message says what to do."""

    code = "HL-QUE-000"


class AMIError(HotlineError):
    """The Asterisk Manager Interface refused or failed (HL-QUE-040..049)."""

    code = "HL-QUE-040"
