"""Controlling the local Asterisk: :func:`start` it chrooted into its root (mounts made),
:func:`stop` it, run CLI commands (:func:`rx`), and report its :func:`status`. :func:`stop`
and :func:`status` work from another process too: they find Asterisk by its pid file and
check it runs inside this root (:mod:`ivr.asterisk.pids`). Reloading its config and reading
the problems its log got: :mod:`ivr.asterisk.pbx_reload`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from ivr.asterisk.chroot import (
    POLL_SECONDS,
    is_ready,
    log_tail,
    require_ready,
    require_superuser,
    root_path,
)
from ivr.asterisk.errors import (
    AsteriskCommandError,
    AsteriskError,
    AsteriskMountError,
    AsteriskStartError,
)
from ivr.asterisk.mounts import mount, mounts_under, unmount_all
from ivr.asterisk.pids import (
    CHILDREN,
    STATE_NAME,
    pid_alive,
    read_state,
    running_pid,
    signal_pid,
    wait_gone,
)


@dataclass
class AsteriskStatus:
    """What :func:`status` found."""

    root: Path
    ready: bool
    running: bool
    pid: int | None = None
    version: str | None = None
    fully_booted: bool = False
    mounts: list[Path] = field(default_factory=list)
    log_path: Path | None = None


@dataclass
class AsteriskProcess:
    """A running Asterisk started by :func:`start`. Use as a context manager to stop it."""

    root: Path
    pid: int
    log_path: Path
    mounts: tuple[Path, ...]
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def rx(self, command: str, *, timeout: float = 15.0) -> str:
        """Run a CLI command (``asterisk -rx``) and return its output."""
        return rx(self.root, command, timeout=timeout)

    def version(self) -> str:
        """``core show version``, e.g. ``Asterisk 22.10.1+dfsg... built by ...``."""
        return self.rx("core show version").strip()

    def alive(self) -> bool:
        return pid_alive(self.pid, self.root)

    def stop(self, *, timeout: float = 20.0) -> None:
        stop(self.root, timeout=timeout)

    def __enter__(self) -> AsteriskProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _chroot_asterisk(root: Path, *args: str) -> list[str]:
    return ["chroot", str(root), "/usr/sbin/asterisk", *args]


def _env() -> dict[str, str]:
    return {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "TERM": "dumb",
    }


def rx(root: Path, command: str, *, timeout: float = 15.0) -> str:
    """Run ``asterisk -rx command`` inside the root; return stdout. Raises if it fails."""
    root = root_path(root)
    try:
        proc = subprocess.run(
            _chroot_asterisk(root, "-rx", command),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=_env(),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise AsteriskCommandError(f"asterisk -rx {command!r} timed out after {timeout}s") from e
    out = proc.stdout.decode("utf-8", errors="replace")
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", errors="replace").strip() or out.strip()
        raise AsteriskCommandError(
            f"asterisk -rx {command!r} failed (exit {proc.returncode}): {err}"
        )
    return out


def start(
    root: Path,
    bind_mounts: Sequence[Path] = (),
    *,
    timeout: float = 60.0,
) -> AsteriskProcess:
    """Mount, start ``asterisk -f`` chrooted into ``root`` and wait until fully booted.

    Mounts ``/proc`` and ``/dev`` into the root, and each of ``bind_mounts`` (directories) at
    the same absolute path inside it, so absolute sound/recording paths mean the same inside
    and outside. Output goes to ``<root>/var/log/asterisk/console.log`` (the logger writes
    ``messages.log`` next to it). Polls ``core waitfullybooted`` until ``timeout``; on failure
    everything is stopped and unmounted again and the error carries the log's tail.
    """
    root = root_path(root)
    require_ready(root)
    require_superuser("starting the local Asterisk")
    pid = running_pid(root)
    if pid is not None:
        raise AsteriskStartError(f"Asterisk is already running in {root} (pid {pid}); stop it")
    unmount_all(root)  # stale mounts from a crashed run

    binds: list[Path] = []
    for path in bind_mounts:
        src = Path(os.path.abspath(path))
        if not src.is_dir():
            raise AsteriskMountError(f"bind mount source {src} is not a directory")
        if src == root or root in src.parents:
            raise AsteriskMountError(f"cannot bind {src}: it is inside the root {root}")
        binds.append(src)

    made: list[Path] = []
    try:
        for sub, args in (("proc", ["-t", "proc", "proc"]), ("dev", ["--bind", "/dev"])):
            target = root / sub
            target.mkdir(exist_ok=True)
            mount(args, target)
            made.append(target)
        for src in binds:
            target = root / src.relative_to("/")
            target.mkdir(parents=True, exist_ok=True)
            mount(["--bind", str(src)], target)
            made.append(target)

        _ensure_hosts(root)
        for sub in ("run/asterisk", "var/log/asterisk", "var/spool/asterisk", "var/lib/asterisk"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "run/asterisk/asterisk.pid").unlink(missing_ok=True)
        log_path = root / "var/log/asterisk/console.log"
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(
                _chroot_asterisk(root, "-f", "-n"),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_env(),
                start_new_session=True,
            )
        CHILDREN[popen.pid] = popen
        state = {
            "pid": popen.pid,
            "mounts": [str(m) for m in made],
            "log": str(log_path),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (root / STATE_NAME).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        _wait_booted(root, popen, log_path, timeout)
    except OSError as e:  # a file in the root that cannot be written, a missing directory
        try:
            stop(root, timeout=10.0)
        finally:
            unmount_all(root)
        raise AsteriskStartError(f"Asterisk could not be started in {root}: {e}") from e
    except BaseException:
        try:
            stop(root, timeout=10.0)
        finally:
            unmount_all(root)
        raise
    return AsteriskProcess(root, popen.pid, log_path, tuple(made), popen)


def _ensure_hosts(root: Path) -> None:
    """Let the chroot resolve this host's name: Asterisk looks it up when it starts (to find
    its own address), and failing that logs errors and tries a root name server."""
    hosts = root / "etc/hosts"
    name = os.uname().nodename
    try:
        text = hosts.read_text(encoding="utf-8")
    except OSError:
        text = ""
    if any(name in line.split()[1:] for line in text.splitlines() if not line.startswith("#")):
        return
    if "localhost" not in text:
        text += "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    hosts.write_text(text + f"127.0.1.1\t{name}\n", encoding="utf-8")


def _wait_booted(
    root: Path, popen: subprocess.Popen[bytes], log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        rc = popen.poll()
        if rc is not None:
            raise AsteriskStartError(
                f"asterisk exited with {rc} while starting; {log_path} (tail):\n"
                f"{log_tail(log_path)}"
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AsteriskStartError(
                f"asterisk not fully booted after {timeout:.0f}s (last: {last!r}); "
                f"{log_path} (tail):\n{log_tail(log_path)}"
            )
        try:
            out = rx(root, "core waitfullybooted", timeout=max(0.5, min(remaining, 10.0)))
        except AsteriskCommandError as e:
            last = str(e)
        else:
            if "fully booted" in out.lower():
                return
            last = out.strip()
        time.sleep(POLL_SECONDS)


def stop(root: Path, *, timeout: float = 20.0) -> None:
    """Stop the Asterisk running in ``root`` (if any) and unmount everything under ``root``.

    ``core stop now``, then wait; SIGTERM, then SIGKILL if it does not go. Only the process
    whose pid file or state file names it *and* whose root directory is ``root`` is signalled.
    Raises :class:`AsteriskMountError` if mounts are left under the root afterwards.
    """
    root = root_path(root)
    pid = running_pid(root)
    if pid is not None:
        with contextlib.suppress(AsteriskCommandError):
            rx(root, "core stop now", timeout=min(5.0, timeout))
        if not wait_gone(pid, root, timeout):
            signal_pid(pid, root, signal.SIGTERM)
            if not wait_gone(pid, root, 5.0):
                signal_pid(pid, root, signal.SIGKILL)
                if not wait_gone(pid, root, 5.0):
                    raise AsteriskError(f"asterisk (pid {pid}) in {root} survived SIGKILL")
    state_pid = read_state(root).get("pid")
    if isinstance(state_pid, int):
        child = CHILDREN.pop(state_pid, None)
        if child is not None:
            child.wait(timeout=5.0)
    unmount_all(root)
    (root / STATE_NAME).unlink(missing_ok=True)
    (root / "run/asterisk/asterisk.pid").unlink(missing_ok=True)
    left = mounts_under(root)
    if left:
        raise AsteriskMountError(f"mounts left under {root}: {', '.join(map(str, left))}")


def status(root: Path) -> AsteriskStatus:
    """Whether the root is built, whether Asterisk runs in it, its version and the mounts."""
    root = root_path(root)
    st = AsteriskStatus(root=root, ready=is_ready(root), running=False)
    st.mounts = mounts_under(root) if root.exists() else []
    log = root / "var/log/asterisk/console.log"
    st.log_path = log if log.exists() else None
    pid = running_pid(root) if root.exists() else None
    if pid is None:
        return st
    st.running = True
    st.pid = pid
    try:
        st.version = rx(root, "core show version", timeout=5.0).strip()
        st.fully_booted = "fully booted" in rx(root, "core waitfullybooted", timeout=5.0).lower()
    except AsteriskCommandError:
        pass
    return st
