"""The whole-run budget of a pytest process (tests/watchdog.py): past it the run says where
every thread stood, kills what it started and exits, instead of stalling until CI's limit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT

STALLED = textwrap.dedent(
    """
    import subprocess, sys, threading
    from tests import watchdog
    child = subprocess.Popen(["sleep", "120"])
    print(child.pid, flush=True)
    watchdog.arm_from_environment()
    def stuck_in_a_teardown():
        threading.Event().wait()
    stuck_in_a_teardown()
    """
)


def test_a_stalled_run_says_where_it_stood_and_ends(tmp_path: Path) -> None:
    script = tmp_path / "stalled.py"
    script.write_text(STALLED)
    env = dict(os.environ, HOTLINE_TEST_BUDGET="1.5", PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                         text=True, timeout=60, check=False)  # fmt: skip
    assert run.returncode == 3
    assert "passed its budget of 2 s (HOTLINE_TEST_BUDGET)" in run.stderr
    assert "stuck_in_a_teardown" in run.stderr  # the main thread's stack
    child = int(run.stdout.split()[0])
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text()


def test_without_a_budget_nothing_is_watched() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("HOTLINE_TEST_BUDGET", None)
    code = "from tests import watchdog; print(watchdog.arm_from_environment())"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=60, check=True)  # fmt: skip
    assert run.stdout.strip() == "None"
