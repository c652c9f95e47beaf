"""Finding the local Asterisk's process: the state file :func:`ivr.asterisk.control.start`
writes into the root, Asterisk's own pid file, and whether a pid is a live process running
inside this root (so that another process, a CLI, signals only that one)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from ivr.asterisk.chroot import POLL_SECONDS, root_path

STATE_NAME = ".hotline-asterisk-state.json"

# Children this process started, to reap them (no zombies) and know their exit status.
CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def pid_alive(pid: int, root: Path) -> bool:
    """True if ``pid`` is a live (not zombie) process whose root directory is ``root``."""
    child = CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        CHILDREN.pop(pid, None)
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return False
        return os.readlink(f"/proc/{pid}/root") == str(root_path(root))
    except (OSError, IndexError):
        return False


def read_state(root: Path) -> dict[str, object]:
    try:
        data = json.loads((root / STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def running_pid(root: Path) -> int | None:
    """The pid of an Asterisk running in ``root``, from its pid file or our state file."""
    root = root_path(root)
    candidates: list[int] = []
    with contextlib.suppress(OSError, ValueError):
        candidates.append(int((root / "run/asterisk/asterisk.pid").read_text().strip()))
    pid = read_state(root).get("pid")
    if isinstance(pid, int):
        candidates.append(pid)
    for pid in candidates:
        if pid_alive(pid, root):
            return pid
    return None


def signal_pid(pid: int, root: Path, sig: signal.Signals) -> None:
    """Send ``sig`` to ``pid`` if it is still a live process inside ``root``."""
    if pid_alive(pid, root):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def wait_gone(pid: int, root: Path, timeout: float) -> bool:
    """Wait until ``pid`` is gone from ``root``; False if it is still there at ``timeout``."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid, root):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True
