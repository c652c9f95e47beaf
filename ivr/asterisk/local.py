"""A local Asterisk 22 in a chroot, for tests, transcript recording and development.

Asterisk 22 is not packaged for Debian bookworm but sid has it, so we build a small Debian sid
root with ``debootstrap --variant=minbase --include=asterisk`` under a cache directory (default
``<project>/.cache/asterisk-root``, or ``$HOTLINE_ASTERISK_ROOT``) and run ``asterisk -f`` chrooted
into it. Everything here needs root (debootstrap, chroot, mount).

Typical use::

    root = default_root()
    ensure_root(root)                       # about a minute the first time, then a no-op
    install_config(root, Path("asterisk_conf"), {"extensions.conf": "..."})
    with start(root, [project_dir()]) as ast:   # project dir bind-mounted at the same path
        print(ast.rx("core show version"))
    # leaving the block runs stop(root): core stop now, wait, kill if needed, unmount all

The library keeps state in two files inside the root: a marker written only after the root was
built successfully (:data:`MARKER_NAME`) and a state file while Asterisk runs
(:data:`STATE_NAME`, with the pid and the mounts made). :func:`stop` and :func:`status` work
from another process (a CLI) too: they find Asterisk by its pid file and check that the
process really runs inside this root before signalling it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from ivr.errors import HotlineError

__all__ = [
    "DEFAULT_MODULES",
    "MARKER_NAME",
    "STATE_NAME",
    "AsteriskCommandError",
    "AsteriskConfigError",
    "AsteriskError",
    "AsteriskMountError",
    "AsteriskProcess",
    "AsteriskRootError",
    "AsteriskStartError",
    "AsteriskStatus",
    "default_root",
    "ensure_root",
    "install_config",
    "is_ready",
    "log_offset",
    "log_problems",
    "mounts_under",
    "project_dir",
    "reload_config",
    "rx",
    "start",
    "status",
    "stop",
]

MARKER_NAME = ".hotline-asterisk-root.json"
STATE_NAME = ".hotline-asterisk-state.json"
ROOT_ENV = "HOTLINE_ASTERISK_ROOT"
MIRROR_ENV = "HOTLINE_DEBIAN_MIRROR"
DEFAULT_SUITE = "sid"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

#: Modules loaded by the minimal ``modules.conf`` (``autoload=no``). Checked against the
#: Debian sid package of Asterisk 22: every module here loads, none declines.
DEFAULT_MODULES: tuple[str, ...] = (
    # AGI and dialplan
    "res_speech.so",
    "res_agi.so",
    "pbx_config.so",
    "res_clioriginate.so",
    # timing, RTP, PJSIP stack
    "res_timing_timerfd.so",
    "res_rtp_asterisk.so",
    "res_sorcery_config.so",
    "res_sorcery_memory.so",
    "res_sorcery_memory_cache.so",
    "res_sorcery_astdb.so",
    "res_pjproject.so",
    "res_pjsip.so",
    "res_pjsip_session.so",
    "res_pjsip_pubsub.so",
    "res_pjsip_sdp_rtp.so",
    "res_pjsip_caller_id.so",
    "res_pjsip_dtmf_info.so",
    "res_pjsip_nat.so",
    "res_pjsip_rfc3326.so",
    "res_pjsip_diversion.so",
    "res_pjsip_header_funcs.so",
    "res_pjsip_acl.so",
    "res_pjsip_logger.so",
    "res_pjsip_endpoint_identifier_ip.so",
    "res_pjsip_endpoint_identifier_user.so",
    "res_pjsip_authenticator_digest.so",
    "res_pjsip_outbound_authenticator_digest.so",
    "chan_pjsip.so",
    # applications
    "app_dial.so",
    "app_playback.so",
    "app_record.so",
    "app_read.so",
    "app_echo.so",
    "app_verbose.so",
    "app_exec.so",
    "app_senddtmf.so",
    "app_stack.so",
    "app_queue.so",
    "app_playtones.so",
    "app_mixmonitor.so",
    "app_userevent.so",
    "res_musiconhold.so",
    # formats and codecs
    "format_wav.so",
    "format_wav_gsm.so",
    "format_gsm.so",
    "format_pcm.so",
    "format_sln.so",
    "codec_ulaw.so",
    "codec_alaw.so",
    "codec_a_mu.so",
    "codec_gsm.so",
    "codec_resample.so",
    # bridging
    "bridge_simple.so",
    "bridge_softmix.so",
    "bridge_native_rtp.so",
    "bridge_holding.so",
    "bridge_builtin_features.so",
    # functions
    "func_callerid.so",
    "func_channel.so",
    "func_strings.so",
    "func_logic.so",
    "func_math.so",
    "func_cut.so",
    "func_global.so",
    "func_db.so",
    "func_timeout.so",
    "func_hangupcause.so",
    "func_iconv.so",
    "func_sprintf.so",
)

# The package's own sample configs move here the first time install_config runs.
_DIST_DIR = "etc/asterisk.dist"
# Files copied from the package's samples because they are data rather than policy.
_DIST_COPIES = ("indications.conf",)
# Installed files that hold secrets (SIP passwords, the AMI user's): readable by root only
# (Asterisk runs as root in the chroot).
_SECRET_FILES = ("hotline-pjsip.conf", "hotline-manager.conf")
_POLL = 0.1


class AsteriskError(HotlineError):
    """Something about the local Asterisk failed."""

    code = "HL-AST-000"


class AsteriskRootError(AsteriskError):
    """The chroot could not be built (debootstrap failed) or is not usable."""

    code = "HL-AST-001"


class AsteriskStartError(AsteriskError):
    """Asterisk did not start, or did not finish booting in time."""

    code = "HL-AST-002"


class AsteriskCommandError(AsteriskError):
    """``asterisk -rx`` failed (Asterisk not running, or the command timed out)."""

    code = "HL-AST-003"


class AsteriskMountError(AsteriskError):
    """Mounting or unmounting under the root failed, or mounts were left behind."""

    code = "HL-AST-004"


class AsteriskConfigError(AsteriskError):
    """The config to install is invalid (bad file name, module missing from the package)."""

    code = "HL-AST-005"


# --------------------------------------------------------------------------------------------
# paths


def project_dir() -> Path:
    """The project checkout this module lives in."""
    return Path(__file__).resolve().parents[2]


def default_root() -> Path:
    """``$HOTLINE_ASTERISK_ROOT`` if set, else ``<project>/.cache/asterisk-root``."""
    env = os.environ.get(ROOT_ENV, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    return project_dir() / ".cache" / "asterisk-root"


def _root(root: Path) -> Path:
    return Path(os.path.abspath(root))


def is_ready(root: Path) -> bool:
    """True if ``root`` was built completely by :func:`ensure_root`."""
    root = _root(root)
    return (root / MARKER_NAME).is_file() and (root / "usr/sbin/asterisk").exists()


def _require_ready(root: Path) -> None:
    if not is_ready(root):
        raise AsteriskRootError(
            f"{root} is not a ready Asterisk root (no {MARKER_NAME}); run ensure_root() first"
        )


def _require_superuser(what: str) -> None:
    if os.geteuid() != 0:
        raise AsteriskError(f"{what} needs root (debootstrap, chroot and mount do); run as root")


# --------------------------------------------------------------------------------------------
# mounts


def _unescape_mount(path: str) -> str:
    # /proc/self/mountinfo escapes space, tab, newline and backslash as octal (\040 ...)
    out: list[str] = []
    i = 0
    while i < len(path):
        if path[i] == "\\" and i + 3 < len(path) and path[i + 1 : i + 4].isdigit():
            out.append(chr(int(path[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(path[i])
            i += 1
    return "".join(out)


def mounts_under(root: Path) -> list[Path]:
    """Mount points below ``root``, deepest first (the order to unmount them in). ``root``
    itself may be a mount point of the admin's (its own disk, an overlay): that one is not
    ours to unmount."""
    root = _root(root)
    found: list[Path] = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 5:
                continue
            point = Path(_unescape_mount(fields[4]))
            if root in point.parents:
                found.append(point)
    # deepest first; for the same point mounted twice, both entries are kept
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _run(
    args: Sequence[str], *, timeout: float = 30.0, check: bool = True
) -> subprocess.CompletedProcess[str]:
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


def _mount(args: Sequence[str], target: Path) -> None:
    proc = _run(["mount", *args, str(target)], check=False)
    if proc.returncode != 0:
        raise AsteriskMountError(
            f"mount {' '.join(args)} {target} failed: {(proc.stderr or proc.stdout).strip()}"
        )


def _unmount_all(root: Path, *, timeout: float = 10.0) -> None:
    """Unmount everything under ``root`` (deepest first); raise if anything is left."""
    root = _root(root)
    deadline = time.monotonic() + timeout
    while True:
        left = mounts_under(root)
        if not left:
            return
        errors: list[str] = []
        for point in left:
            proc = _run(["umount", str(point)], check=False)
            if proc.returncode != 0:
                errors.append(f"{point}: {(proc.stderr or proc.stdout).strip()}")
        if not mounts_under(root):
            return
        if time.monotonic() >= deadline:
            # Last resort: detach lazily so the host is left clean, then report.
            for point in mounts_under(root):
                _run(["umount", "-l", str(point)], check=False)
            left = mounts_under(root)
            if left:
                raise AsteriskMountError(
                    f"mounts left under {root}: {', '.join(map(str, left))}; "
                    f"errors: {'; '.join(errors)}"
                )
            raise AsteriskMountError(
                f"mounts under {root} were busy and had to be detached lazily (umount -l): "
                f"{'; '.join(errors)}"
            )
        time.sleep(_POLL)


def _rmtree_safely(path: Path) -> None:
    """Remove a directory tree, refusing if anything is mounted inside it."""
    left = mounts_under(path)
    if left:
        raise AsteriskMountError(
            f"refusing to delete {path}: still mounted inside: {', '.join(map(str, left))}"
        )
    shutil.rmtree(path)


# --------------------------------------------------------------------------------------------
# building the root


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def ensure_root(
    root: Path,
    *,
    suite: str = DEFAULT_SUITE,
    mirror: str | None = None,
    timeout: float = 1800.0,
) -> None:
    """Build the Asterisk root with debootstrap if it is not there yet; reuse it if it is.

    The build happens in ``<root>.partial`` and the marker is written there only after
    debootstrap succeeded and ``/usr/sbin/asterisk`` exists; then the directory is renamed to
    ``root``. So ``root`` either does not exist or is complete, and an interrupted build is
    redone next time. Idempotent.
    """
    root = _root(root)
    if is_ready(root):
        return
    _require_superuser("building the Asterisk root")
    if shutil.which("debootstrap") is None:
        raise AsteriskRootError(
            "debootstrap is not installed; install it (apt-get install debootstrap) "
            f"or point ${ROOT_ENV} at a ready root"
        )
    if root.exists():
        if root.is_dir() and not any(root.iterdir()):
            root.rmdir()
        else:
            raise AsteriskRootError(
                f"{root} exists but was not built by ensure_root (no {MARKER_NAME}); "
                "delete it or choose another root"
            )
    mirror = mirror or os.environ.get(MIRROR_ENV, "").strip() or DEFAULT_MIRROR
    root.parent.mkdir(parents=True, exist_ok=True)
    partial = root.with_name(root.name + ".partial")
    if partial.exists():
        _rmtree_safely(partial)
    log = root.with_name(root.name + ".debootstrap.log")
    args = [
        "debootstrap",
        "--variant=minbase",
        "--include=asterisk",
        suite,
        str(partial),
        mirror,
    ]
    with open(log, "w", encoding="utf-8") as out:
        out.write(f"$ {' '.join(args)}\n")
        out.flush()
        try:
            rc = subprocess.run(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired as e:
            raise AsteriskRootError(
                f"debootstrap timed out after {timeout:.0f}s; log: {log}"
            ) from e
    if rc != 0:
        inner = partial / "debootstrap" / "debootstrap.log"
        raise AsteriskRootError(
            f"debootstrap {suite} into {partial} failed (exit {rc}); is {mirror} reachable? "
            f"The partial root is left for inspection and is deleted on the next try.\n"
            f"--- {log} (tail)\n{_tail(log)}\n--- {inner} (tail)\n{_tail(inner)}"
        )
    if not (partial / "usr/sbin/asterisk").exists():
        raise AsteriskRootError(
            f"debootstrap succeeded but {partial}/usr/sbin/asterisk is missing; log: {log}"
        )
    version = _run(
        ["chroot", str(partial), "dpkg-query", "-W", "-f", "${Version}", "asterisk"],
        check=False,
    ).stdout.strip()
    marker = {
        "suite": suite,
        "mirror": mirror,
        "asterisk_package": version,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (partial / MARKER_NAME).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    partial.rename(root)


# --------------------------------------------------------------------------------------------
# config


def _module_dir(root: Path) -> str:
    """The module directory inside the root, as an absolute path in the chroot."""
    for candidate in sorted((root / "usr/lib").glob("*/asterisk/modules")):
        return "/" + str(candidate.relative_to(root))
    if (root / "usr/lib/asterisk/modules").is_dir():
        return "/usr/lib/asterisk/modules"
    raise AsteriskRootError(f"no Asterisk module directory under {root}/usr/lib")


def _base_files(root: Path, modules: Sequence[str]) -> dict[str, str]:
    moddir = _module_dir(root)
    modules_conf = "\n".join(
        [
            "; written by ivr.asterisk.local: load only what the hotline uses",
            "[modules]",
            "autoload=no",
            *(f"load => {m}" for m in modules),
            "",
        ]
    )
    return {
        "asterisk.conf": f"""\
