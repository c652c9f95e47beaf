"""The SIP front door on the real stack (issue 18, docs/scale-out-sip.md): a real Kamailio from
``hotline kamailio-conf`` on loopback in front of the stack's Asterisk, which is configured as
a box behind it (``ConfOptions.kamailio``). An operator's softphone (a SIPp UAS) registers
with Kamailio with digest auth; a citizen's SIPp sends its INVITE to Kamailio; Kamailio
dispatches it to the box, the hotline queues it, the box rings the operator through Kamailio
and the operator answers: the call record says so. With a second box on which nothing
listens, calls still reach the live box.

At the end the stack's normal config is installed again (``stack.install()``)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.asterisk import kamailio
from ivr.devtools.cluster_parts import box_flags
from tests.e2e.conftest import PROJECT, Stack, poll, with_options
from tests.e2e.sipp import Operator, SippCall, free_udp_port

pytestmark = pytest.mark.asterisk

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
KAMCMD = shutil.which("kamcmd") or "/usr/sbin/kamcmd"


class Front:
    """A Kamailio on loopback, from ``hotline kamailio-conf``, in the foreground."""

    def __init__(
        self, stack: Stack, workdir: Path, boxes: list[str], extra: tuple[str, ...] = ()
    ) -> None:
        """``extra``: more options of ``hotline kamailio-conf`` (e.g. ``--ws-port``)."""
        self.workdir = workdir
        self.port = free_udp_port()
        run = workdir / "run"
        run.mkdir(parents=True, exist_ok=True)
        env = dict(
            os.environ,
            HOTLINE_CONFIG_DIR=str(stack.config_dir),
            HOTLINE_RECORDINGS_DIR=str(stack.recordings),
            HOTLINE_VAR_DIR=str(stack.var),  # the operators' passwords, as the stack has them
        )
        boxes_args = [a for box in boxes for a in ("--box", box)]
        made = subprocess.run(
            [sys.executable, "-m", "ivr.cli", "kamailio-conf", "--out", str(workdir),
             *boxes_args, "--listen", "127.0.0.1", "--port", str(self.port),
             "--ping-interval", "1", "--run-dir", str(run), *extra],
            env=env, capture_output=True, text=True, timeout=60, check=False, cwd=PROJECT,
        )  # fmt: skip
        assert made.returncode == 0, made.stdout + made.stderr
        cfg = workdir / kamailio.CONFIG_FILE
        cfg.write_text(cfg.read_text().replace("log_stderror=no", "log_stderror=yes"))
        self.log = workdir / "kamailio.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [KAMAILIO, "-f", str(cfg), "-DD", "-E", "-Y", str(run), "-w", str(workdir)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        poll(
            lambda: self._started(run),
            lambda: f"Kamailio did not start: {self.tail()}",
            timeout=30,
        )

    def rpc(self, command: str) -> str:
        """``kamcmd`` over the control socket of this Kamailio."""
        done = subprocess.run(
            [KAMCMD, "-s", f"unix:{self.workdir / 'run' / 'kamailio_ctl'}", command],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        return done.stdout + done.stderr

    def box_flags(self, box: str) -> str:
        """The dispatcher's flags of ``box`` (``AP``: active, ``IP``: inactive, probing)."""
        return box_flags(self.workdir / "run" / "kamailio_ctl", box)

    def _started(self, run: Path) -> bool | None:
        """Whether its control socket is there (None: not yet); it must not have exited."""
        assert self.proc.poll() is None, f"Kamailio exited: {self.tail()}"
        return (run / "kamailio_ctl").exists() or None

    def tail(self) -> str:
        return self.log.read_text("utf-8", "replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def front(stack: Stack, tmp_path: Path) -> Iterator[list[str]]:
    """The boxes' list for Kamailio: the stack's Asterisk (a test may put a dead one first)."""
    if not Path(KAMAILIO).exists():
        pytest.skip("kamailio is not installed (scripts/bootstrap.sh installs it)")
    stack.wait_queue_empty()
    boxes = [f"127.0.0.1:{stack.sip_port}"]
    try:
        yield boxes
    finally:
        stack.install()  # the stack's normal config: later tests are unaffected


def _answered_through_kamailio(
    stack: Stack, workdir: Path, boxes: list[str], caller: str, *, down: str = ""
) -> tuple[Front, float]:
    """One citizen's call through Kamailio, answered by operator 1001 registered there;
    first (``down``) wait until Kamailio's probes have taken that box out."""
    kam = Front(stack, workdir / "kamailio", boxes)
    phone: Operator | None = None
    try:
        if down:
            t0 = time.monotonic()
            poll(
                lambda: kam.box_flags(down).startswith("I") or None,
                lambda: f"Kamailio still sends to {down}: {kam.rpc('dispatcher.list')}",
                timeout=20,
            )
            print(f"Kamailio took {down} out {time.monotonic() - t0:.1f}s after it started")
        problems = stack.install(with_options(stack, kamailio=f"sip:127.0.0.1:{kam.port}"))
        assert [p for p in problems if "kamailio" in p.lower()] == [], problems
        agent = stack.sip_agent("1001")
        assert agent.endpoint is not None
        phone = Operator.start(
            workdir / "op1001", kam.port, agent.endpoint, agent.password,
            ring=1.0, talk=3.0, proxy=True,
        )  # fmt: skip
        assert stack.login("1001")["state"] == "ready"
        started = time.monotonic()
        citizen = SippCall.start(workdir / "citizen", kam.port, "12345", caller, proxy=True)
        stack.calls.append(citizen)
        rec = stack.record(caller, timeout=150)
        took = time.monotonic() - started
        assert (rec["outcome"], rec["agent"]) == ("answered", "1001"), (rec, kam.tail())
        assert phone.wait(60) == 0, phone.errors()
        assert citizen.wait(60) == 0, citizen.errors()
        # the operator's phone rang through Kamailio: the box dialled the AOR at Kamailio
        contacts = stack.rx("pjsip show contacts")
        assert f"1001/sip:1001@127.0.0.1:{kam.port}" in contacts, contacts
        return kam, took
    finally:
        try:
            stack.logout("1001")
        finally:
            if phone is not None:
                phone.stop()
            kam.stop()


def test_a_call_through_kamailio_is_answered_by_an_operator_registered_there(
    stack: Stack, front: list[str], tmp_path: Path
) -> None:
    kam, took = _answered_through_kamailio(stack, tmp_path, front, "13900000181")
    print(f"through Kamailio: record written {took:.1f}s after the INVITE")
    assert "call" in kam.tail() and f"to box sip:{front[0]}" in kam.tail()


def test_kamailio_passes_over_a_dead_box(stack: Stack, front: list[str], tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_udp_port()}"  # nothing listens there
    kam, _ = _answered_through_kamailio(stack, tmp_path, [dead, *front], "13900000182", down=dead)
    log = kam.tail()
    assert f"to box sip:{front[0]}" in log, log
    assert f"to box sip:{dead}" not in log and "box failed" not in log, log
