"""The whole-run budget of a pytest process (tests/watchdog.py): past it the run says where
every thread stood, kills what it started and exits, instead of stalling until CI's limit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
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
    end = time.monotonic() + 10  # killed: gone (or a zombie of init's) once the kill lands
    while not _gone(child):
        assert time.monotonic() < end, f"the run's child {child} outlived it"
        time.sleep(0.05)


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def test_without_a_budget_nothing_is_watched() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("HOTLINE_TEST_BUDGET", None)
    env.pop("HOTLINE_TEST_STALL", None)  # test.sh sets both for its own run
    code = "from tests import watchdog; print(watchdog.arm_from_environment())"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=60, check=True)  # fmt: skip
    assert run.stdout.strip() == "None"


def test_a_stalled_pytest_run_shows_its_stacks_and_tasks_despite_the_capture(
    tmp_path: Path,
) -> None:
    """Inside pytest (fds 1 and 2 captured during a test) the stacks still reach the log,
    with the asyncio task the test waits on."""
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_configure\n")
    (tmp_path / "test_stall.py").write_text(textwrap.dedent(
        """
        import asyncio

        async def never_set() -> None:
            await asyncio.Event().wait()

        async def test_waits_on_a_task_that_never_ends() -> None:
            await asyncio.create_task(never_set(), name="the-stuck-one")
        """
    ))  # fmt: skip
    env = dict(os.environ, HOTLINE_TEST_BUDGET="3", PYTHONPATH=str(ROOT))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
         "asyncio_mode=auto", "--rootdir", str(tmp_path), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 3, out
    assert "passed its budget of 3 s" in out
    assert "test_waits_on_a_task_that_never_ends" in out  # the main thread's stack
    assert "-- task the-stuck-one:" in out and "never_set" in out


def test_a_failed_test_whose_teardown_hangs_is_ended_after_its_timeout_and_the_stall(
    tmp_path: Path,
) -> None:
    """pytest-timeout cancels its timer once a test fails: the teardown that then hangs is
    ended by the watch, naming the test."""
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_configure, pytest_runtest_protocol\n"
    )
    (tmp_path / "test_hang.py").write_text(textwrap.dedent(
        """
        import threading
        import pytest

        @pytest.fixture
        def stuck_teardown():
            yield
            threading.Event().wait()

        def test_fails_then_hangs(stuck_teardown) -> None:
            assert False, "failed first"
        """
    ))  # fmt: skip
    env = dict(os.environ, HOTLINE_TEST_STALL="2", PYTHONPATH=str(ROOT))
    env.pop("HOTLINE_TEST_BUDGET", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "timeout=1",
         "--rootdir", str(tmp_path), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 3, out
    assert "test_hang.py::test_fails_then_hangs ran 2 s past its timeout" in out
    assert "stuck_teardown" in out
