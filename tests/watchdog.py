"""A watch over one pytest process, so that a stalled run ends with where it stood instead
of silence until CI's limit.

pytest-timeout stops a test after its ``timeout`` only where Python code can run its SIGALRM
handler, and it cancels its timer as soon as the test fails: a test that failed and then
hangs in its teardown (a fixture waiting on a task that no longer ends) is never stopped.
Seen in CI: the rest of the suite printed nothing for 70 minutes after a failed test.

Two limits, both set by test.sh (absent, nothing is watched):

- ``HOTLINE_TEST_STALL``: seconds a test may run beyond its own timeout (setup, call and
  teardown together);
- ``HOTLINE_TEST_BUDGET``: seconds for the whole run.

Past either, the stacks of every thread and every unfinished asyncio task are written to
stderr (pytest's capture suspended first), the processes the run started are killed, and
the process exits with code 3.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

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


def _tasks(out: TextIO) -> None:
    """Where every unfinished asyncio task stands (each loop's, read from another thread:
    good enough for a run about to end)."""
    for task in list(getattr(asyncio.tasks, "_all_tasks", ())):
        if not task.done():
            out.write(f"-- task {task.get_name()}:\n")
            task.print_stack(file=out)


def _seconds(name: str) -> float | None:
    value = os.environ.get(name, "").strip()
    return float(value) if value else None


class Watch:
    """The watch's state; :meth:`item` is told of each test as it starts and ends."""

    def __init__(self, release: Callable[[], object], budget: float | None,
                 stall: float | None) -> None:  # fmt: skip
        self.release, self.stall = release, stall
        self.run_end = None if budget is None else time.monotonic() + budget
        self.budget = budget
        self.test: tuple[str, float] | None = None  # node id, its end

    def item(self, nodeid: str | None, timeout: float = 0.0) -> None:
        if nodeid is None or self.stall is None:
            self.test = None
        else:
            self.test = (nodeid, time.monotonic() + timeout + self.stall)

    def check(self) -> str | None:
        """Why the run must end now, if it must."""
        now = time.monotonic()
        if self.run_end is not None and now > self.run_end:
            return f"the run passed its budget of {self.budget:.0f} s (HOTLINE_TEST_BUDGET)"
        test = self.test
        if test is not None and now > test[1]:
            return (f"{test[0]} ran {self.stall:.0f} s past its timeout (HOTLINE_TEST_STALL;"
                    " pytest-timeout stops no teardown after a failure)")  # fmt: skip
        return None

    def _run(self) -> None:
        while (why := self.check()) is None:
            time.sleep(1.0)
        self.end(why)

    def end(self, why: str) -> None:
        with contextlib.suppress(Exception):
            self.release()  # pytest's capture of fds 1 and 2 ended, so that this reaches the log
        out = sys.stderr
        out.write(f"\n== {why}; where every thread stood:\n")
        out.flush()
        faulthandler.dump_traceback(file=out, all_threads=True)
        out.write("== and every asyncio task:\n")
        with contextlib.suppress(Exception):
            _tasks(out)
        out.flush()
        for pid in descendants(os.getpid()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os._exit(EXIT_CODE)


def arm_from_environment(release: Callable[[], object] = lambda: None) -> Watch | None:
    """Starts the watch if ``HOTLINE_TEST_BUDGET`` or ``HOTLINE_TEST_STALL`` is set.
    ``release`` is called before the stacks are written (pytest's capture suspended)."""
    budget, stall = _seconds("HOTLINE_TEST_BUDGET"), _seconds("HOTLINE_TEST_STALL")
    if budget is None and stall is None:
        return None
    watch = Watch(release, budget, stall)
    threading.Thread(target=watch._run, name="test-watch", daemon=True).start()
    return watch
