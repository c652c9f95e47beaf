"""A whole-run budget for one pytest process (``HOTLINE_TEST_BUDGET`` seconds, set by
test.sh): past it, the stacks of every thread are written to stderr, the processes the
run started are killed, and pytest exits with code 3.

pytest-timeout stops one test after ``timeout`` seconds, but only where Python code can
run its SIGALRM handler; a run that stalls elsewhere (a C call that retries its own
interrupted waits, a fixture between tests, a teardown after the timeout fired) would
otherwise be silent until CI kills it, with nothing said of where it stood.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import threading
import time
from pathlib import Path

EXIT_CODE = 3


def descendants(pid: int) -> list[int]:
    """The processes under ``pid``, children first (read from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _expire(budget: float) -> None:
    time.sleep(budget)
    sys.stderr.write(f"\n== the run passed its budget of {budget:.0f} s (HOTLINE_TEST_BUDGET);"
                     " where every thread stood:\n")  # fmt: skip
    sys.stderr.flush()
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    for pid in descendants(os.getpid()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    os._exit(EXIT_CODE)


def arm_from_environment() -> float | None:
    """Starts the watch if ``HOTLINE_TEST_BUDGET`` is set; returns the budget."""
    value = os.environ.get("HOTLINE_TEST_BUDGET", "").strip()
    if not value:
        return None
    budget = float(value)
    threading.Thread(target=_expire, args=(budget,), name="test-budget", daemon=True).start()
    return budget
