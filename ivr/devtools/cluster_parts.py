"""The processes of the local cluster (:mod:`.local_cluster`), one class each, started as
daemons (a session of their own, a pid file or a state entry, a log file) so that ``hotline
cluster down`` and ``status`` find them from another process:

* :class:`Postgres`: a PostgreSQL kept between ``up`` and ``down`` (``initdb`` once into its
  directory, then ``pg_ctl start|stop``; the helpers of :mod:`.pgtemp`), on loopback;
* :class:`Server`: one ``hotline serve --queue-wait`` with its own FastAGI and HTTP ports and
  var directory (its ``hotline.pid``);
* :class:`Kamailio`: the SIP front door in the foreground of a session of its own, from the
  config :mod:`ivr.asterisk.kamailio` generates.

The Asterisk boxes are the chrooted local Asterisk (:mod:`ivr.asterisk.local`), one root each.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ivr.asterisk import local
from ivr.asterisk.chroot import held_by_a_session
from ivr.devtools import pgtemp
from ivr.devtools.redis_cluster import ClusterError

PG_DATABASE = "hotline"


def free_port(*, udp: bool = False) -> int:
    """A loopback port free for TCP (and UDP too, if ``udp``)."""
    while True:
        with socket.socket() as t:
            t.bind(("127.0.0.1", 0))
            port = int(t.getsockname()[1])
        if not udp:
            return port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def default_roots() -> list[Path]:
    """The boxes' roots next to the local Asterisk's: ``<root>-box1``, ``<root>-box2``."""
    base = local.default_root()
    return [base.with_name(f"{base.name}-box{i}") for i in range(1, 3)]


def idle_root(near: Path) -> Path | None:
    """A ready Asterisk root next to ``near`` (``<root>``, ``<root>-*``) in which no Asterisk
    runs (nothing mounted under it) and that no test session holds (``<root>.lock``): one to
    copy."""
    base = local.default_root()
    for root in [base, *sorted(near.parent.glob(base.name + "-*"))]:
        ready = root.is_dir() and local.is_ready(root)
        if ready and not local.mounts_under(root) and not held_by_a_session(root):
            return root
    return None


def copy_root(source: Path | None, target: Path) -> None:
    """Make ``target`` a ready Asterisk root: a copy of the ready ``source`` (no Asterisk may
    run in it: its mounts would be copied; None: any idle root nearby), else built with
    debootstrap (about a minute)."""
    if local.is_ready(target):
        return
    source = source or idle_root(target)
    if source is None or not local.is_ready(source) or local.mounts_under(source):
        local.ensure_root(target)
        return
    partial = target.with_name(target.name + ".copy")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run(["cp", "-a", "--reflink=auto", str(source), str(partial)], check=True)
    (partial / local.STATE_NAME).unlink(missing_ok=True)
    partial.rename(target)


@dataclass
class PartStatus:
    part: str
    where: str
    up: bool

    def line(self) -> str:
        return f"{self.part:<10} {'up' if self.up else 'DOWN':<5} {self.where}"


def alive(pid: int | None) -> bool:
    """Whether ``pid`` runs (a zombie child of ours is reaped and counts as gone)."""
    if not pid:
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass  # not our child
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_pid(pid: int | None, *, timeout: float = 30.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; whether it was running."""
    if not alive(pid):
        return False
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline += 10
        time.sleep(0.05)
    return True


def wait_for(ok: Callable[[], bool], what: str, log: Path, timeout: float = 60.0) -> None:
    """Poll ``ok`` until it holds; HL-CLU-023 naming ``log`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            tail = (
                log.read_text("utf-8", "replace").strip().splitlines()[-1:] if log.exists() else []
            )
            raise ClusterError(
                f"[HL-CLU-023] {what} did not start in {timeout:.0f}s (see {log}"
                + (f": {tail[0][:200]}" if tail else "")
                + ")"
            )
        time.sleep(0.1)


def daemon(cmd: list[str], log: Path, env: Mapping[str, str] | None = None,
           cwd: Path | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
    """``cmd`` in a session of its own, its output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True,
        )  # fmt: skip


