"""The Asterisk 22 configuration of the hotline: static files plus the parts generated from
the admin config.

``asterisk_conf/`` holds the static files (the dialplan's failover layers, PJSIP templates,
the static queue, modules). They ``#include`` files that :func:`generate` writes from the admin
config, so that nobody keeps two copies in sync by hand:

=============================  ==============================================================
``hotline-globals.conf``       the hotline number, FastAGI URLs, the process AGI command line
``hotline-inbound.conf``       ``[hotline-inbound]``: 12345, every legacy number and alias of
                               ``lines.yaml`` (also with the area code), and a catch-all
``hotline-pjsip.conf``         ``[global]``, the UDP transport, the carrier trunk, one endpoint per
                               operator with a ``sip`` account in ``agents.yaml``
``hotline-queue-members.conf`` the static queue's members (every operator's ``interface``)
``hotline-operators.conf``     ``[operators]``: what operators' softphones may dial
``hotline-moh.conf``           the music-on-hold class ``default`` (``recordings/moh``)
``hotline-callback.conf``      ``[hotline-callback]``: the callback dialler's dialplan (queue.yaml
                               ``dialler``): dials the citizen through the trunk once the
                               operator answered, and reports with ``UserEvent``
``hotline-transfer.conf``      ``[hotline-transfer]``, ``[hotline-consult]``: the conference
                               rooms of the operators' transfers (queue.yaml ``transfers``)
``hotline-manager.conf``       AMI for the callback dialler and the transfers: 127.0.0.1
                               only, one user with the rights they need (``enabled = no``
                               when the dialler is off)
``hotline-http.conf``          Asterisk's HTTP server for the browser phones' WebSocket (ws
                               on loopback, wss with a certificate; :mod:`conf_webrtc`)
=============================  ==============================================================

The options :func:`generate` takes besides the admin config (operators and their passwords,
the AMI user, the FastAGI URLs) are made in :mod:`ivr.asterisk.conf_options`; the files
themselves in :mod:`ivr.asterisk.conf_generated`. This module is the one import for callers
(``hotline asterisk-conf``, ``hotline asterisk``, the end-to-end tests): it re-exports those
modules' public names and adds the static files, :func:`write` and the hold music.

Operators come from ``config/agents.yaml`` (see :func:`load_agents`); their SIP passwords
from ``env:NAME`` or ``file:/path``; for the local development Asterisk an unset variable gets
a random password kept in ``var/asterisk-secrets.json`` (mode 0600). The AMI user's secret is
``dialler.secret`` of queue.yaml (``env:HOTLINE_AMI_SECRET``); when that variable is not set, a
random one is made once per install into ``var/ami-secret`` (mode 0600), where ``hotline
serve`` finds it too (:func:`ami_user`).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ivr.asterisk.chroot import project_dir
from ivr.asterisk.conf_generated import GENERATED_FILES, STATIC_QUEUE, dialled_numbers, generate
from ivr.asterisk.conf_options import (
    DEV_CALLER,
    DEV_SECRETS_FILE,
    Agent,
    AmiUser,
    ConfOptions,
    ProcessAGI,
    ami_user,
    default_agi_urls,
    dev_caller_password,
    load_agents,
    process_agi_for,
    process_agi_for_paths,
    stored_password,
)
from ivr.asterisk.ws_options import WebSocketOptions, websocket_from_env
from ivr.config.bundle import ConfigBundle

__all__ = [
    "DEV_CALLER",
    "DEV_SECRETS_FILE",
    "GENERATED_FILES",
    "SECRET_FILES",
    "STATIC_QUEUE",
    "Agent",
    "AmiUser",
    "ConfOptions",
    "ProcessAGI",
    "WebSocketOptions",
    "ami_user",
    "default_agi_urls",
    "dev_caller_password",
    "dialled_numbers",
    "ensure_moh",
    "generate",
    "load_agents",
    "numbers_summary",
    "process_agi_for",
    "process_agi_for_paths",
    "static_dir",
    "static_files",
    "static_modules",
    "stored_password",
    "websocket_from_env",
    "write",
]

SECRET_FILES = ("hotline-manager.conf",)


def static_dir() -> Path:
    """``asterisk_conf/`` of this checkout."""
    return project_dir() / "asterisk_conf"


def static_files(directory: Path | None = None) -> dict[str, str]:
    """The static ``*.conf`` files, name -> content."""
    directory = directory or static_dir()
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.conf"))}


def static_modules(directory: Path | None = None) -> list[str]:
    """The modules that ``asterisk_conf/modules.conf`` loads, in order."""
    text = ((directory or static_dir()) / "modules.conf").read_text(encoding="utf-8")
    found = []
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        m = re.match(r"^(?:load|require)\s*=>?\s*(\S+\.so)$", line)
        if m:
            found.append(m.group(1))
    return found


def write(out_dir: Path, files: Mapping[str, str]) -> list[Path]:
    """Write ``files`` into ``out_dir`` (created); return the paths written. The files of
    :data:`SECRET_FILES` are readable by owner and group only (give Asterisk's group the
    file: ``chgrp asterisk``; a file that exists keeps its owner and group)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = out_dir / name
        if name in SECRET_FILES:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            os.fchmod(fd, stat.S_IMODE(os.fstat(fd).st_mode) & 0o640)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(content)
        else:
            path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def ensure_moh(directory: Path) -> Path | None:
    """Put a soft two-tone hold sound into ``directory`` if it holds no sound yet (sox).

    Returns the file made, or None if there was one already (or sox is missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    if any(
        p.suffix.lower() in (".wav", ".gsm", ".sln", ".ulaw", ".alaw") for p in directory.iterdir()
    ):
        return None
    sox = shutil.which("sox")
    if sox is None:
        return None
    target = directory / "hotline-hold.wav"
    subprocess.run(
        [
            *(sox, "-n", "-r", "8000", "-c", "1", "-b", "16", str(target)),
            *("synth", "0.8", "sine", "523.25", "fade", "0.05", "0.8", "0.4"),
            *("pad", "0", "1.2", "repeat", "14", "vol", "0.25"),
        ],
        check=True,
        capture_output=True,
    )
    return target


def numbers_summary(bundle: ConfigBundle, limit: int = 6) -> str:
    """``12345, 12393 (merged), ...`` for humans."""
    parts = [bundle.lines.hotline.number]
    seen: set[str] = set()
    for line in bundle.lines.lines:
        if line.mode.value in seen and len(parts) >= limit:
            continue
        seen.add(line.mode.value)
        parts.append(f"{line.number} ({line.mode.value}, {line.name})")
        if len(parts) >= limit:
            break
    return ", ".join(parts)