; written by ivr.asterisk.local
[directories]
astcachedir => /var/cache/asterisk
astetcdir => /etc/asterisk
astmoddir => {moddir}
astvarlibdir => /var/lib/asterisk
astdbdir => /var/lib/asterisk
astkeydir => /var/lib/asterisk
astdatadir => /usr/share/asterisk
astagidir => /usr/share/asterisk/agi-bin
astspooldir => /var/spool/asterisk
astrundir => /var/run/asterisk
astlogdir => /var/log/asterisk
astsbindir => /usr/sbin

[options]
nocolor = yes
hideconnect = yes
dontwarn = yes
verbose = 3
debug = 0
""",
        "modules.conf": modules_conf,
        "logger.conf": """\
; written by ivr.asterisk.local
[general]
dateformat = %F %T.%3q

[logfiles]
messages.log => notice,warning,error,verbose
console => notice,warning,error
""",
        # AMI off unless the config installed over this base turns it on (asterisk_conf/
        # manager.conf includes the generated hotline-manager.conf: the callback dialler's)
        "manager.conf": "[general]\nenabled = no\n",
        "cdr.conf": "[general]\nenable = no\n",
        "cel.conf": "[general]\nenable = no\n",
        "rtp.conf": "[general]\nrtpstart = 20000\nrtpend = 20999\n",
        "musiconhold.conf": (
            "[default]\nmode = playlist\nentry => /usr/share/asterisk/sounds/en/tt-monkeys\n"
        ),
        "pjsip.conf": "; no endpoints\n",
        "extensions.conf": "[general]\nstatic = yes\nwriteprotect = yes\n\n[default]\n",
        "features.conf": "[general]\n",
        "ccss.conf": "[general]\n",
        "udptl.conf": "[general]\n",
        "acl.conf": "",
        "queues.conf": "[general]\n",
        "queuerules.conf": "[general]\n",
        "pjproject.conf": "[startup]\nlog_level = 1\n",
    }


def _check_name(name: str) -> None:
    if not name or "/" in name or name in (".", "..") or name.startswith("."):
        raise AsteriskConfigError(f"config file name {name!r} must be a plain file name")


def install_config(
    root: Path,
    conf_dir: Path | None = None,
    extra_files: Mapping[str, str] | None = None,
    *,
    modules: Sequence[str] = DEFAULT_MODULES,
) -> list[str]:
    """Replace ``/etc/asterisk`` in the root with a minimal config plus ours.

    The package's sample configs are moved to ``/etc/asterisk.dist`` the first time (they would
    make startup slow and noisy). Then ``/etc/asterisk`` gets, in this order, each overriding
    the one before: a minimal base (``asterisk.conf``, ``modules.conf`` with ``autoload=no``
    and ``modules``, ``logger.conf`` and quiet defaults), every ``*.conf`` in ``conf_dir``, and
    ``extra_files`` (file name -> content). Takes effect at the next :func:`start` (or a
    ``reload``). Returns the installed file names, sorted.
    """
    root = _root(root)
    _require_ready(root)
    moddir = root / _module_dir(root).lstrip("/")
    missing = [m for m in modules if not (moddir / m).is_file()]
    if missing:
        raise AsteriskConfigError(
            f"modules not in the Asterisk package under {moddir}: {', '.join(missing)}"
        )
    files = _base_files(root, modules)
    dist = root / _DIST_DIR
    etc = root / "etc/asterisk"
    if not dist.exists():
        if not etc.is_dir():
            raise AsteriskRootError(f"{etc} is missing; the root looks broken")
        etc.rename(dist)
    for name in _DIST_COPIES:
        src = dist / name
        if src.is_file():
            files[name] = src.read_text(encoding="utf-8", errors="replace")
    if conf_dir is not None:
        if not conf_dir.is_dir():
            raise AsteriskConfigError(f"config directory {conf_dir} does not exist")
        for path in sorted(conf_dir.glob("*.conf")):
            files[path.name] = path.read_text(encoding="utf-8")
    for name, content in (extra_files or {}).items():
        _check_name(name)
        files[name] = content
    if etc.exists():
        _rmtree_safely(etc)
    etc.mkdir(mode=0o755)
    for name, content in files.items():
        mode = 0o600 if name in _SECRET_FILES else 0o644
        fd = os.open(etc / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
    return sorted(files)


# --------------------------------------------------------------------------------------------
# running


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
        return _pid_alive(self.pid, self.root)

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


# Children this process started, to reap them (no zombies) and know their exit status.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _pid_alive(pid: int, root: Path) -> bool:
    """True if ``pid`` is a live (not zombie) process whose root directory is ``root``."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        _CHILDREN.pop(pid, None)
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return False
        return os.readlink(f"/proc/{pid}/root") == str(_root(root))
    except (OSError, IndexError):
        return False


