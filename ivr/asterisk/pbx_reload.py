"""Reloading the installed config in the running local Asterisk (:func:`reload_config`), and
the WARNING and ERROR lines its ``messages.log`` got meanwhile (:func:`log_offset`,
:func:`log_problems`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from ivr.asterisk.chroot import root_path
from ivr.asterisk.control import rx
from ivr.asterisk.errors import AsteriskCommandError

#: What :func:`reload_config` runs: every part of the hotline's config that can change.
#: (Asterisk 22 has no ``pjsip reload``: PJSIP reloads as a module.)
RELOAD_COMMANDS: tuple[str, ...] = (
    "module reload res_pjsip.so",
    "dialplan reload",
    "queue reload all",
    "moh reload",
    "manager reload",
)
_PROBLEM_LEVELS = ("WARNING", "ERROR")


def log_offset(root: Path) -> int:
    """The current size of ``messages.log``: pass it to :func:`log_problems` later."""
    try:
        return (root_path(root) / "var/log/asterisk/messages.log").stat().st_size
    except OSError:
        return 0


def log_problems(root: Path, offset: int = 0) -> list[str]:
    """WARNING and ERROR lines ``messages.log`` got after ``offset``."""
    path = root_path(root) / "var/log/asterisk/messages.log"
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [
        line
        for line in text.splitlines()
        if any(f"] {level}[" in line for level in _PROBLEM_LEVELS)
    ]


def reload_config(
    root: Path, commands: Sequence[str] = RELOAD_COMMANDS, *, settle: float = 0.5
) -> list[str]:
    """Reload the installed config in the running Asterisk; return the WARNING/ERROR lines
    the reloads logged (an empty list means every file was taken cleanly)."""
    offset = log_offset(root)
    for command in commands:
        out = rx(root, command)
        if out.startswith("No such command") or "not found" in out.lower():
            raise AsteriskCommandError(f"asterisk -rx {command!r}: {out.strip()}")
    time.sleep(settle)
    return log_problems(root, offset)
