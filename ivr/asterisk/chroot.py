"""Where the local Asterisk's Debian sid root lives and whether it is ready, plus the small
helpers every part of :mod:`ivr.asterisk.local` shares (a host tool run with a clear error, a
log's tail, the superuser check)."""

from __future__ import annotations

import fcntl
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ivr.asterisk.errors import AsteriskError, AsteriskRootError

MARKER_NAME = ".hotline-asterisk-root.json"
ROOT_ENV = "HOTLINE_ASTERISK_ROOT"
MIRROR_ENV = "HOTLINE_DEBIAN_MIRROR"
DEFAULT_SUITE = "sid"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
#: how often the waits here poll (a process gone, mounts gone, Asterisk booted)
POLL_SECONDS = 0.1


def project_dir() -> Path:
    """The project checkout this module lives in."""
    return Path(__file__).resolve().parents[2]


def default_root() -> Path:
    """``$HOTLINE_ASTERISK_ROOT`` if set, else ``<project>/.cache/asterisk-root``."""
    env = os.environ.get(ROOT_ENV, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    return project_dir() / ".cache" / "asterisk-root"


def root_path(root: Path) -> Path:
    """``root`` as an absolute path (not resolved: a symlinked root keeps its name)."""
    return Path(os.path.abspath(root))


def is_ready(root: Path) -> bool:
    """True if ``root`` was built completely by :func:`ensure_root`."""
    root = root_path(root)
    return (root / MARKER_NAME).is_file() and (root / "usr/sbin/asterisk").exists()


def held_by_a_session(root: Path) -> bool:
    """Whether a test session holds the root (tests/e2e take an exclusive lock on
    ``<root>.lock`` for as long as they use it)."""
    try:
        fd = os.open(f"{root}.lock", os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def require_ready(root: Path) -> None:
    """Raise :class:`AsteriskRootError` unless ``root`` is a ready root."""
    if not is_ready(root):
        raise AsteriskRootError(
            f"{root} is not a ready Asterisk root (no {MARKER_NAME}); run ensure_root() first"
        )


def require_superuser(what: str) -> None:
    """Raise :class:`AsteriskError` unless this process runs as root."""
    if os.geteuid() != 0:
        raise AsteriskError(f"{what} needs root (debootstrap, chroot and mount do); run as root")


def run_tool(
    args: Sequence[str], *, timeout: float = 30.0, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a host tool; raise :class:`AsteriskError` on a timeout (or a failure if ``check``)."""
    try:
        proc = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise AsteriskError(f"{' '.join(args)!r} timed out after {timeout:.0f}s") from e
    if check and proc.returncode != 0:
        raise AsteriskError(
            f"{' '.join(args)!r} failed (exit {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()}"
        )
    return proc


def log_tail(path: Path, lines: int = 25) -> str:
    """The last ``lines`` lines of a log file, for an error message."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
