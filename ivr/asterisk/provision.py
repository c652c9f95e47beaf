"""Provisioning the local Asterisk's root: building it with debootstrap (:func:`ensure_root`)
and installing a config into its ``/etc/asterisk`` (:func:`install_config`: a minimal base
loading :data:`DEFAULT_MODULES`, then our files)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ivr.asterisk.chroot import (
    DEFAULT_MIRROR,
    DEFAULT_SUITE,
    MARKER_NAME,
    MIRROR_ENV,
    ROOT_ENV,
    is_ready,
    log_tail,
    require_ready,
    require_superuser,
    root_path,
    run_tool,
)
from ivr.asterisk.errors import AsteriskConfigError, AsteriskRootError
from ivr.asterisk.mounts import rmtree_safely

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
    "app_confbridge.so",
    "app_chanspy.so",
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
    root = root_path(root)
    if is_ready(root):
        return
    require_superuser("building the Asterisk root")
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
        rmtree_safely(partial)
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
            f"--- {log} (tail)\n{log_tail(log)}\n--- {inner} (tail)\n{log_tail(inner)}"
        )
    if not (partial / "usr/sbin/asterisk").exists():
        raise AsteriskRootError(
            f"debootstrap succeeded but {partial}/usr/sbin/asterisk is missing; log: {log}"
        )
    version = run_tool(
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
# the config in /etc/asterisk


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
        # 10,000 ports, two a channel (RTP, RTCP): 5,000 channels, 2,500 talking calls (a
        # narrower range was found to be a box's limit by bench/scale_bench.py: 500 channels)
        "rtp.conf": "[general]\nrtpstart = 10000\nrtpend = 19999\n",
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
    root = root_path(root)
    require_ready(root)
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
        rmtree_safely(etc)
    etc.mkdir(mode=0o755)
    for name, content in files.items():
        mode = 0o600 if name in _SECRET_FILES else 0o644
        fd = os.open(etc / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
    return sorted(files)