def _read_state(root: Path) -> dict[str, object]:
    try:
        data = json.loads((root / STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _running_pid(root: Path) -> int | None:
    """The pid of an Asterisk running in ``root``, from its pid file or our state file."""
    root = _root(root)
    candidates: list[int] = []
    with contextlib.suppress(OSError, ValueError):
        candidates.append(int((root / "run/asterisk/asterisk.pid").read_text().strip()))
    pid = _read_state(root).get("pid")
    if isinstance(pid, int):
        candidates.append(pid)
    for pid in candidates:
        if _pid_alive(pid, root):
            return pid
    return None


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
    root = _root(root)
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
    root = _root(root)
    _require_ready(root)
    _require_superuser("starting the local Asterisk")
    pid = _running_pid(root)
    if pid is not None:
        raise AsteriskStartError(f"Asterisk is already running in {root} (pid {pid}); stop it")
    _unmount_all(root)  # stale mounts from a crashed run

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
            _mount(args, target)
            made.append(target)
        for src in binds:
            target = root / src.relative_to("/")
            target.mkdir(parents=True, exist_ok=True)
            _mount(["--bind", str(src)], target)
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
        _CHILDREN[popen.pid] = popen
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
            _unmount_all(root)
        raise AsteriskStartError(f"Asterisk could not be started in {root}: {e}") from e
    except BaseException:
        try:
            stop(root, timeout=10.0)
        finally:
            _unmount_all(root)
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
                f"asterisk exited with {rc} while starting; {log_path} (tail):\n{_tail(log_path)}"
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AsteriskStartError(
                f"asterisk not fully booted after {timeout:.0f}s (last: {last!r}); "
                f"{log_path} (tail):\n{_tail(log_path)}"
            )
        try:
            out = rx(root, "core waitfullybooted", timeout=max(0.5, min(remaining, 10.0)))
        except AsteriskCommandError as e:
            last = str(e)
        else:
            if "fully booted" in out.lower():
                return
            last = out.strip()
        time.sleep(_POLL)


def stop(root: Path, *, timeout: float = 20.0) -> None:
    """Stop the Asterisk running in ``root`` (if any) and unmount everything under ``root``.

    ``core stop now``, then wait; SIGTERM, then SIGKILL if it does not go. Only the process
    whose pid file or state file names it *and* whose root directory is ``root`` is signalled.
    Raises :class:`AsteriskMountError` if mounts are left under the root afterwards.
    """
    root = _root(root)
    pid = _running_pid(root)
    if pid is not None:
        with contextlib.suppress(AsteriskCommandError):
            rx(root, "core stop now", timeout=min(5.0, timeout))
        if not _wait_gone(pid, root, timeout):
            _signal(pid, root, signal.SIGTERM)
            if not _wait_gone(pid, root, 5.0):
                _signal(pid, root, signal.SIGKILL)
                if not _wait_gone(pid, root, 5.0):
                    raise AsteriskError(f"asterisk (pid {pid}) in {root} survived SIGKILL")
    state_pid = _read_state(root).get("pid")
    if isinstance(state_pid, int):
        child = _CHILDREN.pop(state_pid, None)
        if child is not None:
            child.wait(timeout=5.0)
    _unmount_all(root)
    (root / STATE_NAME).unlink(missing_ok=True)
    (root / "run/asterisk/asterisk.pid").unlink(missing_ok=True)
    left = mounts_under(root)
    if left:
        raise AsteriskMountError(f"mounts left under {root}: {', '.join(map(str, left))}")


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
        return (_root(root) / "var/log/asterisk/messages.log").stat().st_size
    except OSError:
        return 0


def log_problems(root: Path, offset: int = 0) -> list[str]:
    """WARNING and ERROR lines ``messages.log`` got after ``offset``."""
    path = _root(root) / "var/log/asterisk/messages.log"
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


def _signal(pid: int, root: Path, sig: signal.Signals) -> None:
    if _pid_alive(pid, root):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _wait_gone(pid: int, root: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid, root):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True


def status(root: Path) -> AsteriskStatus:
    """Whether the root is built, whether Asterisk runs in it, its version and the mounts."""
    root = _root(root)
    st = AsteriskStatus(root=root, ready=is_ready(root), running=False)
    st.mounts = mounts_under(root) if root.exists() else []
    log = root / "var/log/asterisk/console.log"
    st.log_path = log if log.exists() else None
    pid = _running_pid(root) if root.exists() else None
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