@dataclass
class Postgres:
    """A PostgreSQL in ``workdir`` (``data/``, ``sock/``, ``log``) on 127.0.0.1:``port``;
    its data survives ``stop``."""

    workdir: Path
    port: int

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{PG_DATABASE}"

    def running(self) -> bool:
        return (
            self.data.exists() and pgtemp.pg_ctl(self.data, "status", check=False).returncode == 0
        )

    def start(self) -> None:
        try:
            pgtemp.pg_bindir()
        except pgtemp.NoPostgres as exc:
            raise ClusterError(f"[HL-CLU-024] {exc}") from None
        fresh = not (self.data / "PG_VERSION").exists()
        sock = self.workdir / "sock"
        sock.mkdir(parents=True, exist_ok=True)
        if fresh:
            try:
                pgtemp.initdb(self.data)
            except subprocess.CalledProcessError as exc:
                raise ClusterError(
                    f"[HL-CLU-024] initdb {self.data} failed: {exc.stderr}"
                ) from None
        opts = pgtemp.server_options(self.port, sock, listen="127.0.0.1")
        log = self.workdir / "log"  # written by the postgres user: workdir is its own
        started = pgtemp.pg_ctl(
            self.data, "-l", str(log), "-o", opts, "-w", "-t", "60", "start", check=False
        )
        if started.returncode != 0:
            raise ClusterError(
                f"[HL-CLU-023] PostgreSQL did not start on 127.0.0.1:{self.port} (see {log})"
            )
        if fresh:
            admin = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
            pgtemp.admin(admin, f"CREATE DATABASE {PG_DATABASE}")

    def stop(self) -> bool:
        if not self.running():
            return False
        pgtemp.pg_ctl(self.data, "-m", "fast", "-w", "stop", check=False)
        return True


class PidFile:
    """A process of the set found by its pid file (``pidfile``, given by each kind)."""

    @property
    def pidfile(self) -> Path:
        raise NotImplementedError

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        return alive(self.pid())


@dataclass
class Server(PidFile):
    """One ``hotline serve --queue-wait`` (its var directory, FastAGI and HTTP ports)."""

    var: Path
    agi_port: int
    http_port: int

    @property
    def pidfile(self) -> Path:
        return self.var / "hotline.pid"

    @property
    def log(self) -> Path:
        return self.var / "serve.log"

    @property
    def agi_url(self) -> str:
        return f"agi://127.0.0.1:{self.agi_port}/hotline"

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        return dict(
            base,
            HOTLINE_VAR_DIR=str(self.var),
            HOTLINE_AGI_HOST="127.0.0.1",
            HOTLINE_AGI_PORT=str(self.agi_port),
        )

    def start(self, base_env: Mapping[str, str], cwd: Path) -> int:
        self.var.mkdir(parents=True, exist_ok=True)
        self.pidfile.unlink(missing_ok=True)  # a killed server's
        cmd = [sys.executable, "-m", "ivr.cli", "serve", "--queue-wait"]
        proc = daemon([*cmd, "--http-port", str(self.http_port)], self.log, self.env(base_env), cwd)

        def up() -> bool:
            if proc.poll() is not None:
                raise ClusterError(f"[HL-CLU-023] hotline serve exited (see {self.log})")
            return self.pid() == proc.pid

        wait_for(up, f"hotline serve on {self.agi_url}", self.log, timeout=60)
        return proc.pid

    def stop(self) -> bool:
        return stop_pid(self.pid(), timeout=40)


def box_flags(control: Path, address: str) -> str:
    """The dispatcher's flags of the box at ``address`` (``AP``: active, probing; ``IP``:
    inactive; empty: unknown), from the Kamailio whose control socket is ``control``
    (``kamcmd dispatcher.list``)."""
    kamcmd = shutil.which("kamcmd") or "/usr/sbin/kamcmd"
    try:
        listed = subprocess.run(
            [kamcmd, "-s", f"unix:{control}", "dispatcher.list"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""
    _, found, rest = listed.partition(f"URI: sip:{address}")
    if not found or "FLAGS:" not in rest:
        return ""
    return rest.split("FLAGS:", 1)[1].split()[0]


@dataclass
class Kamailio(PidFile):
    """Kamailio from the generated ``kamailio.cfg`` in ``workdir`` (``run/`` its control
    socket, ``kamailio.pid``, ``kamailio.log``)."""

    workdir: Path
    port: int
    exe: str = "/usr/sbin/kamailio"

    @property
    def pidfile(self) -> Path:
        return self.workdir / "kamailio.pid"

    @property
    def log(self) -> Path:
        return self.workdir / "kamailio.log"

    @property
    def control(self) -> Path:
        return self.workdir / "run" / "kamailio_ctl"

    def box_flags(self, address: str) -> str:
        return box_flags(self.control, address)

    def start(self, config: Path) -> int:
        run = self.workdir / "run"
        run.mkdir(parents=True, exist_ok=True)
        self.control.unlink(missing_ok=True)
        cmd = [self.exe, "-f", str(config), "-DD", "-E", "-Y", str(run), "-w", str(self.workdir)]
        proc = daemon(cmd, self.log)
        self.pidfile.write_text(f"{proc.pid}\n")

        def up() -> bool:
            if proc.poll() is not None:
                raise ClusterError(f"[HL-CLU-023] Kamailio exited (see {self.log})")
            return self.control.exists()

        wait_for(up, f"Kamailio on udp 127.0.0.1:{self.port}", self.log, timeout=30)
        return proc.pid

    def stop(self) -> bool:
        was = stop_pid(self.pid(), timeout=15)
        self.pidfile.unlink(missing_ok=True)
        return was
